"""Binned moving-RMS envelopes, computed chunk by chunk.

Filtered samples are squared and averaged on short bins (1 ms by default),
then a moving average of a few bins gives the RMS envelope. Bins keep the
rest of the pipeline at a fixed, low rate without smoothing away a 3 ms
potential (peers that smooth over 50 ms-1 s hide twitches). A lane is one
or more rows combined: one EMG channel, or the three axes of an accelerometer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class EnvelopeChunk:
    """Envelope bins produced by one call: lanes × bins, starting at global bin ``start``."""

    start: int
    env: np.ndarray
    absmax: np.ndarray
    bad: np.ndarray


class BinnedEnvelope:
    """Moving RMS over ``window_bins`` bins of ``bin_samples`` samples each, per lane.

    Samples that do not fill a bin are carried to the next call, and the
    moving average carries its FIR state, so output is identical for any
    chunking. ``absmax`` is the largest absolute sample in each bin (for peak
    amplitudes); ``bad`` marks bins holding any clipped or gap-filled sample.
    """

    def __init__(self, lanes: list[list[int]], bin_samples: int, window_bins: int) -> None:
        self.lanes = lanes
        self.bin_samples = bin_samples
        self.window_bins = max(1, window_bins)
        self._taps = np.full(self.window_bins, 1.0 / self.window_bins, dtype=np.float32)
        self._zi = np.zeros((len(lanes), self.window_bins - 1), dtype=np.float32)
        self._rest: tuple[np.ndarray, np.ndarray] | None = None
        self._next_bin = 0

    def __call__(self, y: np.ndarray, bad: np.ndarray) -> EnvelopeChunk:
        """``y``: channels × samples (filtered); ``bad``: channels × samples bool."""
        if self._rest is not None:
            y = np.concatenate([self._rest[0], y], axis=1)
            bad = np.concatenate([self._rest[1], bad], axis=1)
        b = self.bin_samples
        nb = y.shape[1] // b
        used = nb * b
        self._rest = (y[:, used:], bad[:, used:])
        y, bad = y[:, :used], bad[:, :used]
        n_lanes = len(self.lanes)
        mean_sq = np.empty((n_lanes, nb), dtype=np.float32)
        absmax = np.empty((n_lanes, nb), dtype=np.float32)
        lane_bad = np.empty((n_lanes, nb), dtype=bool)
        for i, rows in enumerate(self.lanes):
            part = y[rows].reshape(len(rows), nb, b)
            mean_sq[i] = np.square(part).sum(axis=(0, 2)) / b
            absmax[i] = np.abs(part).max(axis=(0, 2)) if nb else 0
            lane_bad[i] = bad[rows].reshape(len(rows), nb, b).any(axis=(0, 2))
        if self.window_bins > 1:
            smooth, self._zi = signal.lfilter(self._taps, [1.0], mean_sq, axis=-1, zi=self._zi)
        else:
            smooth = mean_sq
        env = np.sqrt(np.maximum(smooth, 0.0)).astype(np.float32)
        chunk = EnvelopeChunk(self._next_bin, env, absmax, lane_bad)
        self._next_bin += nb
        return chunk
