"""Pipeline: the one processing path, live and offline.

``feed(block)`` takes a Block from any source and returns the events that
became final, plus the filtered signal for display; ``flush()`` ends the
stream. All state (filter states, envelopes, noise floors, open runs,
pending episodes) lives here, so feeding a recording whole or in any chunks
gives the same events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from fascdetect.config import DetectorConfig
from fascdetect.detect.classify import (Activity, classify_episode, link_gap_s, reach_s, reaching_episodes,
                                        split_episodes)
from fascdetect.detect.segmenter import LocalReference, RunTracker, Segment, Segmenter
from fascdetect.dsp.envelope import BinnedEnvelope, EnvelopeChunk
from fascdetect.dsp.filters import StreamingSos, bandpass_sos, mains_stop_sos
from fascdetect.dsp.mains import CANDIDATES_HZ, detect_mains, mains_rms
from fascdetect.dsp.noise_floor import RunningFloor
from fascdetect.errors import InputError, SignalError
from fascdetect.model import Block, Channel, Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lane:
    """What one detector lane stands for: an EMG channel, or one region's accelerometer axes."""

    source: str
    side: str
    region: str
    channel: str
    unit: str


@dataclass
class ClipReport:
    """Clipped (saturated) samples seen on one channel; they are excluded from detection."""

    samples: int = 0
    stretches: int = 0
    first_s: float | None = None
    last_clipped: bool = False


@dataclass(frozen=True)
class PipelineStep:
    """What one ``feed`` produced: final events and the block's filtered signal (None while priming)."""

    events: list[Event]
    filtered: Block | None


