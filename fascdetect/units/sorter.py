"""UnitSorter: twitches of a stream grouped into putative motor units, per EMG channel.

Fed, block after block, the pipeline's filtered signal and its final events
(``feed``), then the events of ``flush`` (``finish``). Live, each twitch gets
a *provisional* label from an online leader pass. The assignment that counts
is made at ``finish``: every twitch waveform of the channel, taken in time
order, goes through the deterministic clustering of ``units.cluster``. The
waveforms depend only on the filtered samples (exact under re-chunking) and
the final events (the same however the stream was cut), so the final units
are the same live and offline, whatever the chunking.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from fascdetect.config import DetectorConfig
from fascdetect.model import Block, Channel, Event
from fascdetect.units.cluster import UNASSIGNED, Leader, cluster
from fascdetect.units.config import SortConfig
from fascdetect.units.waveform import FilteredRing, Geometry, Waveform, block_rows, emg_groups, extract

NOT_A_UNIT = "unassigned"
TRIM_EVERY_S = 1.0
"""The ring is trimmed (and the pipeline asked how far back it may still report) about once per second of signal."""
DESCRIBE_FRACTION = 0.1
"""A template's duration and phases are taken where it exceeds this fraction of its peak."""
RINGING_TAIL_S = 0.005
RINGING_MARGIN = 1.25
"""...and where it exceeds 1.25 times what is left in its last 5 ms: the mains band-stops ring for a few
tenths of a second after every potential (10-35 % of its peak, as steady as the potential itself, so the
median template keeps it), which would otherwise count as the potential's duration and phases."""
KEPT_CHUNK = 64
"""Twitches kept for the final assignment are packed this many to a chunk (20 kB at 2 kHz: 16 channels start
with 0.3 MB)."""


def unit_name(side: str, region: str, number: int) -> str:
    """``R-ADM/2``: the second unit (by twitches) of the right abductor digiti minimi."""
    return f"{side}-{region}/{number}"


@dataclass(frozen=True)
class MotorUnit:
    """One putative motor unit: a cluster of twitch waveforms on one channel."""

    name: str
    side: str
    region: str
    channel: str
    twitches: int
    median_peak_uv: float
    duration_ms: float
    phases: int
    doublet_fraction: float
    first_s: float
    last_s: float
    fs_hz: float
    template_uv: tuple[float, ...]
    """Median aligned waveform, µV, from ``template_start_ms`` (negative: before the peak) at ``fs_hz``."""
    template_start_ms: float

    def to_json(self, rest_s: float | None = None) -> dict[str, Any]:
        rate = round(self.twitches / (rest_s / 60.0), 3) if rest_s else 0.0
        return {"name": self.name, "side": self.side, "region": self.region, "channel": self.channel,
                "twitches": self.twitches, "twitches_per_min": rate, "median_peak_uv": round(self.median_peak_uv, 2),
                "duration_ms": round(self.duration_ms, 2), "phases": self.phases,
                "doublet_fraction": round(self.doublet_fraction, 3), "first_s": round(self.first_s, 4),
                "last_s": round(self.last_s, 4),
                "template": {"fs_hz": self.fs_hz, "start_ms": round(self.template_start_ms, 3),
                             "uv": [round(v, 2) for v in self.template_uv]}}


