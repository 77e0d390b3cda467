"""Hysteresis segmentation of envelopes against each lane's running noise floor.

An event starts where the envelope exceeds ``threshold_on`` × floor and
ends where it falls below ``threshold_off`` × floor. Runs open at a chunk's
end are carried over, so segment boundaries do not depend on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fascdetect.dsp.envelope import EnvelopeChunk
from fascdetect.dsp.noise_floor import RunningFloor


@dataclass(frozen=True)
class Segment:
    """One supra-threshold run on one lane, in envelope bins (global indices, end exclusive)."""

    lane: int
    start: int
    end: int
    peak: float
    """Largest absolute filtered sample, in the lane's unit."""
    mean_env: float
    """Mean RMS envelope over the run, in the lane's unit."""
    snr: float
    """Peak envelope over the noise floor."""
    bad: bool
    """Touches clipped or gap-filled samples."""


@dataclass
class _Open:
    start: int
    peak: float
    env_sum: float
    env_max: float
    n: int
    has_on: bool
    bad: bool
    floor: float


class RunTracker:
    """Hysteresis over per-bin thresholds, carrying runs that are open at a chunk's end."""

    def __init__(self, n_lanes: int, tail_bins: int) -> None:
        self.n_lanes = n_lanes
        self.tail_bins = tail_bins
        self._open: list[_Open | None] = [None] * n_lanes
        self._last_bad = np.zeros(n_lanes, dtype=bool)

    def open_starts_by_lane(self) -> list[int | None]:
        """Start bin of each lane's open run, or None (open runs are not final yet)."""
        return [None if o is None else o.start for o in self._open]

    def feed(self, chunk: EnvelopeChunk, thr_on: np.ndarray, thr_off: np.ndarray, floor: np.ndarray) -> list[Segment]:
        """Thresholds and floor are lanes × bins, in the envelope's unit."""
        out: list[Segment] = []
        for lane in range(self.n_lanes):
            out.extend(self._runs(lane, chunk, thr_on[lane], thr_off[lane], floor[lane]))
        return out

    def finish(self, end_bin: int) -> list[Segment]:
        out = []
        for lane, run in enumerate(self._open):
            if run is not None:
                out.extend(self._close(lane, run, end_bin))
        self._open = [None] * self.n_lanes
        return out

    def _runs(self, lane: int, chunk: EnvelopeChunk, thr_on: np.ndarray, thr_off: np.ndarray,
              floor: np.ndarray) -> list[Segment]:
        env, absmax, bad = chunk.env[lane], chunk.absmax[lane], chunk.bad[lane]
        above = (env > thr_off) & ~bad
        on = env > thr_on
        nb = env.size
        edges = np.diff(np.concatenate(([0], above.view(np.int8), [0])))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        out: list[Segment] = []
        run = self._open[lane]
        if run is not None and (starts.size == 0 or starts[0] != 0):
            # The carried run ended right at the chunk boundary.
            run.bad |= bool(bad[0])
            out.extend(self._close(lane, run, chunk.start))
            run = None
        for s, e in zip(starts.tolist(), ends.tolist()):
            seg_env = env[s:e]
            part = _Open(
                start=chunk.start + s,
                peak=float(absmax[s:e].max()),
                env_sum=float(seg_env.sum(dtype=np.float64)),
                env_max=float(seg_env.max()),
                n=e - s,
                has_on=bool(on[s:e].any()),
                # A run cut short by a clipped or gap-filled bin is not a whole event.
                bad=bool(bad[s - 1] if s else self._last_bad[lane]) or bool(e < nb and bad[e]),
                floor=float(floor[s]),
            )
            if s == 0 and run is not None:
                part = _Open(run.start, max(run.peak, part.peak), run.env_sum + part.env_sum,
                             max(run.env_max, part.env_max), run.n + part.n, run.has_on or part.has_on,
                             run.bad or part.bad, run.floor)
            run = None
            if e == nb:
                run = part
            else:
                out.extend(self._close(lane, part, chunk.start + e))
        self._open[lane] = run
        self._last_bad[lane] = bad[-1]
        return out

    def _close(self, lane: int, run: _Open, end: int) -> list[Segment]:
        if not run.has_on:
            return []
        # The trailing moving-average window keeps the envelope up after the activity stops.
        end = max(run.start + 1, end - self.tail_bins)
        return [Segment(lane, run.start, end, run.peak, run.env_sum / run.n, run.env_max / run.floor, run.bad)]