class _Chain:
    """Processing for the channels of one modality at one sampling rate."""

    def __init__(self, channels: list[Channel], fs_hz: float, config: DetectorConfig, lanes: list[Lane],
                 lane_rows: list[list[int]], window_s: float, twitch_max_s: float, emg: bool) -> None:
        """``emg``: an EMG chain, which measures each brief segment's local background and swing (the EMG
        rules use them; an accelerometer's classification does not, so its segments are neither held nor
        measured) and has its own start threshold."""
        self.channels = channels
        self.fs_hz = fs_hz
        self.config = config
        self.lanes = lanes
        self.bin_samples = max(1, round(fs_hz * config.envelope_bin_s))
        self.bin_s = self.bin_samples / fs_hz
        window_bins = max(1, round(window_s / self.bin_s))
        frame_bins = max(1, round(config.noise_frame_s / self.bin_s))
        self.envelope = BinnedEnvelope(lane_rows, self.bin_samples, window_bins)
        floor = RunningFloor(len(lanes), frame_bins, config.noise_history_frames, config.noise_reject_factor,
                             max(1, round(config.noise_max_hold_s / config.noise_frame_s)))
        probe_frames = max(1, round(config.mains_probe_s / config.noise_frame_s))
        reference = LocalReference(len(lanes), max(1, round(config.local_reference_s / self.bin_s)),
                                   round(config.local_guard_s / self.bin_s), max(1, round(twitch_max_s / self.bin_s)),
                                   self.bin_s) if emg else None
        self.segmenter = Segmenter(len(lanes), frame_bins, probe_frames, floor,
                                   config.threshold_on if emg else config.acc_threshold_on,
                                   config.threshold_off, tail_bins=window_bins - 1,
                                   strong_fraction=config.offset_fraction_of_peak,
                                   decay_bins=config.offset_peak_decay_s / self.bin_s, reference=reference)
        self.origin: int | None = None
        self.next_sample: int | None = None
        self.last_bad: dict[str, bool] = {}
        self.clips = {c.label: ClipReport() for c in channels}
        lo = np.array([c.physical_min for c in channels], dtype=np.float64)
        hi = np.array([c.physical_max for c in channels], dtype=np.float64)
        tol = np.where(np.isfinite(hi - lo), (hi - lo) * 1e-5, 0.0)
        self._rail_lo = (lo + tol)[:, None]
        self._rail_hi = (hi - tol)[:, None]

    # -- shared steps -------------------------------------------------------
    def check(self, x: np.ndarray, start: int, gap: np.ndarray | None) -> np.ndarray:
        """Validate samples; return the bad-sample mask (clipped or gap-filled)."""
        if self.origin is None:
            self.origin = self.next_sample = start
        if start != self.next_sample:
            raise InputError(f"{self.fs_hz:g} Hz channels: block starts at sample {start}, expected {self.next_sample}"
                             " (sources must deliver contiguous blocks, gap-filled where data was lost)")
        self.next_sample = start + x.shape[1]
        finite = np.isfinite(x)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            count = int((~finite).sum())
            raise SignalError(f"{self.channels[row].label}: {count} NaN/infinite sample(s), the first at "
                              f"{(start + col) / self.fs_hz:.3f} s")
        bad = (x <= self._rail_lo) | (x >= self._rail_hi)
        if bad.any() or any(r.last_clipped for r in self.clips.values()):
            self._count_clips(bad, start)
        if gap is not None:
            bad |= gap[None, :]
        if bad.shape[1]:
            self.last_bad = {c.label: bool(b) for c, b in zip(self.channels, bad[:, -1])}
        return bad

    def _count_clips(self, bad: np.ndarray, start: int) -> None:
        for row, channel in enumerate(self.channels):
            report = self.clips[channel.label]
            clipped = bad[row]
            if clipped.any():
                rises = np.flatnonzero(np.diff(np.concatenate(([report.last_clipped], clipped)).view(np.int8)) == 1)
                report.samples += int(clipped.sum())
                report.stretches += len(rises)
                if report.first_s is None:
                    report.first_s = (start + int(np.argmax(clipped))) / self.fs_hz
            report.last_clipped = bool(clipped[-1]) if clipped.size else report.last_clipped

    def activities(self, segments: list[Segment], source: str | None = None) -> list[Activity]:
        t0 = (self.origin or 0) / self.fs_hz
        out = []
        settle_bins = self.config.settle_s / self.bin_s
        for s in segments:
            if s.start < settle_bins:
                continue
            lane = self.lanes[s.lane]
            out.append(Activity(source or lane.source, lane.side, lane.region, lane.channel, lane.unit,
                                t0 + s.start * self.bin_s, t0 + s.end * self.bin_s, s.peak, s.mean_env, s.bad,
                                t0 + s.peak_bin * self.bin_s, s.high, s.low, s.floor, s.local, s.swing))
        return out

    def held_activities(self) -> list[Activity]:
        """Brief candidates waiting for their reference window after them, measured on the one before (display)."""
        return self.activities(self.segmenter.reference.provisional())

    def safe_s(self, side: str) -> float:
        """Time before which this chain will report nothing more for ``side``."""
        if self.origin is None:
            return -np.inf
        bins = [self.segmenter.done_bin] + self._open_starts(side)
        return self.origin / self.fs_hz + min(bins) * self.bin_s

    def _open_starts(self, side: str) -> list[int]:
        return [s for s, lane in zip(self.segmenter.runs.open_starts_by_lane(), self.lanes)
                if s is not None and lane.side == side]


class EmgChain(_Chain):
    """EMG: mains detection on the first seconds, band-pass + mains band-stops, 5 ms RMS envelope."""

    def __init__(self, channels: list[Channel], fs_hz: float, config: DetectorConfig) -> None:
        lanes = [Lane("emg", c.side, c.region, c.label, c.unit) for c in channels]
        super().__init__(channels, fs_hz, config, lanes, [[i] for i in range(len(channels))],
                         config.emg_envelope_window_s, config.twitch_max_s, emg=True)
        self.filter: StreamingSos | None = None
        self.mains_hz: list[float] = []
        self.mains_rms: dict[str, float] = {}
        self._probe: list[tuple[np.ndarray, np.ndarray]] = []
        self._probe_n = 0

    def feed(self, x: np.ndarray, start: int, gap: np.ndarray | None) -> tuple[np.ndarray | None, list[Activity]]:
        bad = self.check(x, start, gap)
        if self.filter is None:
            self._probe.append((x, bad))
            self._probe_n += x.shape[1]
            if self._probe_n < self.config.mains_probe_s * self.fs_hz:
                return None, []
            return self._start_filter()
        return self._run(x, bad)

    def finish(self) -> list[Activity]:
        acts = self._start_filter()[1] if self.filter is None and self._probe else []
        return acts + self.activities(self.segmenter.finish())

    def _start_filter(self) -> tuple[np.ndarray | None, list[Activity]]:
        x = np.concatenate([p[0] for p in self._probe], axis=1)
        bad = np.concatenate([p[1] for p in self._probe], axis=1)
        self._probe = []
        c = self.config
        # Exactly the first probe_s of signal decides, however it arrived in blocks.
        probe = x[:, :round(c.mains_probe_s * self.fs_hz)]
        self.mains_hz = detect_mains(probe, self.fs_hz, c.mains_hz, c.mains_min_power_ratio, c.mains_max_harmonics)
        levels = mains_rms(probe, self.fs_hz, self.mains_hz[0] if self.mains_hz else c.mains_hz or CANDIDATES_HZ[0])
        self.mains_rms = {ch.label: float(v) for ch, v in zip(self.channels, levels)}
        log.info("%g Hz EMG: removing mains at %s Hz", self.fs_hz, ", ".join(f"{f:g}" for f in self.mains_hz))
        sos = np.vstack([bandpass_sos(c.emg_band_hz, self.fs_hz, c.emg_filter_order),
                         mains_stop_sos(self.mains_hz, c.mains_stop_width_hz, self.fs_hz)])
        self.filter = StreamingSos(sos)
        return self._run(x, bad)

    def _run(self, x: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, list[Activity]]:
        y = self.filter(x)
        return y, self.activities(self.segmenter.feed(self.envelope(y, bad, raw=x)))


