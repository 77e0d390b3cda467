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
    high: np.ndarray
    low: np.ndarray
    bad: np.ndarray
    base: np.ndarray | None = None
    """Mean of the unfiltered signal per bin (EMG), where the low band of cable and contact artifacts shows."""

    @property
    def absmax(self) -> np.ndarray:
        return np.maximum(self.high, -self.low)


class BinnedEnvelope:
    """Moving RMS over ``window_bins`` bins of ``bin_samples`` samples each, per lane.

    Samples that do not fill a bin are carried to the next call, and the
    moving average carries its FIR state, so output is identical for any
    chunking. ``high``/``low`` are the largest and smallest sample in each
    bin (peak amplitudes, and the balance of a potential's phases); ``bad`` marks bins holding any clipped or gap-filled sample.
    """

    def __init__(self, lanes: list[list[int]], bin_samples: int, window_bins: int) -> None:
        self.lanes = lanes
        self.bin_samples = bin_samples
        self.window_bins = max(1, window_bins)
        self._taps = np.full(self.window_bins, 1.0 / self.window_bins, dtype=np.float32)
        self._zi = np.zeros((len(lanes), self.window_bins - 1), dtype=np.float32)
        self._rest: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._next_bin = 0
        self._identity = lanes == [[i] for i in range(len(lanes))]

    def __call__(self, y: np.ndarray, bad: np.ndarray, raw: np.ndarray | None = None) -> EnvelopeChunk:
        """``y``: channels × samples (filtered); ``bad``: channels × samples bool; ``raw``: the same
        samples unfiltered, when the chunk should carry their per-bin mean (``base``)."""
        if self._rest is not None:
            y = np.concatenate([self._rest[0], y], axis=1)
            bad = np.concatenate([self._rest[1], bad], axis=1)
            if raw is not None:
                raw = np.concatenate([self._rest[2], raw], axis=1)
        b = self.bin_samples
        nb = y.shape[1] // b
        used = nb * b
        self._rest = (y[:, used:], bad[:, used:], raw[:, used:] if raw is not None else None)
        y, bad = y[:, :used], bad[:, :used]
        base = None
        if raw is not None:
            base = raw[:, 0:used:b].astype(np.float32)
            for k in range(1, b):
                base += raw[:, k:used:b]
            base /= b
        sq = np.square(y)
        ms_rows, hi_rows, lo_rows = sq[:, 0::b].copy(), y[:, 0::b].copy(), y[:, 0::b].copy()
        for k in range(1, b):  # b is small (2 at 2 kHz): strided adds beat a reshape-reduce
            ms_rows += sq[:, k::b]
            np.maximum(hi_rows, y[:, k::b], out=hi_rows)
            np.minimum(lo_rows, y[:, k::b], out=lo_rows)
        ms_rows /= b
        bad_rows = np.zeros(ms_rows.shape, dtype=bool)
        if bad.any():
            bad_rows = bad.reshape(bad.shape[0], nb, b).any(axis=2)
        if self._identity:
            mean_sq, high, low, lane_bad = ms_rows, hi_rows, lo_rows, bad_rows
        else:
            # Row sums lane by lane (not a matrix product): BLAS may sum in a size-dependent order.
            mean_sq = np.stack([ms_rows[rows].sum(axis=0) for rows in self.lanes])
            high = np.stack([hi_rows[rows].max(axis=0) for rows in self.lanes])
            low = np.stack([lo_rows[rows].min(axis=0) for rows in self.lanes])
            lane_bad = np.stack([bad_rows[rows].any(axis=0) for rows in self.lanes])
        if self.window_bins > 1 and nb:
            smooth, self._zi = signal.lfilter(self._taps, [1.0], mean_sq, axis=-1, zi=self._zi)
        else:
            smooth = mean_sq
        env = np.sqrt(np.maximum(smooth, 0.0)).astype(np.float32)
        chunk = EnvelopeChunk(self._next_bin, env, high, low, lane_bad, base)
        self._next_bin += nb
        return chunk
