"""Scenario → Blocks + ground truth, deterministic and chunk-size independent.

Time is cut into fixed segments of :data:`SEGMENT_S`. Everything random in a
segment is drawn from a generator seeded by ``(seed, stream, segment)``, and
the few processes that carry state across segments (twitch clusters, mains
phase and drift, baseline-wander filters, foot posture, pending waveforms)
advance exactly once per segment in segment order. Output chunks are cut
from the rendered segments, so any chunking yields the same samples.

Cramps, bursts and movements ("big events") are planned :data:`LOOKAHEAD_S`
ahead of rendering, so that the fasciculation flurry that precedes a cramp
and the quiet margins around big events are known when twitches are drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterator

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from fascdetect.errors import InputError
from fascdetect.model import Block, Channel
from fascdetect.regions import REGIONS
from firmware_sim import background as bg
from firmware_sim import physiology as phys
from firmware_sim.scenarios import Scenario, SimMontage, get_scenario
from firmware_sim.truth import TruthEvent

SEGMENT_S = 4
LOOKAHEAD_S = 40.0
"""Longer than the longest pre-cramp flurry (30 s) plus its gap and margins."""
_LOOKAHEAD_SEGMENTS = math.ceil(LOOKAHEAD_S / SEGMENT_S)

TWITCH_GAP_S = 0.15
"""Quiet time after a twitch on the same region before the next one, so truth never holds
two twitches the classification rules would merge into one multiplet."""
FOOT_COINCIDENCE_S = 0.015
"""Twitches on one foot closer than this would be merged as crosstalk; one of them is dropped."""
MOVEMENT_MARGIN_S = 0.5
CRAMP_MARGIN_S = (0.3, 0.5)
BURST_MARGIN_S = 0.3
ACTIVITY_MARGIN_S = 0.3
"""Twitches fired this close to voluntary activity of their region are ``masked`` in truth (0.5 s,
MOVEMENT_MARGIN_S, for gait)."""
BIG_EVENT_GAP_S = 2.0
"""Minimum quiet time between big events on one foot (no cramp during a movement)."""
ONSET_FRACTION = 0.1
"""A waveform's onset/end are where |w| first/last reaches this fraction of its peak."""

# Stream identifiers for the per-segment seeds.
_UNITS, _INIT, _BIG, _TWITCH, _POP, _NOISE, _MAINS = range(1, 8)
# Streams of the issue-10 components, separate so the older scenarios' draws stay as they were.
_BG_INIT, _LEVEL, _SPARSE, _ECG, _CABLE, _GAIT, _ACTIVITY = range(8, 15)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([*key, seed])


@dataclass(frozen=True)
class _Print:
    """A unit's waveform on one channel, at that channel's rate, starting at the discharge sample."""

    group: int
    row: int
    wave: np.ndarray
    onset: int
    end: int


def _print(group: int, row: int, wave: np.ndarray) -> _Print:
    above = np.flatnonzero(np.abs(wave) >= ONSET_FRACTION * np.max(np.abs(wave)))
    return _Print(group, row, wave, int(above[0]), int(above[-1]) + 1)


@dataclass(frozen=True)
class MotorUnit:
    """One motor unit: its surface potential on its own and neighbouring channels, and its twitch vibration."""

    side: str
    region: str
    peak_uv: float
    prints: tuple[_Print, ...]
    primary: tuple[int, int]
    """(group, row) of the channel truth is reported on: the region's EMG, else its strongest ACC axis."""


@dataclass
class _Overlay:
    """An event's signal on one channel, added into the segments it overlaps.

    ``hold``: the last value persists after the end (a posture change moves gravity for good)."""

    group: int
    row: int
    start: int
    data: np.ndarray
    hold: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.data)


@dataclass(frozen=True)
class SimChunk:
    """One step of the stream: a block per rate group, and the truth whose onset falls in it."""

    blocks: tuple[Block, ...]
    truth: tuple[TruthEvent, ...]
    artifacts: tuple[TruthEvent, ...]


class _Layout:
    """Where each (side, region, modality, axis) sits: rate group and row."""

    def __init__(self, montage: SimMontage) -> None:
        channels = montage.channels()
        rates = sorted({c.fs_hz for c in channels}, reverse=True)
        self.groups: tuple[tuple[Channel, ...], ...] = tuple(
            tuple(c for c in channels if c.fs_hz == fs) for fs in rates
        )
        self.fs = tuple(int(fs) for fs in rates)
        self.channels = tuple(c for g in self.groups for c in g)
        self.emg: dict[tuple[str, str], tuple[int, int]] = {}
        self.acc: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for gi, group in enumerate(self.groups):
            for row, ch in enumerate(group):
                key = (ch.side, ch.region)
                if ch.modality == "EMG":
                    self.emg[key] = (gi, row)
                else:
                    self.acc.setdefault(key, []).append((gi, row))
        self.sides = montage.sides
        self.regions = montage.regions

    def label(self, loc: tuple[int, int]) -> str:
        return self.groups[loc[0]][loc[1]].label

    def unit(self, loc: tuple[int, int]) -> str:
        return self.groups[loc[0]][loc[1]].unit

    def rows(self, side: str, modality: str) -> list[tuple[int, int]]:
        if modality == "EMG":
            return [loc for (s, _), loc in self.emg.items() if s == side]
        return [loc for (s, _), locs in self.acc.items() if s == side for loc in locs]


