"""Turns a lossy, duplicating, reordering stream of sample packets into gap-marked, in-order frames.

Each packet carries its rate group's frame counter, so the position of every
sample is known exactly: lost packets become zero-filled frames with the gap
mask set (never shifted data), duplicates are dropped, and packets that
arrive out of order within a small window are put back in place. A clock
tracker fits device time against host time to measure the device clock's
drift, so recordings can be placed on the wall clock.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from fascdetect.protocol import FRAME_MODULO, SEQ_MODULO, TIMESTAMP_MODULO, SamplePacket

log = logging.getLogger(__name__)

DEFAULT_WINDOW_FRAMES = 512
"""How far past a hole the stream may run before the hole is declared lost (256 ms at 2 kHz)."""


def unwrap(value: int, reference: int, modulo: int) -> int:
    """The integer ≡ value (mod modulo) nearest to ``reference``."""
    delta = (value - reference) % modulo
    if delta >= modulo // 2:
        delta -= modulo
    return reference + delta


@dataclass
class Frames:
    """In-order frames of one rate group: counts are frames × channels, ``gap`` marks filled-in frames."""

    group: int
    start: int
    counts: np.ndarray
    gap: np.ndarray | None


@dataclass
class StreamStats:
    """What the tracker saw; ``drops`` counts undecodable packets by reason (filled in by the caller)."""

    packets: int = 0
    lost_packets: int = 0
    duplicates: int = 0
    late: int = 0
    reordered: int = 0
    gap_frames: Counter = field(default_factory=Counter)
    drops: Counter = field(default_factory=Counter)


class GroupTracker:
    """Reassembles one rate group. ``push`` a decoded packet, collect in-order Frames."""

    def __init__(self, group: int, n_channels: int, stats: StreamStats, window_frames: int = DEFAULT_WINDOW_FRAMES) -> None:
        self.group = group
        self.n_channels = n_channels
        self.window_frames = window_frames
        self._stats = stats
        self._next: int | None = None
        """Next frame to hand out (absolute, unwrapped)."""
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()
        """Recently accepted (frame, first channel) keys, to tell duplicates from late packets."""
        self._seq: tuple[int, int, int] | None = None
        """(last unwrapped seq, its frame, its first channel)."""
        self._seq_lo = self._seq_hi = 0
        self._accepted = 0
        self._lost = 0
        self._pending: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        """frame start → (counts frames×channels, filled mask frames×channels)."""
        self._highest = -1

    def push(self, packet: SamplePacket) -> list[Frames]:
        frame = self._unwrap_frame(packet.frame)
        n, lo, hi = packet.n_frames, packet.ch_lo, packet.ch_lo + packet.n_channels
        if hi > self.n_channels:
            self._stats.drops["channels"] += 1
            log.warning("dropped packet: channels %d..%d, group %d has %d", lo, hi - 1, self.group, self.n_channels)
            return []
        if self._next is None:
            # A stream that started moments ago starts at frame 0: packets lost before the first one are a gap too.
            self._next = 0 if frame <= self.window_frames else frame
        if (frame, lo) in self._seen:
            self._stats.duplicates += 1
            return []
        if frame < self._next:
            self._stats.late += 1
            log.info("dropped packet for frame %d: arrived after its hole was declared lost", frame)
            return []
        entry = self._pending.get(frame)
        if entry is None:
            entry = (np.zeros((n, self.n_channels), np.int16), np.zeros((n, self.n_channels), bool))
            self._pending[frame] = entry
        counts, filled = entry
        if counts.shape[0] != n or filled[:, lo:hi].any():
            self._stats.duplicates += 1
            return []
        counts[:, lo:hi] = packet.samples
        filled[:, lo:hi] = True
        self._stats.packets += 1
        self._seen[(frame, lo)] = None
        if len(self._seen) > 4 * self.window_frames:
            self._seen.popitem(last=False)
        self._count_sequence(packet, frame)
        if frame < self._highest:
            self._stats.reordered += 1
        self._highest = max(self._highest, frame + n)
        return self._release(final=False)

    def flush(self) -> list[Frames]:
        """Hand out everything still held (end of stream); holes inside become gaps."""
        return self._release(final=True)

    def _unwrap_frame(self, frame: int) -> int:
        ref = self._highest if self._highest >= 0 else frame
        return unwrap(frame, ref, FRAME_MODULO)

    def _count_sequence(self, packet: SamplePacket, frame: int) -> None:
        """Track lost packets by sequence number; the frame counter resolves wraps over long outages."""
        self._accepted += 1
        if self._seq is None:
            self._seq = (packet.seq, frame, packet.ch_lo)
            self._seq_lo = self._seq_hi = packet.seq
            return
        ref, ref_frame, ref_lo = self._seq
        chunks = -(-self.n_channels // packet.n_channels)
        estimate = ref + round((frame - ref_frame) / packet.n_frames * chunks + (packet.ch_lo - ref_lo) / packet.n_channels)
        seq = unwrap(packet.seq, estimate, SEQ_MODULO)
        self._seq = (seq, frame, packet.ch_lo)
        self._seq_lo = min(self._seq_lo, seq)
        self._seq_hi = max(self._seq_hi, seq)
        lost = self._seq_hi - self._seq_lo + 1 - self._accepted
        self._stats.lost_packets += lost - self._lost
        self._lost = lost

    def _release(self, final: bool) -> list[Frames]:
        out: list[Frames] = []
        assert self._next is not None or not self._pending
        while self._pending:
            start = self._next
            entry = self._pending.get(start)
            complete = entry is not None and entry[1].all()
            overdue = final or self._highest - start > self.window_frames
            if complete:
                counts, _ = self._pending.pop(start)
                out.append(Frames(self.group, start, counts, None))
                self._next = start + counts.shape[0]
            elif not overdue:
                break
            elif entry is not None:
                counts, filled = self._pending.pop(start)
                gap = ~filled.all(axis=1)
                self._stats.gap_frames[self.group] += int(gap.sum())
                out.append(Frames(self.group, start, counts, gap))
                self._next = start + counts.shape[0]
            else:
                following = min(f for f in self._pending if f > start)
                n = following - start
                self._stats.gap_frames[self.group] += n
                log.info("group %d: frames %d..%d lost, filled with zeros and marked as a gap", self.group, start, following - 1)
                out.append(Frames(self.group, start, np.zeros((n, self.n_channels), np.int16), np.ones(n, bool)))
                self._next = following
        return _merge(out)


def _merge(frames: list[Frames]) -> list[Frames]:
    """Join consecutive Frames so callers get few, larger blocks."""
    if len(frames) < 2:
        return frames
    counts = np.concatenate([f.counts for f in frames])
    if all(f.gap is None for f in frames):
        gap = None
    else:
        gap = np.concatenate([np.zeros(f.counts.shape[0], bool) if f.gap is None else f.gap for f in frames])
    return [Frames(frames[0].group, frames[0].start, counts, gap)]


class ClockTracker:
    """Least-squares fit of host time against device time, to measure the device clock's drift.

    BLE delivery adds latency jitter of a connection interval or two; over
    minutes of packets the fit's slope still resolves a few ppm.
    """

    def __init__(self) -> None:
        self._ref_us: int | None = None
        self._last_us = 0
        self._n = 0
        self._sx = self._sy = self._sxx = self._sxy = 0.0
        self._x0 = self._y0 = 0.0

    def add(self, timestamp_us: int, host_s: float) -> None:
        if self._ref_us is None:
            self._ref_us = self._last_us = timestamp_us
            self._y0 = host_s
        device_us = unwrap(timestamp_us, self._last_us, TIMESTAMP_MODULO)
        self._last_us = device_us
        x = (device_us - self._ref_us) / 1e6
        y = host_s - self._y0
        self._n += 1
        self._sx += x
        self._sy += y
        self._sxx += x * x
        self._sxy += x * y

    @property
    def drift_ppm(self) -> float | None:
        """How much faster the host clock runs than the device clock, in ppm (None until measurable)."""
        slope = self._slope()
        return None if slope is None else (slope - 1.0) * 1e6

    def host_time_s(self, timestamp_us: int) -> float | None:
        """Host time (the clock given to ``add``) at a device timestamp near the recent ones."""
        slope = self._slope()
        if slope is None or self._ref_us is None:
            return None
        x = (unwrap(timestamp_us, self._last_us, TIMESTAMP_MODULO) - self._ref_us) / 1e6
        intercept = (self._sy - slope * self._sx) / self._n
        return self._y0 + intercept + slope * x

    def _slope(self) -> float | None:
        if self._n < 2:
            return None
        var = self._sxx - self._sx * self._sx / self._n
        if var < 1e-9:
            return None
        return (self._sxy - self._sx * self._sy / self._n) / var