class AccChain(_Chain):
    """Accelerometers: per region, a twitch band (mechanomyogram) and a low band (gross motion)."""

    def __init__(self, channels: list[Channel], fs_hz: float, config: DetectorConfig) -> None:
        regions: dict[tuple[str, str], list[int]] = {}
        for i, c in enumerate(channels):
            regions.setdefault((c.side, c.region), []).append(i)
        lanes = [Lane("acc", side, region, f"ACC {side}-{region}", "mg") for side, region in regions]
        rows = list(regions.values())
        super().__init__(channels, fs_hz, config, lanes, rows, config.acc_envelope_window_s, config.acc_twitch_max_s,
                         emg=False)
        # Too slow a sensor cannot see a twitch's 10-40 Hz vibration: movement only.
        self.sees_twitches = fs_hz >= config.acc_min_twitch_fs_hz
        self.twitch_filter = StreamingSos(bandpass_sos(config.acc_twitch_band_hz, fs_hz))
        self.motion_filter = StreamingSos(bandpass_sos(config.acc_motion_band_hz, fs_hz))
        self.motion_envelope = BinnedEnvelope(rows, self.bin_samples, 1)
        self.motion_runs = RunTracker(len(lanes), tail_bins=0)

    def feed(self, x: np.ndarray, start: int, gap: np.ndarray | None) -> tuple[np.ndarray, list[Activity]]:
        bad = self.check(x, start, gap)
        y = self.twitch_filter(x)
        segments = self.segmenter.feed(self.envelope(y, bad))  # fed even when unused: it keeps time for safe_s
        acts = self.activities(segments) if self.sees_twitches else []
        motion = self.motion_envelope(self.motion_filter(x), bad)
        return y, acts + self.activities(self._motion_segments(motion), "motion")

    def _motion_segments(self, chunk: EnvelopeChunk) -> list[Segment]:
        level = np.full(chunk.env.shape, self.config.movement_acc_mg, dtype=np.float32)
        return self.motion_runs.feed(chunk, level, 0.7 * level, level)

    def finish(self) -> list[Activity]:
        segments = self.segmenter.finish()
        segs = self.activities(segments) if self.sees_twitches else []
        return segs + self.activities(self.motion_runs.finish(self.segmenter.done_bin), "motion")

    def held_activities(self) -> list[Activity]:
        return super().held_activities() if self.sees_twitches else []

    def _open_starts(self, side: str) -> list[int]:
        motion = [s for s, lane in zip(self.motion_runs.open_starts_by_lane(), self.lanes)
                  if s is not None and lane.side == side]
        return super()._open_starts(side) + motion