class Generator:
    """A simulated recording as a stream of chunks.

    ``duration_s`` None streams forever (the device simulator); otherwise the
    stream ends there and truth is trimmed to it. The object also satisfies
    the ``fascdetect.sources.Source`` protocol (``blocks()``, ``close()``).
    """

    def __init__(self, scenario: str | Scenario, seed: int = 0, *, duration_s: float | None = None,
                 montage: SimMontage | None = None, unit_seed: int | None = None) -> None:
        """``unit_seed``: draw the regions' fasciculating motor units from this seed instead of ``seed``, so
        a simulated person keeps the same units from night to night (the history's unit matching)."""
        sc = get_scenario(scenario)
        if montage is not None:
            sc = sc.with_(montage=montage)
        if int(seed) != seed or seed < 0:
            raise InputError(f"seed must be a non-negative integer, not {seed!r}")
        self.scenario, self.seed = sc, int(seed)
        self.unit_seed = self.seed if unit_seed is None else int(unit_seed)
        self.layout = _Layout(sc.montage)
        self.channels: tuple[Channel, ...] = self.layout.channels
        self.start: datetime = sc.start
        self.skipped: tuple[tuple[str, str], ...] = ()
        self.tick_s = 1.0 / math.gcd(*self.layout.fs)
        """Chunk lengths must be whole multiples of this (every rate group gets whole samples)."""
        self.duration_s = None if duration_s is None else float(duration_s)
        self._end = None if duration_s is None else tuple(self._samples(duration_s, fs, "duration") for fs in self.layout.fs)
        self.truth: list[TruthEvent] = []
        """Every truth event released so far, in onset order."""
        self.artifacts: list[TruthEvent] = []
        """Electrode pops released so far (not detector targets; kept for diagnosing false alarms)."""
        self._init_state()

    # ------------------------------------------------------------------ setup
    def _samples(self, seconds: float, fs: int, what: str) -> int:
        n = seconds * fs
        if seconds < 0 or abs(n - round(n)) > 1e-6:
            raise InputError(f"{what} {seconds} s is not a whole number of samples at {fs} Hz "
                             f"(use a multiple of {self.tick_s:g} s)")
        return int(round(n))

    def _init_state(self) -> None:
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _INIT)
        n_rows = [len(g) for g in lay.groups]
        is_emg = [np.array([c.modality == "EMG" for c in g]) for g in lay.groups]
        self._is_emg = is_emg
        contact = [rng.uniform(0.6, 1.4, n) for n in n_rows]
        self._noise_scale = [np.where(e, sc.noise_uv * c, sc.acc_noise_mg) for e, c in zip(is_emg, contact)]
        # Mains: per EMG row and harmonic an amplitude and phase, as cos/sin coefficients.
        self._mains = phys.Mains(sc.mains_hz, sc.mains_drift_hz)
        self._mains_coef = []
        for e, c in zip(is_emg, contact):
            amp = np.outer(np.where(e, sc.mains_uv * rng.uniform(0.5, 1.5, len(e)) * c, 0.0),
                           [a for _, a in phys.Mains.HARMONICS])
            ph = rng.uniform(0, 2 * np.pi, amp.shape)
            self._mains_coef.append(np.concatenate([amp * np.cos(ph), -amp * np.sin(ph)], axis=1))
        # Baseline wander: white noise through a 0.5 Hz Butterworth low-pass, state carried.
        self._wander_sos = [signal.butter(2, 0.5, "lowpass", fs=fs, output="sos") for fs in lay.fs]
        self._wander_gain = [sc.wander_uv / math.sqrt(2 * 1.1107 * 0.5 / fs) for fs in lay.fs]
        self._wander_zi = [np.zeros((1, int(e.sum()), 2)) for e in is_emg]
        # Gravity: a posture per foot, a fixed mounting rotation per accelerometer.
        self._posture = {side: phys.random_posture(rng) for side in lay.sides}
        self._mount = {key: Rotation.from_rotvec(rng.normal(0, 0.2, 3)) for key in sorted(lay.acc)}
        self._offset = [np.zeros(n) for n in n_rows]
        for key, locs in sorted(lay.acc.items()):
            g = phys.GRAVITY_MG * self._mount[key].apply(self._posture[key[0]])
            for axis, (gi, row) in enumerate(locs):
                self._offset[gi][row] = g[axis]
        self._clusters = {}
        if sc.clustering:
            for side in lay.sides:
                for region in lay.regions:
                    if region in sc.clustered_regions:
                        c = sc.clustering
                        self._clusters[(side, region)] = phys.ClusterProcess(c.active_s, c.pause_s, rng, c.start_active)
        # Each region's pool of fasciculating units.
        urng = _rng(self.unit_seed, _UNITS)
        self._pools = {(side, region): [self._make_unit(urng, side, region) for _ in range(sc.motor_units_per_region)]
                       for side in lay.sides for region in lay.regions}
        # Streaming state.
        self._pending: list[list[_Overlay]] = [[] for _ in lay.groups]
        self._windows: list[tuple[str, str | None, float, float]] = []
        self._flurries: list[tuple[str, str, float, float]] = []
        self._busy_until = {side: -math.inf for side in lay.sides}
        self._last_end = {}
        self._last_foot_onset = {side: -math.inf for side in lay.sides}
        self._planned = 0
        self._rendered = 0
        self._truth_pending: list[TruthEvent] = []
        self._artifact_pending: list[TruthEvent] = []
        self._buf = [np.zeros((n, 0), np.float32) for n in n_rows]
        self._pos = [0 for _ in lay.groups]
        self._range = [(np.array([c.physical_min for c in g]), np.array([c.physical_max for c in g])) for g in lay.groups]
        self._masks: list[tuple[str, str | None, float, float]] = []
        self.heartbeats_s: list[float] = []
        """R-peak times of the simulated heart (planned ahead of the stream), when ECG is on; an
        endless stream (``duration_s`` None) keeps only the latest few thousand."""
        self._init_background()

    def _init_background(self) -> None:
        """State of the real-background, walking and activity components (all off in the older presets)."""
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _BG_INIT)
        emg_groups = [gi for gi, e in enumerate(self._is_emg) if e.any()]
        self._colour = {gi: bg.ColouredNoise(bg.rest_noise_kernel(lay.fs[gi]), int(self._is_emg[gi].sum()))
                        for gi in emg_groups} if sc.noise_spectrum == "rest-emg" else {}
        self._level = {gi: bg.LevelProcess(int(self._is_emg[gi].sum()), lay.fs[gi], sc.noise_drift_sd,
                                           sc.noise_drift_tau_s, sc.noise_modulation_sd, rng)
                       for gi in emg_groups} if (sc.noise_drift_sd or sc.noise_modulation_sd) else {}
        self._ecg_rows = []
        if sc.ecg_uv > 0:
            for key in sorted(lay.emg):
                if key[1] in sc.ecg_regions:
                    gain = sc.ecg_uv * rng.uniform(0.6, 1.6) * float(rng.choice((-1.0, 1.0)))
                    self._ecg_rows.append((lay.emg[key], gain))
        self._heart = bg.HeartRhythm(rng.uniform(*sc.heart_rate_hz), sc.heart_rate_variability,
                                     rng.uniform(0.4, 1.2), rng.uniform(0, 2 * np.pi))
        self._walk_next_s = rng.uniform(*sc.walk_first_s) if sc.walking else math.inf

    def _make_unit(self, rng: np.random.Generator, side: str, region: str, amplitude_uv: float | None = None) -> MotorUnit:
        sc, lay = self.scenario, self.layout
        amp = amplitude_uv or sc.twitch_amplitude_scale * phys.draw_unit_amplitude_uv(
            rng, sc.twitch_amplitude_median_uv, sc.twitch_amplitude_sigma, sc.twitch_amplitude_min_uv, sc.twitch_amplitude_max_uv)
        shape, mmg = phys.draw_fp_shape(rng), phys.draw_mmg_shape(rng)
        mmg_mg = sc.mmg_mg_per_uv * amp * math.exp(0.4 * rng.standard_normal())
        prints, primary = [], None
        if (side, region) in lay.emg:
            gi, row = lay.emg[(side, region)]
            main = amp * shape.sample(lay.fs[gi])
            prints.append(_print(gi, row, main))
            primary = (gi, row)
            for nb in REGIONS[region].neighbours:
                if (side, nb) in lay.emg:
                    gain = rng.uniform(*sc.crosstalk_gain)
                    prints.append(_print(*lay.emg[(side, nb)], phys.crosstalk_waveform(main, lay.fs[gi], gain, rng)))
        for acc_region in [r for r in lay.regions if (side, r) in lay.acc]:
            if acc_region == region:
                gain, direction = 1.0, np.array(mmg.direction)
            elif acc_region in REGIONS[region].neighbours:
                gain, direction = 0.25, np.array(mmg.direction) + rng.normal(0, 0.5, 3)
                direction /= np.linalg.norm(direction)
            else:
                continue
            locs = lay.acc[(side, acc_region)]
            wave = mmg.sample(lay.fs[locs[0][0]])
            for axis, loc in enumerate(locs):
                w = mmg_mg * gain * direction[axis] * wave
                if np.max(np.abs(w)) >= 0.01:
                    prints.append(_print(*loc, w))
            if primary is None and acc_region == region:
                primary = locs[int(np.argmax(np.abs(direction)))]
        return MotorUnit(side, region, amp, tuple(prints), primary)

    # ------------------------------------------------------------- rendering of discharges
    def _render_discharges(self, rng: np.random.Generator, trains: list[tuple[MotorUnit, np.ndarray]],
                           kind: str, flags: frozenset[str] = frozenset()) -> TruthEvent:
        """Add the units' discharges (times in s) as overlays; return the truth on the strongest primary channel."""
        per_row: dict[tuple[int, int], list[tuple[_Print, np.ndarray, np.ndarray]]] = {}
        for unit, times in trains:
            gains = np.exp(0.05 * rng.standard_normal(len(times)))
            for p in unit.prints:
                idx = np.rint(times * self.layout.fs[p.group]).astype(np.int64)
                per_row.setdefault((p.group, p.row), []).append((p, idx, gains))
        overlays = {}
        for loc, items in per_row.items():
            lo = min(int(idx.min()) for _, idx, _ in items)
            hi = max(int(idx.max()) + len(p.wave) for p, idx, _ in items)
            data = np.zeros(hi - lo)
            for p, idx, gains in items:
                if len(idx) == 1:
                    data[idx[0] - lo: idx[0] - lo + len(p.wave)] += gains[0] * p.wave
                else:
                    imp = np.zeros(int(idx.max() - idx.min()) + 1)
                    np.add.at(imp, idx - idx.min(), gains)
                    s = int(idx.min()) - lo
                    data[s: s + len(imp) + len(p.wave) - 1] += np.convolve(imp, p.wave)
            overlays[loc] = self._add(_Overlay(loc[0], loc[1], lo, data))
        loc = max({u.primary for u, _ in trains} & overlays.keys(), key=lambda at: np.max(np.abs(overlays[at].data)))
        fs = self.layout.fs[loc[0]]
        spans = [(idx.min() + p.onset, idx.max() + p.end) for p, idx, _ in per_row[loc]]
        on, end = min(s for s, _ in spans), max(e for _, e in spans)
        ov = overlays[loc]
        seg = ov.data[on - ov.start: end - ov.start]
        side, region = trains[0][0].side, trains[0][0].region
        mean = float(np.sqrt(np.mean(seg ** 2))) if kind in ("cramp", "activity") else None
        return TruthEvent(float(on / fs), float((end - on) / fs), kind, side, region, self.layout.label(loc),
                          float(np.max(np.abs(ov.data))), self.layout.unit(loc), flags, mean)

    # ------------------------------------------------------------------ big events
    def _plan(self, k: int) -> None:
        """Draw the cramps, bursts and movements whose onset lies in segment ``k``."""
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _BIG, k)
        t0 = k * SEGMENT_S
        cands = []
        for side in lay.sides:
            for _ in range(rng.poisson(sc.movement_rate_per_h / 3600 * SEGMENT_S)):
                cands.append((t0 + rng.uniform(0, SEGMENT_S), side, "movement", "*"))
            regions = [r for r in sc.cramp_regions if r in lay.regions]
            if regions:
                for _ in range(rng.poisson(sc.cramp_rate_per_h / 3600 * SEGMENT_S)):
                    cands.append((t0 + rng.uniform(0, SEGMENT_S), side, "cramp", str(rng.choice(regions))))
            for region in lay.regions:
                for _ in range(rng.poisson(sc.burst_rate_per_h / 3600 * SEGMENT_S)):
                    cands.append((t0 + rng.uniform(0, SEGMENT_S), side, "burst", region))
        for t, side, kind, region in sorted(cands):
            if t < self._busy_until[side]:
                continue
            if kind == "movement":
                sides = [side]
                other = [s for s in lay.sides if s != side]
                if other and rng.random() < sc.movement_both_feet_probability:
                    sides.append(other[0])
                for i, s in enumerate(sides):
                    if t < self._busy_until[s]:
                        continue
                    ev = self._movement(rng, s, t + (0.0 if i == 0 else rng.uniform(0.0, 0.3)))
                    self._big(ev, s, None, MOVEMENT_MARGIN_S, MOVEMENT_MARGIN_S)
            elif kind == "cramp":
                self._big(self._cramp(rng, side, region, t), side, region, *CRAMP_MARGIN_S)
            else:
                pool = self._pools[(side, region)]
                k_unit = int(rng.integers(len(pool)))
                ev = self._render_discharges(rng, [(pool[k_unit], t + phys.burst_train(rng))], "burst")
                ev = replace(ev, motor_unit=f"{side}-{region}/{k_unit + 1}")
                self._big(ev, side, region, BURST_MARGIN_S, BURST_MARGIN_S)
        if self._ecg_rows:
            self._plan_heartbeats(k)
        if sc.walking:
            self._plan_walking(k)
        if sc.activity_rate_per_h > 0:
            self._plan_activity(k)

    def _big(self, ev: TruthEvent, side: str, region: str | None, before_s: float, after_s: float) -> None:
        self._truth_pending.append(ev)
        self._windows.append((side, region, ev.onset_s - before_s, ev.end_s + after_s))
        self._busy_until[side] = ev.end_s + BIG_EVENT_GAP_S

    def _cramp(self, rng: np.random.Generator, side: str, region: str, t: float) -> TruthEvent:
        sc = self.scenario
        lo, hi = sc.cramp_duration_s
        duration_s = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
        if rng.random() < sc.flurry_probability:
            end = t - rng.uniform(0.5, 2.0)
            self._flurries.append((side, region, max(0.0, end - rng.uniform(5.0, 30.0)), end))
        units = [self._make_unit(rng, side, region) for _ in range(int(rng.integers(8, 21)))]
        trains = phys.cramp_trains(rng, duration_s, len(units))
        return self._render_discharges(rng, [(u, t + tr) for u, tr in zip(units, trains) if len(tr)], "cramp")

    def _movement(self, rng: np.random.Generator, side: str, t: float) -> TruthEvent:
        """Voluntary movement/posture change of one foot: EMG on all its muscles, motion artifact, acceleration."""
        sc, lay = self.scenario, self.layout
        duration_s = rng.uniform(*sc.movement_duration_s)
        rise_s, fall_s = rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.4)
        level_uv = 120.0 * math.exp(0.4 * rng.standard_normal())
        new_posture = phys.rotate_posture(rng, self._posture[side], sc.posture_change_deg)
        found = []  # (is EMG, peak, overlay, fs, envelope)
        for gi, fs in enumerate(lay.fs):
            start = int(round(t * fs))
            n = max(int(round(duration_s * fs)), 2)
            env = phys.envelope(n, int(rise_s * fs), int(fall_s * fs))
            for g, row in lay.rows(side, "EMG"):
                if g == gi:
                    x = phys.voluntary_emg(rng, n, fs, level_uv * rng.uniform(0.7, 1.3), env)
                    x += phys.motion_artifact(rng, n, fs, rng.uniform(100.0, 600.0), env)
                    ov = self._add(_Overlay(g, row, start, x))
                    found.append((True, float(np.max(np.abs(x))), ov, fs, env))
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, n))
            for key in [k for k in sorted(lay.acc) if k[0] == side]:
                delta = phys.GRAVITY_MG * (self._mount[key].apply(new_posture) - self._mount[key].apply(self._posture[side]))
                for axis, (g, row) in enumerate(lay.acc[key]):
                    if g == gi:
                        x = phys.limb_acceleration(rng, n, fs, rng.uniform(100.0, 600.0), env)
                        ov = self._add(_Overlay(g, row, start, x))
                        self._add(_Overlay(g, row, start, delta[axis] * ramp, hold=True))
                        found.append((False, float(np.max(np.abs(x))), ov, fs, env))
        self._posture[side] = new_posture
        _, peak, ov, fs, env = max(found, key=lambda f: (f[0], f[1]))
        above = np.flatnonzero(env >= ONSET_FRACTION)
        on, end = ov.start + int(above[0]), ov.start + int(above[-1]) + 1
        loc = (ov.group, ov.row)
        return TruthEvent(float(on / fs), float((end - on) / fs), "movement", side, "*", self.layout.label(loc), peak,
                          self.layout.unit(loc), frozenset(), float(np.sqrt(np.mean(ov.data ** 2))))

    # ------------------------------------------------------------------ issue 10: heart, gait, activity
    def _plan_heartbeats(self, k: int) -> None:
        """ECG beats whose R peak falls in segment ``k``, on the calf/shin EMG channels."""
        rng = _rng(self.seed, _ECG, k)
        if self.duration_s is None and len(self.heartbeats_s) > 4000:  # an endless stream keeps the last hour or so
            del self.heartbeats_s[:-2000]
        for r_s in self._heart.beats(rng, float((k + 1) * SEGMENT_S)):
            self.heartbeats_s.append(r_s)
            size = 1.0 + 0.1 * math.sin(2 * math.pi * 0.25 * r_s + self._heart.resp_phase)
            beats = {}
            for (gi, row), gain in self._ecg_rows:
                fs = self.layout.fs[gi]
                i = math.floor(r_s * fs)
                if gi not in beats:
                    beats[gi] = bg.ecg_beat(fs, r_s - i / fs)
                self._add(_Overlay(gi, row, i + int(round(bg.ECG_SPAN_S[0] * fs)), gain * size * beats[gi]))

    def _plan_walking(self, k: int) -> None:
        """Walking bouts (both feet) starting in segment ``k``; delayed past any big event already planned."""
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _GAIT, k)
        t1 = float((k + 1) * SEGMENT_S)
        while self._walk_next_s < t1:
            start = max(self._walk_next_s, *(self._busy_until[s] for s in lay.sides))
            if start >= t1:
                self._walk_next_s = start
                return
            end = self._walk(rng, start, rng.uniform(*sc.walk_bout_s))
            self._walk_next_s = end + BIG_EVENT_GAP_S + rng.uniform(*sc.walk_pause_s)

    def _walk(self, rng: np.random.Generator, t0: float, duration_s: float) -> float:
        """One walking bout from ``t0``: gait bursts on every EMG channel, step impacts and foot swing on
        every accelerometer; one ``movement`` truth (flag ``gait``) per foot. Returns the bout's end."""
        sc, lay = self.scenario, self.layout
        stride_s = rng.uniform(*sc.stride_s)
        pitch_scale = rng.uniform(0.8, 1.2)
        swing_mg = rng.uniform(400.0, 900.0)
        last_end = t0
        lead = phys.stride_touchdowns(rng, t0, t0 + duration_s, stride_s)
        for si, side in enumerate(lay.sides):
            # The legs stay in antiphase: the other foot lands halfway through each stride of the first.
            tds = lead if si == 0 else 0.5 * (lead[:-1] + lead[1:]) + 0.01 * stride_s * rng.standard_normal(len(lead) - 1)
            n_strides = len(tds) - 1
            found = []  # (is EMG, peak, overlay, fs, envelope)
            for gi, fs in enumerate(lay.fs):
                start = int(math.ceil(tds[0] * fs))
                n = int(math.floor(tds[-1] * fs)) - start
                t = (start + np.arange(n)) / fs
                phase = phys.gait_phase(t, tds)
                stride_idx = np.clip(np.searchsorted(tds, t, side="right") - 1, 0, n_strides - 1)
                env = phys.envelope(n, int(0.4 * fs), int(0.4 * fs))
                impacts = [int(round(td * fs)) - start for td in tds[1:-1]]
                for (s, region), (g, row) in sorted(lay.emg.items()):
                    if s != side or g != gi:
                        continue
                    pattern = phys.GAIT_PATTERN.get(region, "INTRINSIC")
                    level = phys.GAIT_PEAK_UV[pattern] * sc.gait_emg_scale * rng.uniform(0.7, 1.3)
                    sizes = np.exp(phys.GAIT_BURST_CV * rng.standard_normal(n_strides))
                    burst = level * sizes[stride_idx] * phys.gait_envelope(pattern, phase) * env
                    x = phys.band_noise(rng, n, fs, 20.0, 300.0) * burst
                    x += phys.motion_artifact(rng, n, fs, rng.uniform(50.0, 300.0), env)
                    for i in impacts:  # the impact shakes electrode and cable
                        w = phys.heel_strike(rng, fs, rng.uniform(10.0, 60.0))
                        x[i: i + len(w)] += w[: max(0, n - i)]
                    ov = self._add(_Overlay(g, row, start, x))
                    found.append((True, float(np.max(np.abs(x))), ov, fs, env))
                for key in [kk for kk in sorted(lay.acc) if kk[0] == side]:
                    locs = [loc for loc in lay.acc[key] if loc[0] == gi]
                    if not locs:
                        continue
                    mount = self._mount[key]
                    g0 = self._posture[side]
                    pitch = np.deg2rad(pitch_scale * phys.foot_pitch_deg(phase)) * env
                    c, sn = np.cos(pitch), np.sin(pitch)
                    g = np.stack([g0[0] * c + g0[2] * sn, np.full(n, g0[1]), -g0[0] * sn + g0[2] * c], axis=1)
                    moved = phys.GRAVITY_MG * (mount.apply(g) - mount.apply(g0))
                    fwd = phys.swing_acceleration_mg(phase, swing_mg) * env
                    lift = phys.swing_acceleration_mg(phase - 0.09, 0.4 * swing_mg) * env
                    moved += mount.apply(np.stack([fwd, np.zeros(n), lift], axis=1))
                    normal = mount.apply(np.array([0.3, 0.0, 1.0]) / math.hypot(0.3, 1.0))
                    for i in impacts:
                        w = phys.heel_strike(rng, fs, rng.uniform(*sc.heel_strike_mg))
                        m = len(w[: max(0, n - i)])
                        moved[i: i + m] += np.outer(w[:m], normal)
                    for axis, (g_, row) in enumerate(locs):
                        ov = self._add(_Overlay(g_, row, start, moved[:, axis]))
                        found.append((False, float(np.max(np.abs(moved[:, axis]))), ov, fs, env))
            _, peak, ov, fs, env = max(found, key=lambda f: (f[0], f[1]))
            above = np.flatnonzero(env >= ONSET_FRACTION)
            on, end = ov.start + int(above[0]), ov.start + int(above[-1]) + 1
            ev = TruthEvent(float(on / fs), float((end - on) / fs), "movement", side, "*", self.layout.label((ov.group, ov.row)),
                            peak, self.layout.unit((ov.group, ov.row)), frozenset({"gait"}),
                            float(np.sqrt(np.mean(ov.data ** 2))))
            self._truth_pending.append(ev)
            self._masks.append((side, None, ev.onset_s - MOVEMENT_MARGIN_S, ev.end_s + MOVEMENT_MARGIN_S))
            self._busy_until[side] = ev.end_s + BIG_EVENT_GAP_S
            last_end = max(last_end, ev.end_s)
        return last_end

    def _plan_activity(self, k: int) -> None:
        """Episodes of weak voluntary activity whose onset falls in segment ``k``."""
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _ACTIVITY, k)
        t0 = k * SEGMENT_S
        for side in lay.sides:
            regions = [r for r in (sc.activity_regions or lay.regions) if (side, r) in lay.emg]
            onsets = np.sort(t0 + rng.uniform(0, SEGMENT_S, rng.poisson(sc.activity_rate_per_h / 3600 * SEGMENT_S)))
            for t in onsets:
                if not regions or t < self._busy_until[side]:
                    continue
                self._activity(rng, side, regions, float(t))

    def _activity(self, rng: np.random.Generator, side: str, regions: list[str], t: float) -> None:
        """One episode: a main muscle (and with some chance one or two more) recruits units that fire
        regular 6–12 pps trains under a trapezoid of force, over a raised background; one ``activity``
        truth per muscle."""
        sc, lay = self.scenario, self.layout
        lo, hi = sc.activity_duration_s
        duration_s = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
        main = regions[int(rng.integers(len(regions)))]
        active = [main]
        if len(regions) > 1 and rng.random() < sc.activity_co_contraction_probability:
            others = [r for r in regions if r != main]
            near = [r for r in others if r in REGIONS[main].neighbours] or others
            active += [str(r) for r in rng.choice(near, size=min(len(near), int(rng.integers(1, 3))), replace=False)]
        last_end = t
        for i, region in enumerate(active):
            onset = t if i == 0 else t + rng.uniform(0.0, 0.2)
            dur = max(lo, duration_s * (1.0 if i == 0 else rng.uniform(0.7, 1.0)))
            n_units = int(rng.integers(int(sc.activity_units[0]), int(sc.activity_units[1]) + 1))
            amps = np.sort([float(np.clip(sc.activity_unit_median_uv * math.exp(0.5 * rng.standard_normal()), 5.0, 300.0))
                            for _ in range(n_units)])
            units = [self._make_unit(rng, side, region, a) for a in amps]  # smallest first (size principle)
            profile = phys.force_profile(rng, dur)
            trains = phys.tonic_trains(rng, dur, n_units, profile)
            ev = self._render_discharges(rng, [(u, onset + tr) for u, tr in zip(units, trains) if len(tr)], "activity")
            gi, row = lay.emg[(side, region)]
            fs = lay.fs[gi]
            start = int(round(onset * fs))
            n = max(int(round(dur * fs)), 2)
            force = phys.trapezoid(np.arange(n) / fs, dur, *profile) / max(profile[0], 1e-9)
            level = rng.uniform(*sc.activity_background_x_noise) * self._noise_scale[gi][row] * profile[0]
            self._add(_Overlay(gi, row, start, level * force * phys.band_noise(rng, n, fs, 20.0, 250.0)))
            self._truth_pending.append(ev)
            self._masks.append((side, region, ev.onset_s - ACTIVITY_MARGIN_S, ev.end_s + ACTIVITY_MARGIN_S))
            last_end = max(last_end, ev.end_s, onset + dur)
        self._busy_until[side] = last_end + BIG_EVENT_GAP_S

    # ------------------------------------------------------------------ issue 10: background extras
    def _sparse(self, k: int) -> None:
        """Clusters of small distant-unit potentials on every EMG channel (part of the background, not truth).

        Their size is relative to the channel's noise, drift included, so that the fitted statistics
        (kurtosis, exceedances) hold however the level wanders."""
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _SPARSE, k)
        for key in sorted(lay.emg):
            gi, row = lay.emg[key]
            fs = lay.fs[gi]
            count = rng.poisson(sc.sparse_rate_per_min / 60 * SEGMENT_S)
            # The fitted ratio to the noise holds at every level: the potentials follow the slow drift
            # (as of the segment's start), not the fast modulation.
            drift = self._level[gi].factor_now(int(np.count_nonzero(self._is_emg[gi][:row]))) if gi in self._level else 1.0
            for t in np.sort(rng.uniform(k * SEGMENT_S, (k + 1) * SEGMENT_S, count)):
                peak = sc.sparse_peak_x_noise * math.exp(sc.sparse_peak_sigma * rng.standard_normal()) * self._noise_scale[gi][row] * drift
                self._add(_Overlay(gi, row, int(round(t * fs)), bg.sparse_cluster(rng, fs, peak, sc.sparse_extra_spikes)))

    def _cables(self, k: int) -> None:
        self._transients(k, _CABLE, self.scenario.cable_rate_per_h, bg.cable_artifact, "cable")

    def _transients(self, k: int, stream: int, rate_per_h: float,
                    make: Callable[[np.random.Generator, float], np.ndarray], kind: str) -> None:
        """Artifacts of segment ``k`` on every EMG channel (Poisson at ``rate_per_h``), listed in ``artifacts``."""
        lay = self.layout
        rng = _rng(self.seed, stream, k)
        for key in sorted(lay.emg):
            gi, row = lay.emg[key]
            fs = lay.fs[gi]
            for t in np.sort(rng.uniform(k * SEGMENT_S, (k + 1) * SEGMENT_S, rng.poisson(rate_per_h / 3600 * SEGMENT_S))):
                x = make(rng, fs)
                self._add(_Overlay(gi, row, int(round(t * fs)), x))
                self._artifact_pending.append(TruthEvent(float(round(t * fs) / fs), len(x) / fs, kind, key[0], key[1],
                                                         lay.label((gi, row)), float(np.max(np.abs(x))), "uV"))

    def _add(self, ov: _Overlay) -> _Overlay:
        self._pending[ov.group].append(ov)
        return ov

    # ------------------------------------------------------------------ per-segment draws
    def _twitches(self, k: int) -> None:
        sc, lay = self.scenario, self.layout
        rng = _rng(self.seed, _TWITCH, k)
        t0, t1 = float(k * SEGMENT_S), float((k + 1) * SEGMENT_S)
        cands = []
        for side in lay.sides:
            for region in lay.regions:
                rate = sc.twitch_rate(side, region) / 60.0
                cluster = self._clusters.get((side, region))
                spans = cluster.active_intervals(rng, t0, t1) if cluster else [(t0, t1)]
                spans = [(a, b, rate) for a, b in spans]
                spans += [(max(a, t0), min(b, t1), sc.flurry_rate_per_min / 60.0)
                          for s, r, a, b in self._flurries if s == side and r == region and a < t1 and b > t0]
                for a, b, r in spans:
                    for t in rng.uniform(a, b, rng.poisson(r * (b - a))):
                        cands.append((float(t), side, region))
        for t, side, region in sorted(cands):
            if any(s == side and (r is None or r == region) and a <= t <= b for s, r, a, b in self._windows):
                continue
            masked = any(s == side and (r is None or r == region) and a <= t <= b for s, r, a, b in self._masks)
            if t < self._last_end.get((side, region), -math.inf) + TWITCH_GAP_S:
                continue
            if t < self._last_foot_onset[side] + FOOT_COINCIDENCE_S:
                continue
            pool = self._pools[(side, region)]
            k_unit = int(rng.integers(len(pool)))
            unit = pool[k_unit]
            times = [t]
            if rng.random() < sc.doublet_probability:
                times.append(t + phys.doublet_interval_s(rng))
            flags = frozenset({"doublet"}) if len(times) == 2 else frozenset()
            if masked:
                flags |= {"masked"}
            ev = self._render_discharges(rng, [(unit, np.array(times))], "twitch", flags)
            ev = replace(ev, motor_unit=f"{side}-{region}/{k_unit + 1}")  # pool index: which unit fired
            self._truth_pending.append(ev)
            self._last_end[(side, region)] = ev.end_s
            self._last_foot_onset[side] = t
        self._windows = [w for w in self._windows if w[3] >= t0]
        self._flurries = [f for f in self._flurries if f[3] >= t0]
        self._masks = [m for m in self._masks if m[3] >= t0]

    def _pops(self, k: int) -> None:
        self._transients(k, _POP, self.scenario.pop_rate_per_h, phys.electrode_pop, "pop")

    def _render(self, k: int) -> list[np.ndarray]:
        """Signals of segment ``k``, one float32 array per rate group."""
        sc, lay = self.scenario, self.layout
        while self._planned <= k + _LOOKAHEAD_SEGMENTS:
            self._plan(self._planned)
            self._planned += 1
        self._twitches(k)
        self._pops(k)
        if sc.sparse_rate_per_min > 0:
            self._sparse(k)
        if sc.cable_rate_per_h > 0:
            self._cables(k)
        noise_rng, mains_rng = _rng(self.seed, _NOISE, k), _rng(self.seed, _MAINS, k)
        level_rng = _rng(self.seed, _LEVEL, k) if self._level else None
        out = []
        for gi, fs in enumerate(lay.fs):
            n = fs * SEGMENT_S
            s0, s1 = k * n, (k + 1) * n
            x = noise_rng.standard_normal((len(lay.groups[gi]), n)).astype(np.float64) * self._noise_scale[gi][:, None]
            x += self._offset[gi][:, None]
            emg = self._is_emg[gi]
            if gi in self._colour:
                x[emg] = self._colour[gi].step(x[emg])
            if gi in self._level:
                x[emg] *= self._level[gi].step(level_rng, n, float(SEGMENT_S))
            if emg.any():
                w, self._wander_zi[gi] = signal.sosfilt(self._wander_sos[gi], noise_rng.standard_normal((int(emg.sum()), n)),
                                                        axis=1, zi=self._wander_zi[gi])
                x[emg] += self._wander_gain[gi] * w
                if sc.mains_hz:  # all EMG channels share one rate group, so one mains phase
                    ph = self._mains.step(mains_rng, n, fs)
                    basis = np.concatenate([np.cos(np.outer([h for h, _ in phys.Mains.HARMONICS], ph)),
                                            np.sin(np.outer([h for h, _ in phys.Mains.HARMONICS], ph))])
                    x += self._mains_coef[gi] @ basis
            keep = []
            for ov in self._pending[gi]:
                if ov.start >= s1:
                    keep.append(ov)
                    continue
                lo, hi = max(ov.start, s0), min(ov.end, s1)
                if hi > lo:
                    x[ov.row, lo - s0: hi - s0] += ov.data[lo - ov.start: hi - ov.start]
                if ov.end > s1:
                    keep.append(ov)
                elif ov.hold:
                    x[ov.row, ov.end - s0:] += ov.data[-1]
                    self._offset[gi][ov.row] += ov.data[-1]
            self._pending[gi] = keep
            if sc.emg_quantum_uv > 0 and emg.any():
                x[emg] = bg.quantise(x[emg], sc.emg_quantum_uv)
            if sc.clip:
                np.clip(x, self._range[gi][0][:, None], self._range[gi][1][:, None], out=x)
            out.append(x.astype(np.float32))
        return out

    # ------------------------------------------------------------------ streaming API
    def read(self, chunk_s: float) -> SimChunk:
        """The next ``chunk_s`` seconds (less at the end of a finite recording; empty after it)."""
        lay = self.layout
        want = [self._samples(chunk_s, fs, "chunk") for fs in lay.fs]
        if self._end is not None:
            want = [min(w, e - p) for w, e, p in zip(want, self._end, self._pos)]
        while self._buf[0].shape[1] < want[0]:
            seg = self._render(self._rendered)
            self._rendered += 1
            self._buf = [np.concatenate([b, s], axis=1) for b, s in zip(self._buf, seg)]
        blocks = []
        for gi, n in enumerate(want):
            data, self._buf[gi] = self._buf[gi][:, :n], self._buf[gi][:, n:]
            blocks.append(Block(lay.groups[gi], float(lay.fs[gi]), self._pos[gi], np.ascontiguousarray(data)))
            self._pos[gi] += n
        until_s = self._pos[0] / lay.fs[0]
        truth = self._release(self._truth_pending, until_s, trim=True)
        arts = self._release(self._artifact_pending, until_s, trim=False)
        self.truth.extend(truth)
        self.artifacts.extend(arts)
        return SimChunk(tuple(blocks), tuple(truth), tuple(arts))

    def _release(self, pending: list[TruthEvent], until_s: float, trim: bool) -> list[TruthEvent]:
        due = sorted((e for e in pending if e.onset_s < until_s), key=lambda e: (e.onset_s, e.side, e.region))
        pending[:] = [e for e in pending if e.onset_s >= until_s]
        if not trim or self.duration_s is None:
            return due
        out = []
        for e in due:
            if e.end_s <= self.duration_s:
                out.append(e)
            elif e.kind in ("cramp", "movement", "activity"):
                out.append(TruthEvent(e.onset_s, self.duration_s - e.onset_s, e.kind, e.side, e.region, e.channel,
                                      e.amplitude, e.unit, e.flags | {"truncated"}, e.mean_amplitude))
        return out

    @property
    def finished(self) -> bool:
        return self._end is not None and self._pos[0] >= self._end[0]

    def chunks(self, chunk_s: float = 1.0) -> Iterator[SimChunk]:
        """Chunks until the end (forever when ``duration_s`` is None)."""
        while not self.finished:
            yield self.read(chunk_s)

    def blocks(self, chunk_s: float = 1.0) -> Iterator[Block]:
        """Blocks only (truth accumulates in :attr:`truth`): the ``Source`` protocol."""
        for chunk in self.chunks(chunk_s):
            yield from chunk.blocks

    def close(self) -> None:
        self._end = tuple(self._pos)