class Segmenter:
    """Turns envelope chunks into Segments against a running noise floor.

    The first ``probe_frames`` frames are held back to prime the noise floor
    (a threshold needs a floor), then detection runs over them too.
    """

    def __init__(self, n_lanes: int, frame_bins: int, probe_frames: int, floor: RunningFloor,
                 threshold_on: float, threshold_off: float, tail_bins: int) -> None:
        self.n_lanes = n_lanes
        self.runs = RunTracker(n_lanes, tail_bins)
        self.frame_bins = frame_bins
        self.probe_frames = max(1, probe_frames)
        self.floor = floor
        self.on = threshold_on
        self.off = threshold_off
        self._primed = False
        self._pending: list[EnvelopeChunk] = []
        self._frame_env: list[np.ndarray] = []
        self._frame_bad: list[np.ndarray] = []
        self._frame_fill = 0
        self._next_bin = 0

    @property
    def primed(self) -> bool:
        return self._primed

    @property
    def done_bin(self) -> int:
        """Bins before this index are fully processed."""
        return self._next_bin

    def feed(self, chunk: EnvelopeChunk) -> list[Segment]:
        if self._primed:
            return self._detect(chunk)
        self._pending.append(chunk)
        have = sum(c.env.shape[1] for c in self._pending)
        if have >= self.probe_frames * self.frame_bins:
            return self._prime()
        return []

    def finish(self) -> list[Segment]:
        """End of stream: prime with whatever there is, close open runs."""
        out = [] if self._primed else self._prime()
        return out + self.runs.finish(self._next_bin)

    def _prime(self) -> list[Segment]:
        """Floor from exactly the first probe frames (fewer at a short stream's end), whatever the chunking."""
        env = np.concatenate([c.env for c in self._pending], axis=1)
        frames = min(self.probe_frames, env.shape[1] // self.frame_bins)
        if frames:
            probe = env[:, :frames * self.frame_bins].reshape(self.n_lanes, frames, self.frame_bins)
            self.floor.prime(np.median(probe, axis=2))
        elif env.shape[1]:
            self.floor.prime(np.median(env, axis=1, keepdims=True))
        self._primed = True
        pending, self._pending = self._pending, []
        return [s for c in pending for s in self._detect(c)]

    def _detect(self, chunk: EnvelopeChunk) -> list[Segment]:
        nb = chunk.env.shape[1]
        if nb == 0:
            return []
        floor = self._floors(chunk)
        self._next_bin = chunk.start + nb
        return self.runs.feed(chunk, self.on * floor, self.off * floor, floor)

    def _floors(self, chunk: EnvelopeChunk) -> np.ndarray:
        """Floor per bin: the floor as it stood when each bin's frame began."""
        nb = chunk.env.shape[1]
        floors = np.empty((self.n_lanes, nb), dtype=np.float32)
        i = 0
        while i < nb:
            take = min(nb - i, self.frame_bins - self._frame_fill)
            floors[:, i:i + take] = self.floor.floor[:, None]
            self._frame_env.append(chunk.env[:, i:i + take])
            self._frame_bad.append(chunk.bad[:, i:i + take])
            self._frame_fill += take
            i += take
            if self._frame_fill == self.frame_bins:
                env = np.concatenate(self._frame_env, axis=1)
                bad = np.concatenate(self._frame_bad, axis=1).any(axis=1)
                self.floor.update(np.median(env, axis=1), bad)
                self._frame_env, self._frame_bad, self._frame_fill = [], [], 0
        return floors