class Pipeline:
    """Stateful detector for a fixed set of channels; see module docstring."""

    def __init__(self, channels: tuple[Channel, ...] | list[Channel], config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.channels = tuple(channels)
        if not self.channels:
            raise InputError("no usable channels to analyse")
        # One chain per rate, modality and foot: the feet are independent, so a
        # pipeline over one foot's channels gives exactly that foot's events
        # (offline analysis runs the feet in parallel processes).
        groups: dict[tuple[float, str, str], list[Channel]] = {}
        for c in self.channels:
            groups.setdefault((c.fs_hz, c.modality, c.side), []).append(c)
        self.chains: dict[tuple[float, str, str], _Chain] = {
            key: (EmgChain if key[1] == "EMG" else AccChain)(chs, key[0], self.config) for key, chs in groups.items()
        }
        self.sides = sorted({c.side for c in self.channels})
        self.emg_regions = {s: frozenset(c.region for c in self.channels if c.side == s and c.modality == "EMG")
                            for s in self.sides}
        self._pending: dict[str, list[Activity]] = {s: [] for s in self.sides}
        # Per side, the earliest time a pending activity stops reaching further (end + reach): no
        # episode can be final before it, so feed need not split the pending ones until then.
        self._first_free: dict[str, float] = {s: np.inf for s in self.sides}
        self._gap_s = link_gap_s(self.config)
        # Where the latest final movement (per side) and activity or cramp (per channel) ended: the rest state.
        self._not_rest_until: dict[str, float] = {}

    def feed(self, block: Block) -> PipelineStep:
        filtered = np.empty_like(block.data, dtype=np.float32) if block.n else block.data
        work = []
        for (fs, modality, side), chain in self.chains.items():
            if fs != block.fs_hz:
                continue
            rows = [i for i, c in enumerate(block.channels) if c.modality == modality and c.side == side]
            if not rows:
                continue
            if [block.channels[i] for i in rows] != chain.channels:
                raise InputError(f"block channels at {fs:g} Hz do not match the pipeline's {modality} channels")
            work.append((rows, chain, np.ascontiguousarray(block.data[rows], dtype=np.float32)))
        # Threads do not help here: the many small numpy calls contend for the GIL.
        results = [chain.feed(x, block.start, block.gap) for _, chain, x in work]
        primed = True
        for (rows, _, _), (y, acts) in zip(work, results):
            if y is None:
                primed = False
            else:
                filtered[rows] = y[:, -block.n:] if block.n else y
            self._add(acts)
        events = self._finalize(final=False)
        return PipelineStep(events, replace(block, data=filtered) if primed and block.n else None)

    def flush(self) -> list[Event]:
        for chain in self.chains.values():
            self._add(chain.finish())
        return self._finalize(final=True)

    def provisional_events(self) -> list[Event]:
        """Events of the episodes not final yet, classified as they stand now.

        A cramp is final only after it ends; a live display shows it while it
        builds from these. They may still change (grow, merge, become movement)
        and are never part of ``feed``'s or ``flush``'s output.

        A brief candidate still waits ~0.3 s for the local-background window
        after it. So that a twitch shows as soon as its discharge closes, the
        episodes holding such candidates are classified once more with them,
        judged on the window before them, and the twitches among the candidates
        are added (flagged ``early``). Only twitches are taken from that second
        view: what it makes of the rest (a train, a raised background) waits for
        the whole window, so a channel's rest state never comes from it.
        """
        held: dict[str, list[Activity]] = {side: [] for side in self.sides}
        for chain in self.chains.values():
            for a in chain.held_activities():
                held[a.side].append(a)
        out = []
        for side in self.sides:
            out.extend(e for episode in split_episodes(self._pending[side], self._gap_s, self.config)
                       for e in classify_episode(episode, self.emg_regions[side], self.config))
            if not held[side]:
                continue
            waiting = {(a.channel, a.onset_s) for a in held[side]}
            for episode in split_episodes(self._pending[side] + held[side], self._gap_s, self.config):
                if any((a.channel, a.onset_s) in waiting for a in episode):
                    out.extend(replace(e, flags=e.flags | {"early"})
                               for e in classify_episode(episode, self.emg_regions[side], self.config)
                               if e.kind == "twitch" and (e.channel, e.onset_s) in waiting)
        return out

    def channel_states(self, provisional: list[Event] | None = None) -> dict[str, str]:
        """State of each lane now: ``rest`` (twitches are counted), ``active``, ``movement`` or ``unusable``.

        Lanes are EMG channel labels and ``ACC side-region``. ``provisional``
        is this moment's ``provisional_events()`` if the caller has them.
        """
        c = self.config
        now = max((ch.next_sample / ch.fs_hz for ch in self.chains.values() if ch.next_sample is not None),
                  default=0.0)
        until = dict(self._not_rest_until)
        for e in self.provisional_events() if provisional is None else provisional:
            _mark_not_rest(until, e, c)
        states = {}
        for chain in self.chains.values():
            for lane in chain.lanes:
                bad = any(chain.last_bad.get(ch.label, False) for ch in chain.channels
                          if ch.side == lane.side and ch.region == lane.region)
                if bad:
                    states[lane.channel] = "unusable"
                elif until.get(f"move {lane.side}", -np.inf) >= now:
                    states[lane.channel] = "movement"
                elif until.get(lane.channel, -np.inf) >= now:
                    states[lane.channel] = "active"
                else:
                    states[lane.channel] = "rest"
        return states

    def noise_floor(self) -> dict[str, float]:
        """Current noise floor per lane (channel label, or ``ACC side-region``), in its unit."""
        return {lane.channel: float(f) for chain in self.chains.values()
                for lane, f in zip(chain.lanes, chain.segmenter.floor.floor)}

    def clip_reports(self) -> dict[str, ClipReport]:
        return {label: r for chain in self.chains.values() for label, r in chain.clips.items() if r.samples}

    def mains_levels(self) -> dict[str, float]:
        """RMS mains interference per EMG channel (µV), measured over the first seconds, before removal."""
        return {label: v for chain in self.chains.values() for label, v in getattr(chain, "mains_rms", {}).items()}

    def mains_hz(self) -> list[float]:
        return sorted({f for chain in self.chains.values() for f in getattr(chain, "mains_hz", [])})

    def earliest_open_s(self) -> float:
        """Earliest onset (s) a later ``feed`` or ``flush`` may still report: a pending activity's, or a
        chain's ``safe_s``. A consumer that needs an event's signal (motor units) keeps it from here on."""
        pending = [a.onset_s for acts in self._pending.values() for a in acts]
        safe = [ch.safe_s(side) for (_, _, side), ch in self.chains.items()]
        return min(pending + safe, default=-np.inf)

    def _add(self, acts: list[Activity]) -> None:
        for a in acts:
            self._pending[a.side].append(a)
            free = a.end_s + reach_s(a, self._gap_s, self.config)
            if free < self._first_free[a.side]:
                self._first_free[a.side] = free

    def _finalize(self, final: bool) -> list[Event]:
        events: list[Event] = []
        for side in self.sides:
            pending = self._pending[side]
            if not pending:
                continue
            safe = np.inf if final else min(ch.safe_s(side) for ch in self.chains.values())
            # An episode is final only when all of it is, so nothing is while no activity is.
            if not final and not self._first_free[side] < safe:
                continue
            keep: list[Activity] = []
            # Episodes only grow and merge as activities arrive, so none can be final before the
            # earliest reach of those kept (or of a newcomer, which _add notes).
            first_free = np.inf
            for episode, reach in reaching_episodes(pending, self._gap_s, self.config):
                if reach < safe:
                    events.extend(classify_episode(episode, self.emg_regions[side], self.config))
                else:
                    keep.extend(episode)
                    first_free = min(first_free, reach)
            self._pending[side] = keep
            self._first_free[side] = first_free
        for e in events:
            _mark_not_rest(self._not_rest_until, e, self.config)
        return events


def _mark_not_rest(until: dict[str, float], e: Event, config: DetectorConfig) -> None:
    """Extend the not-at-rest horizon for a movement (its side) or an activity or cramp (its channel)."""
    if e.kind == "movement":
        key, end = f"move {e.side}", e.end_s + config.movement_margin_s
    elif e.kind in ("activity", "cramp"):
        key, end = e.channel, e.end_s + config.activity_margin_s
    else:
        return
    until[key] = max(until.get(key, -np.inf), end)


def run_all(blocks, channels, config: DetectorConfig | None = None) -> list[Event]:
    """Convenience for tests and scripts: every event of an iterable of blocks, sorted by onset."""
    pipe = Pipeline(channels, config)
    events = [e for b in blocks for e in pipe.feed(b).events] + pipe.flush()
    return sort_events(events)


def sort_events(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.onset_s, e.channel, e.kind))
