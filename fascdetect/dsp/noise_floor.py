"""A robust running noise floor per lane, so thresholds follow each channel's own noise.

The envelope is cut into frames (0.25 s); a frame's median is its noise
level, untouched by the brief events inside it. The floor is the median of
the last ``noise_history_frames`` accepted frame levels. A frame whose level
exceeds the floor by ``noise_reject_factor`` holds sustained activity (a
cramp, movement) and is kept out, so a minute-long cramp does not raise its
own threshold; after ``noise_max_hold_s`` of rejections the floor gives in,
because the noise itself has changed (a loosened electrode).
"""

from __future__ import annotations

import numpy as np

from fascdetect import jit
from fascdetect.dsp import floor_compiled


class RunningFloor:
    def __init__(self, n_lanes: int, frame_bins: int, history: int, reject_factor: float, max_hold_frames: int,
                 compiled: bool = jit.ENABLED) -> None:
        """``compiled``: run the frame recursion with ``dsp.floor_compiled`` (numba); the same floors."""
        self.compiled = compiled and floor_compiled.floor_frames is not None
        self.frame_bins = frame_bins
        self.reject_factor = reject_factor
        self.max_hold_frames = max_hold_frames
        # An odd length makes the median a single partition.
        self._ring = np.zeros((n_lanes, history | 1), dtype=np.float32)
        self._lanes = np.arange(n_lanes)
        self._pos = np.zeros(n_lanes, dtype=np.int64)
        self._held = np.zeros(n_lanes, dtype=np.int64)
        self.floor = np.zeros(n_lanes, dtype=np.float32)

    def prime(self, frame_levels: np.ndarray) -> None:
        """Start from the first frames' levels (lanes × frames) before detection begins."""
        initial = np.median(frame_levels, axis=1).astype(np.float32)
        self._ring[:] = initial[:, None]
        self._set_floor()

    def update(self, level: np.ndarray, bad: np.ndarray) -> None:
        """Take one completed frame's levels; frames with clipped/gap samples never count.

        Called once per frame for hours of signal, so it is kept to a few numpy calls.
        """
        if self.compiled:
            self.update_many(level.reshape(-1, 1), bad.reshape(-1, 1))
            return
        quiet = level <= self.reject_factor * self.floor
        # Once held for too long, frames keep being taken until the floor has caught up.
        accept = (quiet | (self._held >= self.max_hold_frames)) & ~bad
        if quiet.all() and accept.all():
            self._ring[self._lanes, self._pos % self._ring.shape[1]] = level
            self._pos += 1
            self._held[:] = 0
        else:
            lanes = np.flatnonzero(accept)
            self._ring[lanes, self._pos[lanes] % self._ring.shape[1]] = level[lanes]
            self._pos[lanes] += 1
            self._held = np.where(quiet | bad, 0, self._held + 1)
            if not lanes.size:
                return
        self._set_floor()

    def update_many(self, levels: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """Take K completed frames (lanes × K); return the floor in force at the start of each.

        Exactly ``update`` frame by frame, but fast in the usual case: the
        floors are computed for all frames at once as if every frame were
        accepted (a sliding median over history + new levels), and checked;
        only from the first frame that is not accepted on does it step frame
        by frame.
        """
        n_lanes, k = levels.shape
        if self.compiled:
            out = np.empty((n_lanes, k), dtype=np.float32)
            floor_compiled.floor_frames(levels.astype(np.float32, copy=False), bad, self._ring, self._pos, self._held,
                                   self.floor, np.float32(self.reject_factor), self.max_hold_frames, out)
            return out
        h = self._ring.shape[1]
        history = np.take_along_axis(self._ring, (self._pos[:, None] + np.arange(h)) % h, axis=1)
        ext = np.concatenate([history, levels.astype(np.float32)], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(ext, h, axis=1)[:, :k]
        floors = np.maximum(np.partition(windows, h // 2, axis=2)[:, :, h // 2], np.float32(1e-6))
        ok = ((levels <= self.reject_factor * floors) & ~bad).all(axis=0)
        first_bad = int(np.argmin(ok)) if not ok.all() else k
        if first_bad:
            self._ring = np.ascontiguousarray(ext[:, first_bad:first_bad + h])
            self._pos[:] = 0
            self._held[:] = 0
            self._set_floor()
        out = np.empty((n_lanes, k), dtype=np.float32)
        out[:, :first_bad] = floors[:, :first_bad]
        for j in range(first_bad, k):
            out[:, j] = self.floor
            self.update(levels[:, j], bad[:, j])
        return out

    def _set_floor(self) -> None:
        middle = self._ring.shape[1] // 2
        median = np.partition(self._ring, middle, axis=1)[:, middle]
        # A floor of exactly zero (digital silence) would make every sample an event.
        self.floor = np.maximum(median, np.float32(1e-6))
