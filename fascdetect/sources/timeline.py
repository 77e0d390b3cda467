"""Placing samples from third-party streams on one contiguous, gap-marked sample axis.

LSL streams and BrainFlow boards do not send our frame counter, but they tell
where each sample belongs in another way: LSL by a timestamp per sample,
BrainFlow by a package counter. ``TimestampClock`` and ``CounterClock``
turn those into sample indices; ``ContiguousSamples`` then does what
``sequence.GroupTracker`` does for the BLE wearable: samples that never
arrived become zeros marked in the gap mask (never shifted data), and
samples that arrive twice are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fascdetect.sources.sequence import unwrap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """Samples ``lo..hi`` of a chunk belong at sample index ``index`` onwards."""

    index: int
    lo: int
    hi: int


class TimestampClock:
    """Sample indices from per-sample timestamps at a nominal rate.

    A sample is counted as the next one unless its timestamp is later than
    the next index's expected time by more than the tolerance. Lateness has
    two causes that must not be confused: lost samples (every later sample
    is late by the same amount) and jitter in the sender's stamping (a chunk
    pushed late, the next ones on time again). So a late stretch is held
    until ``confirm_s`` and a few pushes of later samples have arrived, and the gap is the
    smallest lateness among them: a real loss is kept (exactly, whatever the
    jitter on top), a late push is counted as contiguous. The expected time
    follows the stream slowly (an average of each accepted stretch's
    lateness), so a sender's clock drift of tens of ppm over a night never
    looks like a loss. A loss shorter than the tolerance is absorbed (its
    neighbours counted as contiguous) rather than invented.
    """

    SMOOTHING = 0.05
    """Weight of each accepted stretch's lateness in the running expected time."""
    CONFIRM_STRETCHES = 4
    """A late stretch is judged once ``confirm_s`` and this many stretches (pushes) have followed it, or this
    many times ``confirm_s`` (a sender that pushes rarely, or a backlog pulled at once)."""

    def __init__(self, fs_hz: float, tolerance_s: float = 0.005, confirm_s: float = 0.5) -> None:
        self.fs_hz = fs_hz
        self.tolerance_s = max(tolerance_s, 0.5 / fs_hz)
        self.confirm_s = confirm_s
        self.next = 0
        """Index the next decided sample gets if nothing was lost."""
        self.offset_s: float | None = None
        """Timestamp of index 0 as the stream's clock runs now (sample n is at offset_s + n / fs_hz)."""
        self.lost = 0
        """Samples found missing so far."""
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        """Stretches (timestamps, data channels × n), each internally contiguous, not yet placed."""

    def timestamp_s(self, index: float) -> float | None:
        """The stream-clock time of sample ``index`` (None before the first sample)."""
        return None if self.offset_s is None else self.offset_s + index / self.fs_hz

    @property
    def held(self) -> int:
        return sum(len(ts) for ts, _ in self._pending)

    def push(self, timestamps: np.ndarray, data: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(first index, data) of the samples that can be placed now; a late stretch waits for confirmation."""
        ts = np.asarray(timestamps, dtype=np.float64)
        if not ts.size:
            return []
        if self.offset_s is None:
            self.offset_s = float(ts[0])
        step = np.diff(ts) - 1.0 / self.fs_hz
        cuts = np.flatnonzero(np.abs(step) > self.tolerance_s) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, ts.size]):
            self._pending.append((ts[lo:hi], data[:, lo:hi]))
        return self._decide(final=False)

    def flush(self) -> list[tuple[int, np.ndarray]]:
        """Place everything held (the stream ended or was lost): a late stretch is judged on what followed it."""
        return self._decide(final=True)

    def _decide(self, final: bool) -> list[tuple[int, np.ndarray]]:
        out: list[tuple[int, np.ndarray]] = []
        while self._pending:
            assert self.offset_s is not None
            lates, index = [], self.next
            for ts, _ in self._pending:
                lates.append(float(ts[0]) - index / self.fs_hz - self.offset_s)
                index += len(ts)
            if lates[0] < -max(1.0, 20 * self.tolerance_s):
                # the stream's clock jumped back (a sender restarted on another clock): re-anchor, keep counting
                log.warning("stream timestamps jumped back by %.3f s; continuing the sample count", -lates[0])
                self.offset_s += lates[0]
                continue
            if lates[0] > self.tolerance_s:
                span_s = float(self._pending[-1][0][-1] - self._pending[0][0][0])
                enough = span_s >= self.confirm_s and (len(self._pending) >= self.CONFIRM_STRETCHES
                                                       or span_s >= self.CONFIRM_STRETCHES * self.confirm_s)
                if not final and not enough:
                    break  # wait: a loss if what follows stays late, jitter if it comes back on time
                missing = round(min(lates) * self.fs_hz)
                if min(lates) > self.tolerance_s and missing > 0:
                    self.next += missing
                    self.lost += missing
                    log.info("%d samples lost before stream time %.3f s: zero-filled and marked as a gap",
                             missing, self._pending[0][0][0])
            ts, data = self._pending.pop(0)
            out.append((self.next, data))
            self.offset_s += self.SMOOTHING * (float(ts.mean()) - (self.next + (len(ts) - 1) / 2) / self.fs_hz
                                               - self.offset_s)
            self.next += len(ts)
        return out


class CounterClock:
    """Sample indices from a wrapping package counter that advances ``step`` per sample.

    The counter's wrap (256 on OpenBCI boards) is resolved with the host
    timestamps that come with each sample, so an outage longer than one wrap
    still gives the right gap length.
    """

    def __init__(self, fs_hz: float, modulo: int = 256, step: int = 1) -> None:
        self.fs_hz = fs_hz
        self.modulo = modulo
        self.step = step
        self.next = 0
        self.lost = 0
        self._last: tuple[int, float] | None = None
        """(unwrapped counter of the last sample, its host time)."""

    def place(self, counters: np.ndarray, host_s: np.ndarray) -> list[Run]:
        runs: list[Run] = []
        counters = np.asarray(counters).astype(np.int64)
        for i, (counter, t) in enumerate(zip(counters.tolist(), np.asarray(host_s, float).tolist())):
            if self._last is None:
                index = self.next
                value = counter
            else:
                last, last_t = self._last
                guess = last + self.step * max(1, round((t - last_t) * self.fs_hz))
                value = unwrap(counter, guess, self.modulo)
                advance = (value - last) // self.step
                if advance <= 0:
                    continue  # a repeated sample
                index = self.next + advance - 1
                self.lost += advance - 1
            self._last = (value, t)
            if runs and runs[-1].hi == i and runs[-1].index + (runs[-1].hi - runs[-1].lo) == index:
                runs[-1] = Run(runs[-1].index, runs[-1].lo, i + 1)
            else:
                runs.append(Run(index, i, i + 1))
            self.next = index + 1
        return runs


class ContiguousSamples:
    """Collects samples placed at indices into gap-marked blocks of ``n_channels`` × samples."""

    def __init__(self, n_channels: int) -> None:
        self.n_channels = n_channels
        self.start = 0
        """Index of the first sample held."""
        self._parts: list[np.ndarray] = []
        self._gaps: list[np.ndarray | None] = []
        self._held = 0
        self.gap_samples = 0
        self.duplicates = 0

    @property
    def end(self) -> int:
        return self.start + self._held

    @property
    def held(self) -> int:
        return self._held

    def add(self, index: int, data: np.ndarray) -> None:
        """Samples ``data`` (channels × n) at ``index``; a hole before them is zero-filled and marked."""
        if index < self.end:  # samples already placed (a repeat after a reconnection)
            skip = self.end - index
            self.duplicates += min(skip, data.shape[1])
            data = data[:, skip:]
            index = self.end
        if not data.shape[1]:
            return
        if index > self.end:
            self.fill(index - self.end)
        self._parts.append(np.asarray(data, np.float32))
        self._gaps.append(None)
        self._held += data.shape[1]

    def fill(self, n: int) -> None:
        """``n`` lost samples: zeros, marked as a gap."""
        if n <= 0:
            return
        self._parts.append(np.zeros((self.n_channels, n), np.float32))
        self._gaps.append(np.ones(n, bool))
        self._held += n
        self.gap_samples += n

    def take(self) -> tuple[int, np.ndarray, np.ndarray | None] | None:
        """Everything held as (first index, data, gap mask or None); None if nothing is held."""
        if not self._held:
            return None
        data = self._parts[0] if len(self._parts) == 1 else np.concatenate(self._parts, axis=1)
        gap = None
        if any(g is not None for g in self._gaps):
            gap = np.concatenate([np.zeros(p.shape[1], bool) if g is None else g for p, g in zip(self._parts, self._gaps)])
        out = (self.start, data, gap)
        self.start += self._held
        self._parts, self._gaps, self._held = [], [], 0
        return out