@dataclass(frozen=True)
class SimResult:
    """A whole short recording in memory: one block per rate group, and its truth."""

    scenario: Scenario
    seed: int
    channels: tuple[Channel, ...]
    blocks: tuple[Block, ...]
    truth: tuple[TruthEvent, ...]
    artifacts: tuple[TruthEvent, ...]
    start: datetime
    duration_s: float
    heartbeats_s: tuple[float, ...] = ()
    """R-peak times of the simulated heart (empty unless the scenario has ECG)."""

    def channel(self, label: str) -> tuple[np.ndarray, float]:
        """(samples, fs_hz) of the channel with this label."""
        for b in self.blocks:
            for row, ch in enumerate(b.channels):
                if ch.label == label:
                    return b.data[row], b.fs_hz
        raise KeyError(label)

    def events(self, kind: str | None = None) -> list[TruthEvent]:
        return [e for e in self.truth if kind is None or e.kind == kind]


def simulate(scenario: str | Scenario, duration_s: float, seed: int = 0, montage: SimMontage | None = None) -> SimResult:
    """Generate a short recording in memory (use :class:`Generator` for long ones)."""
    gen = Generator(scenario, seed, duration_s=duration_s, montage=montage)
    parts = [c.blocks for c in gen.chunks(SEGMENT_S)]
    blocks = tuple(
        Block(group, float(fs), 0, np.concatenate([p[gi].data for p in parts], axis=1) if parts
              else np.zeros((len(group), 0), np.float32))
        for gi, (group, fs) in enumerate(zip(gen.layout.groups, gen.layout.fs))
    )
    return SimResult(gen.scenario, seed, gen.channels, blocks, tuple(gen.truth), tuple(gen.artifacts), gen.start,
                     float(duration_s), tuple(b for b in gen.heartbeats_s if b < duration_s))
