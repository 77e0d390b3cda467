"""Preallocated ring buffer of filtered samples and min/max decimation for drawing.

The monitor keeps hours running: memory must not grow with time, and a
frame must not draw more points than the screen has pixel columns.
"""

from __future__ import annotations

import threading

import numpy as np


class SampleRing:
    """The last ``capacity`` samples of ``n_channels`` channels at one rate.

    ``end`` is the absolute index (since stream start) one past the newest
    sample. ``write`` is called by the worker thread and ``window`` by the
    UI thread; a lock keeps a frame from seeing half a block.
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        self.data = np.zeros((n_channels, capacity), dtype=np.float32)
        self.capacity = capacity
        self.end = 0
        self._lock = threading.Lock()

    def write(self, samples: np.ndarray, start: int) -> None:
        """Store ``samples`` (channels × n) whose first sample has absolute index ``start``.

        Blocks arrive contiguous (the pipeline refuses anything else), so no hole is ever left.
        """
        n = samples.shape[1]
        if n > self.capacity:
            samples, start, n = samples[:, -self.capacity:], start + n - self.capacity, self.capacity
        with self._lock:
            self._put(samples, start)
            self.end = max(self.end, start + n)

    def _put(self, samples: np.ndarray, start: int) -> None:
        n = samples.shape[1]
        lo = start % self.capacity
        first = min(n, self.capacity - lo)
        self.data[:, lo:lo + first] = samples[:, :first]
        self.data[:, :n - first] = samples[:, first:]

    def window(self, start: int, stop: int, rows: list[int] | None = None) -> tuple[np.ndarray, int]:
        """A copy of samples ``start``..``stop`` (absolute, clipped to what is held) and its first index."""
        with self._lock:
            stop = min(stop, self.end)
            start = max(start, self.end - self.capacity, 0)
            if stop <= start:
                return np.zeros((len(rows) if rows is not None else self.data.shape[0], 0), np.float32), start
            rows = slice(None) if rows is None else rows
            lo, hi = start % self.capacity, (stop - 1) % self.capacity + 1
            if lo < hi:
                return self.data[rows, lo:hi].copy() if isinstance(rows, slice) else self.data[rows, lo:hi], start
            return np.concatenate([self.data[rows, lo:], self.data[rows, :hi]], axis=1), start


def minmax_decimate(samples: np.ndarray, first: int, per_column: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel column, the minimum then the maximum of each channel.

    Columns are aligned to absolute sample indices (multiples of
    ``per_column``), so a trace does not shimmer as it scrolls. Returns the
    sample index of each point (2 per column) and channels × points values;
    drawn as one connected line this is the envelope a full-resolution plot
    would show, with no aliasing of brief spikes.
    """
    per_column = max(1, int(per_column))
    skip = (-first) % per_column
    n_cols = (samples.shape[1] - skip) // per_column
    if n_cols <= 0:
        return np.zeros(0), np.zeros((samples.shape[0], 0), np.float32)
    body = samples[:, skip:skip + n_cols * per_column].reshape(samples.shape[0], n_cols, per_column)
    out = np.empty((samples.shape[0], n_cols, 2), np.float32)
    np.min(body, axis=2, out=out[:, :, 0])
    np.max(body, axis=2, out=out[:, :, 1])
    col_start = first + skip + np.arange(n_cols) * per_column
    index = np.stack([col_start, col_start + per_column - 1], axis=1).ravel()
    return index, out.reshape(samples.shape[0], 2 * n_cols)
