"""Cutting twitch waveforms out of the band-passed EMG: a ring of filtered blocks and peak alignment.

The ring keeps, per EMG rate group, the filtered blocks from the earliest time
the pipeline may still report (``Pipeline.earliest_open_s``) onwards, so a
twitch that becomes final seconds after it happened still finds its samples,
and memory stays bounded by the pipeline's own latency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fascdetect.model import Block, Channel, Event
from fascdetect.units.config import SortConfig

MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Waveform:
    """One twitch's filtered waveform on its channel, aligned on its peak (of smoothed energy).

    ``wide`` spans ``wide_before_s``..``wide_after_s`` around the peak sample
    (µV); ``noise_uv`` is the robust SD just before it; ``peak_index`` the
    peak's sample index since recording start.
    """

    channel: str
    onset_s: float
    peak_index: int
    wide: np.ndarray
    noise_uv: float


class Geometry:
    """Window lengths in samples at one rate (all derived from SortConfig)."""

    def __init__(self, fs_hz: float, config: SortConfig) -> None:
        self.fs_hz = fs_hz
        self.before = max(1, round(config.wide_before_s * fs_hz))
        self.after = max(1, round(config.wide_after_s * fs_hz))
        self.core_before = min(self.before, max(1, round(config.core_before_s * fs_hz)))
        self.core_after = min(self.after, max(1, round(config.core_after_s * fs_hz)))
        self.shift = max(1, round(config.max_shift_s * fs_hz))
        self.search = max(1, round(config.peak_search_s * fs_hz))
        self.noise = max(8, round(config.noise_window_s * fs_hz))
        self.smooth = 2 * max(1, round(config.align_smooth_s * fs_hz / 2)) + 1

    @property
    def core_n(self) -> int:
        return self.core_before + self.core_after

    def core_ext(self, wide: np.ndarray) -> np.ndarray:
        """The compared window with ``shift`` extra samples each side (for the best-lag search)."""
        lo = self.before - self.core_before - self.shift
        hi = self.before + self.core_after + self.shift
        pad_lo, pad_hi = max(0, -lo), max(0, hi - wide.shape[-1])
        if pad_lo or pad_hi:
            wide = np.pad(wide, [(0, 0)] * (wide.ndim - 1) + [(pad_lo, pad_hi)])
        return wide[..., lo + pad_lo: hi + pad_lo]


class FilteredRing:
    """Filtered EMG of one rate group, kept from a moving start time on (chunks, never copied on append)."""

    def __init__(self, channels: list[Channel], fs_hz: float) -> None:
        self.channels = channels
        self.rows = {c.label: i for i, c in enumerate(channels)}
        self.fs_hz = fs_hz
        self._chunks: list[tuple[int, np.ndarray]] = []
        self.first_usable: int | None = None

    def append(self, start: int, data: np.ndarray) -> None:
        if data.shape[1]:
            self._chunks.append((start, np.asarray(data, dtype=np.float32)))

    @property
    def end(self) -> int:
        return self._chunks[-1][0] + self._chunks[-1][1].shape[1] if self._chunks else 0

    @property
    def start(self) -> int:
        return self._chunks[0][0] if self._chunks else self.end

    def trim(self, keep_from: int) -> None:
        """Drop whole chunks that end before sample ``keep_from``."""
        while len(self._chunks) > 1 and self._chunks[0][0] + self._chunks[0][1].shape[1] <= keep_from:
            self._chunks.pop(0)

    def span(self, row: int, lo: int, hi: int) -> np.ndarray | None:
        """Samples lo..hi of one channel, or None when any of them is not (or no longer) held."""
        if lo < self.start or hi > self.end or (self.first_usable is not None and lo < self.first_usable):
            return None
        parts = []
        for s, d in self._chunks:
            e = s + d.shape[1]
            if e <= lo or s >= hi:
                continue
            parts.append(d[row, max(lo, s) - s: min(hi, e) - s])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def extract(ring: FilteredRing, event: Event, geometry: Geometry) -> Waveform | None:
    """The event's waveform aligned on the peak of its smoothed energy near onset; None if its samples are not held."""
    row = ring.rows.get(event.channel)
    if row is None:
        return None
    g = geometry
    onset = int(round(event.onset_s * ring.fs_hz))
    span = min(g.search, max(1, int(round(event.duration_s * ring.fs_hz))))
    lo = onset - g.shift
    half = g.smooth // 2
    x = ring.span(row, lo - half, onset + span + g.shift + half)
    if x is None:
        return None
    # The peak of the smoothed energy, not of |x|: the largest |sample| of a potential with two near-equal
    # phases flips between them from one twitch to the next; the energy's peak (Hann-weighted, so it has
    # one peak even for a narrow potential) stays between them.
    energy = np.convolve(x.astype(np.float64) ** 2, np.hanning(g.smooth + 2)[1:-1], mode="valid")
    peak = lo + int(np.argmax(energy))
    wide = ring.span(row, peak - g.before, peak + g.after)
    quiet = ring.span(row, peak - g.before - g.noise, peak - g.before)
    if wide is None or quiet is None:
        return None
    wide = wide.astype(np.float64)
    noise = MAD_TO_SD * float(np.median(np.abs(quiet - np.median(quiet))))
    return Waveform(event.channel, event.onset_s, peak, wide, noise)


def emg_groups(channels: list[Channel] | tuple[Channel, ...]) -> dict[float, list[Channel]]:
    """EMG channels by sampling rate, in the order a Block of that rate carries them."""
    groups: dict[float, list[Channel]] = {}
    for c in channels:
        if c.modality == "EMG":
            groups.setdefault(c.fs_hz, []).append(c)
    return groups


def block_rows(block: Block, channels: list[Channel]) -> list[int]:
    index = {c.label: i for i, c in enumerate(block.channels)}
    return [index[c.label] for c in channels if c.label in index]