@dataclass
class UnitSorting:
    """The final assignment: a label for every twitch event and the units found (empty, never None)."""

    units: list[MotorUnit] = field(default_factory=list)
    labels: dict[tuple[str, float], str] = field(default_factory=dict)

    def label(self, event: Event) -> str | None:
        """``R-ADM/2`` or ``unassigned`` for a twitch; None for other kinds."""
        if event.kind != "twitch":
            return None
        return self.labels.get((event.channel, event.onset_s), NOT_A_UNIT)

    def summary(self, rest_s: dict[tuple[str, str], float] | None = None) -> list[dict[str, Any]]:
        """One row per unit; rates are per minute of rest on the unit's region (``rest_s`` by (side, region))."""
        rest_s = rest_s or {}
        return [u.to_json(rest_s.get((u.side, u.region))) for u in self.units]

    def per_region(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for u in self.units:
            out[(u.side, u.region)] = out.get((u.side, u.region), 0) + 1
        return out

    @classmethod
    def combine(cls, parts: Iterable["UnitSorting"]) -> "UnitSorting":
        """Several passes (one per foot) as one result."""
        out = cls()
        for p in parts:
            out.units.extend(p.units)
            out.labels.update(p.labels)
        out.units.sort(key=lambda u: (u.side, u.region, u.channel, int(u.name.rsplit("/", 1)[1])))
        return out


class _Kept:
    """One channel's twitches as the final assignment needs them, packed in chunks of ``KEPT_CHUNK`` rows.

    All of a night's twitches are kept until ``finish``: as a Waveform and
    its Event each they cost about 1.2 kB, packed about 0.3 kB (at 2 kHz).
    The waveform is stored as float32, the filtered ring's own type, so it
    comes back exactly as ``extract`` cut it.
    """

    def __init__(self, width: int) -> None:
        self.dtype = np.dtype([("wide", np.float32, (width,)), ("peak_index", np.int64), ("onset_s", np.float64),
                               ("noise_uv", np.float64), ("peak", np.float64), ("doublet", np.bool_)])
        self.n = 0
        self._chunks: list[np.ndarray] = []

    def __len__(self) -> int:
        return self.n

    def add(self, w: Waveform, e: Event) -> None:
        row = self.n % KEPT_CHUNK
        if row == 0:
            self._chunks.append(np.zeros(KEPT_CHUNK, self.dtype))
        self._chunks[-1][row] = (w.wide, w.peak_index, e.onset_s, w.noise_uv, e.peak, "doublet" in e.flags)
        self.n += 1

    def rows(self) -> np.ndarray:
        """Every twitch kept, in the order they came (a structured array, fields as in ``dtype``)."""
        return np.concatenate(self._chunks)[:self.n] if self._chunks else np.zeros(0, self.dtype)


class _Live:
    """Provisional online leader clustering of one channel (labels shown while the stream runs)."""

    def __init__(self, geometry: Geometry, config: SortConfig) -> None:
        self.g, self.config = geometry, config
        self.leader = Leader(geometry, config)
        self.noise = array("d")

    def add(self, w: Waveform) -> int:
        self.noise.append(w.noise_uv)
        var = max(float(np.median(self.noise)), 1e-6) ** 2
        return self.leader.add(self.g.core_ext(w.wide), var)[0]

    @property
    def counts(self) -> list[int]:
        return self.leader.counts

    def units(self) -> int:
        return sum(c >= self.config.min_twitches for c in self.counts)


class UnitSorter:
    """Stateful motor-unit sorting for one pipeline's channels (see the module docstring)."""

    def __init__(self, channels: Iterable[Channel], config: SortConfig | None = None,
                 detector: DetectorConfig | None = None, live: bool = True) -> None:
        """``config``: the sorter's settings, by default the detector's ``motor_units``; ``live``: also give
        provisional labels as twitches arrive (a display's; offline analysis skips it)."""
        self.detector = detector or DetectorConfig()
        self.config = config or self.detector.motor_units
        self.channels = {c.label: c for c in channels}
        self.rings = {fs: FilteredRing(chs, fs) for fs, chs in emg_groups(list(self.channels.values())).items()}
        self.geometry = {fs: Geometry(fs, self.config) for fs in self.rings}
        self._by_channel = {c.label: fs for fs, ring in self.rings.items() for c in ring.channels}
        self.kept = {label: _Kept(self.geometry[fs].before + self.geometry[fs].after)
                     for label, fs in self._by_channel.items()}
        """Per EMG channel, its twitches' waveforms for ``finish``."""
        self.missed = 0
        """Twitches on EMG whose samples were not held (the first seconds, before the filter starts)."""
        self.live = live
        self._live = {label: _Live(self.geometry[fs], self.config) for label, fs in self._by_channel.items()}
        self._trimmed = {fs: -math.inf for fs in self.rings}
        self.last_fired: dict[tuple[str, str], str] = {}
        """Provisional label of the latest twitch per (side, region), for a live display."""

    # --- streaming
    def feed(self, block: Block, filtered: Block | None, events: list[Event],
             keep_from_s: float | Callable[[], float]) -> dict[Event, str]:
        """Take one block's filtered signal and the events final after it; return provisional labels.

        ``keep_from_s`` is the earliest onset the pipeline may still report
        (``Pipeline.earliest_open_s``, the value or the method itself: then it is
        asked only when the ring is due for trimming); older signal is let go.
        """
        ring = self.rings.get(block.fs_hz)
        if ring is not None and ring.first_usable is None:
            # The filter starts after the mains probe, and the first filtered block holds only its own
            # samples: the probe's earlier samples are never used, however the stream was cut.
            ring.first_usable = block.start + math.ceil(self.detector.mains_probe_s * block.fs_hz)
        if ring is not None and filtered is not None:
            rows = block_rows(filtered, ring.channels)
            ring.append(filtered.start, filtered.data[rows])
        out = {e: label for e in events if (label := self._take(e, live=self.live)) is not None}
        for fs, r in self.rings.items():
            if r.end - self._trimmed[fs] < TRIM_EVERY_S * fs:
                continue
            self._trimmed[fs] = r.end
            earliest = keep_from_s() if callable(keep_from_s) else keep_from_s
            g = self.geometry[fs]
            keep = math.floor(earliest * fs) - (g.before + g.noise + g.search + 2 * g.shift) \
                if np.isfinite(earliest) else r.start
            r.trim(max(keep, r.end - round(self.config.max_buffer_s * fs)))
        return out

    def live_units(self) -> dict[tuple[str, str], int]:
        """Provisional number of units per (side, region) so far (clusters seen at least ``min_twitches`` times)."""
        out: dict[tuple[str, str], int] = {}
        for label, live in self._live.items():
            c = self.channels[label]
            out[(c.side, c.region)] = out.get((c.side, c.region), 0) + live.units()
        return out

    def _take(self, event: Event, live: bool) -> str | None:
        if event.kind != "twitch" or event.channel not in self._by_channel:
            return None
        fs = self._by_channel[event.channel]
        w = extract(self.rings[fs], event, self.geometry[fs])
        if w is None:
            self.missed += 1
            return NOT_A_UNIT
        self.kept[event.channel].add(w, event)
        if not live:
            return None
        live_state = self._live[event.channel]
        k = live_state.add(w)
        c = self.channels[event.channel]
        label = f"{c.side}-{c.region}/~{k + 1}" if live_state.counts[k] >= self.config.min_twitches else NOT_A_UNIT
        self.last_fired[(c.side, c.region)] = label
        return label

    # --- the final assignment
    def finish(self, events: list[Event]) -> UnitSorting:
        """Take ``flush()``'s events and make the final assignment (deterministic, see ``units.cluster``)."""
        for e in events:
            self._take(e, live=False)
        result = UnitSorting()
        for label, kept in self.kept.items():
            if not len(kept):
                continue
            rows = kept.rows()
            rows = rows[np.lexsort((rows["onset_s"], rows["peak_index"]))]  # time order (stable, like sorted)
            fs = self._by_channel[label]
            g = self.geometry[fs]
            noise = float(np.median(rows["noise_uv"]))
            c = cluster(rows["wide"].astype(np.float64), rows["peak_index"] / fs, noise, g, self.config)
            ch = self.channels[label]
            for k, template in enumerate(c.templates):
                members = rows[np.flatnonzero(c.labels == k)]
                result.units.append(_describe(unit_name(ch.side, ch.region, k + 1), ch, members, template, g, noise))
            for onset_s, k in zip(rows["onset_s"].tolist(), c.labels):
                result.labels[(label, onset_s)] = NOT_A_UNIT if k == UNASSIGNED \
                    else unit_name(ch.side, ch.region, int(k) + 1)
        return UnitSorting.combine([result])


def _describe(name: str, ch: Channel, members: np.ndarray, template: np.ndarray, g: Geometry,
              noise_uv: float) -> MotorUnit:
    """``members``: the unit's rows of ``_Kept.rows()``."""
    peak = float(np.max(np.abs(template))) if template.size else 0.0
    # The template is a median of a few noisy copies: its own noise must not count as phases.
    tail = template[-max(1, round(RINGING_TAIL_S * g.fs_hz)):]
    level = max(DESCRIBE_FRACTION * peak, 3.0 * noise_uv * np.sqrt(np.pi / 2 / len(members)),
                RINGING_MARGIN * float(np.max(np.abs(tail))) if tail.size else 0.0)
    above = np.flatnonzero(np.abs(template) >= level) if peak > 0 else np.zeros(0, int)
    if above.size:
        duration_ms = (above[-1] - above[0] + 1) / g.fs_hz * 1e3
        signs = np.sign(template[above])
        phases = int(1 + np.count_nonzero(np.diff(signs) != 0))
    else:
        duration_ms, phases = 0.0, 0
    return MotorUnit(name, ch.side, ch.region, ch.label, len(members),
                     float(np.median(members["peak"])), float(duration_ms), phases,
                     int(members["doublet"].sum()) / len(members),
                     float(members["onset_s"].min()), float(members["onset_s"].max()), float(g.fs_hz),
                     tuple(float(v) for v in template), -g.before / g.fs_hz * 1e3)


def sort_blocks(blocks: Iterable[Block], channels: Iterable[Channel], detector: DetectorConfig | None = None,
                config: SortConfig | None = None) -> tuple[list[Event], UnitSorting]:
    """Convenience for tests and scripts (like ``pipeline.run_all``): events sorted by onset, and their units."""
    from fascdetect.pipeline import Pipeline, sort_events

    channels = tuple(channels)
    pipe = Pipeline(channels, detector)
    sorter = UnitSorter(channels, config, pipe.config)
    events: list[Event] = []
    for block in blocks:
        step = pipe.feed(block)
        sorter.feed(block, step.filtered, step.events, pipe.earliest_open_s)
        events.extend(step.events)
    last = pipe.flush()
    return sort_events(events + last), sorter.finish(last)
