"""Named simulation scenarios and the knobs they set.

A :class:`Scenario` is plain data: which channels exist (:class:`SimMontage`)
and how often and how strongly each physiological process happens. Tests and
benchmarks build custom ones with ``dataclasses.replace`` or
:meth:`Scenario.with_`; the CLI picks presets by name from :data:`SCENARIOS`.
The figures behind the defaults are in docs/simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from fascdetect.errors import InputError
from fascdetect.regions import AXES, SIDES, Placement, region_code

if TYPE_CHECKING:
    from fascdetect.model import Channel

EMG_FS_RANGE_HZ = (500, 4000)
ACC_FS_RANGE_HZ = (50, 1000)


@dataclass(frozen=True)
class SimMontage:
    """Which sensors the simulated wearable has, and their sampling and ADC ranges.

    EMG channels are bipolar surface electrodes over a muscle (µV); an ACC
    region has a 3-axis accelerometer (mg). Rates are integers in Hz so that
    every rate group has whole samples per simulation segment.
    """

    sides: tuple[str, ...] = ("L", "R")
    emg_regions: tuple[str, ...] = ("AbH", "FDB", "ADM", "PER", "GAS")
    acc_regions: tuple[str, ...] = ("ADM", "AbH")
    emg_fs_hz: int = 2000
    acc_fs_hz: int = 400
    emg_range_uv: float = 6000.0
    """ADC input range ±, µV (a 16-bit EDF step is then ~0.18 µV)."""
    acc_range_mg: float = 8000.0
    """Accelerometer full scale ±, mg (±8 g)."""

    def __post_init__(self) -> None:
        sides = tuple(s.upper() for s in self.sides)
        if not sides or any(s not in SIDES for s in sides) or len(set(sides)) != len(sides):
            raise InputError(f"montage sides must be L and/or R, not {self.sides!r}")
        object.__setattr__(self, "sides", sides)
        for name in ("emg_regions", "acc_regions"):
            codes = tuple(region_code(r) for r in getattr(self, name))
            if len(set(codes)) != len(codes):
                raise InputError(f"montage {name} lists a region twice: {codes}")
            object.__setattr__(self, name, codes)
        if not self.emg_regions and not self.acc_regions:
            raise InputError("montage has no channels: give EMG and/or ACC regions")
        for value, (lo, hi), what in (
            (self.emg_fs_hz, EMG_FS_RANGE_HZ, "EMG"),
            (self.acc_fs_hz, ACC_FS_RANGE_HZ, "ACC"),
        ):
            if int(value) != value or not lo <= value <= hi:
                raise InputError(f"{what} sampling rate must be a whole number of Hz in {lo}–{hi}, not {value}")
            object.__setattr__(self, f"{what.lower()}_fs_hz", int(value))

    def channels(self) -> tuple[Channel, ...]:
        """All channels, EMG first, in a stable order (side, region, axis)."""
        from fascdetect.model import Channel  # here, not above: `simulate --help` lists scenarios without numpy

        out = []
        for side in self.sides:
            for region in self.emg_regions:
                p = Placement("EMG", side, region)
                out.append(Channel(p.label(), p, float(self.emg_fs_hz), "uV", -self.emg_range_uv, self.emg_range_uv))
        for side in self.sides:
            for region in self.acc_regions:
                for axis in AXES:
                    p = Placement("ACC", side, region, axis)
                    out.append(Channel(p.label(), p, float(self.acc_fs_hz), "mg", -self.acc_range_mg, self.acc_range_mg))
        return tuple(out)

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions covered by any sensor, EMG regions first."""
        return self.emg_regions + tuple(r for r in self.acc_regions if r not in self.emg_regions)


@dataclass(frozen=True)
class Clustering:
    """Twitches that come in clusters: active for a while, then a pause.

    Durations are drawn uniformly from the ranges; the process starts in an
    active period (at a random point of it) when ``start_active``.
    """

    active_s: tuple[float, float] = (5.0, 60.0)
    pause_s: tuple[float, float] = (300.0, 600.0)
    start_active: bool = True


# Twitch (fasciculation) rates per minute while active. The benign profile
# follows the low single-digit rates per muscle reported in benign
# fasciculation syndrome, highest in the calf; the ALS-like profile the
# higher, more widespread rates of motor neurone disease (docs/simulator.md).
RATE_PROFILES: dict[str, dict[str, float]] = {
    "benign": {"AbH": 2.0, "FDB": 2.0, "ADM": 3.0, "EDB": 1.5, "PER": 1.5, "FHL": 1.0, "EHL": 1.0, "TA": 2.0, "GAS": 6.0},
    "als-like": {"AbH": 15.0, "FDB": 18.0, "ADM": 12.0, "EDB": 15.0, "PER": 20.0, "FHL": 10.0, "EHL": 10.0, "TA": 25.0, "GAS": 30.0},
}


@dataclass(frozen=True)
class Scenario:
    """Everything that shapes a simulated recording except the seed and duration.

    Rates are per (side, region): ``twitch_rate_per_min`` maps a region code
    (both sides) or ``"L-ADM"`` (one side) to twitches per minute while
    active. Amplitudes are peak surface amplitudes of single fasciculation
    potentials, lognormal, then multiplied by ``twitch_amplitude_scale``.
    """

    name: str
    description: str = ""
    montage: SimMontage = field(default_factory=SimMontage)
    start: datetime = datetime(2026, 1, 5, 10, 0, 0)
    # --- fasciculations
    twitch_rate_per_min: Mapping[str, float] = field(default_factory=lambda: dict(RATE_PROFILES["benign"]))
    clustering: Clustering | None = None
    clustered_regions: tuple[str, ...] = ()
    motor_units_per_region: int = 6
    twitch_amplitude_median_uv: float = 90.0
    twitch_amplitude_sigma: float = 0.6
    """Lognormal sigma: with the median 90 µV, 5–95% of units lie in ~34–240 µV."""
    twitch_amplitude_min_uv: float = 20.0
    twitch_amplitude_max_uv: float = 800.0
    twitch_amplitude_scale: float = 1.0
    doublet_probability: float = 0.05
    burst_rate_per_h: float = 0.0
    """Short trains of one unit (0.15–2 s), per region per hour."""
    # --- cramps
    cramp_rate_per_h: float = 0.0
    """Per foot per hour."""
    cramp_regions: tuple[str, ...] = ("FDB", "AbH", "GAS", "ADM")
    cramp_duration_s: tuple[float, float] = (8.0, 120.0)
    """Log-uniform range of cramp durations."""
    flurry_probability: float = 0.7
    flurry_rate_per_min: float = 30.0
    # --- movement
    movement_rate_per_h: float = 0.0
    """Per foot per hour (a movement of both feet counts once per foot)."""
    movement_both_feet_probability: float = 0.3
    movement_duration_s: tuple[float, float] = (1.0, 5.0)
    posture_change_deg: tuple[float, float] = (5.0, 60.0)
    # --- noise and interference
    noise_uv: float = 3.0
    """Electrode and amplifier noise, RMS µV (varies ±40% between channels with contact)."""
    acc_noise_mg: float = 0.5
    mains_hz: float = 50.0
    mains_uv: float = 8.0
    """Mains amplitude at the fundamental, µV (per channel ×0.5–1.5)."""
    mains_drift_hz: float = 0.05
    wander_uv: float = 25.0
    """Baseline wander (below ~0.5 Hz), RMS µV."""
    pop_rate_per_h: float = 0.3
    """Electrode pops per EMG channel per hour."""
    crosstalk_gain: tuple[float, float] = (0.05, 0.15)
    """Volume-conducted fraction of a unit's potential seen over a neighbouring muscle."""
    mmg_mg_per_uv: float = 0.03
    """Mechanomyogram peak (mg) per µV of surface potential, median."""
    clip: bool = True
    # --- realistic rest background (issue 10; docs/simulator.md, "Real backgrounds"). Every knob
    # is off by default, so the older presets make exactly the recordings they always made.
    noise_spectrum: str = "white"
    """'white', or 'rest-emg': coloured like real rest EMG (peak ~70–90 Hz), ``noise_uv`` then
    being the RMS in 20–450 Hz."""
    sparse_rate_per_min: float = 0.0
    """Clusters of small potentials of distant motor units, per EMG channel per minute."""
    sparse_peak_x_noise: float = 4.0
    """Median peak of a distant unit's potential, in multiples of the channel's noise RMS (lognormal)."""
    sparse_peak_sigma: float = 0.2
    sparse_extra_spikes: float = 0.5
    """Mean number of further potentials of the same unit in a cluster (30–200 ms apart)."""
    noise_modulation_sd: float = 0.0
    """SD (natural log) of the background level's fast (< 3 Hz) modulation."""
    noise_drift_sd: float = 0.0
    """SD (natural log) of the background level's slow drift (sweat, contact); 0.3 is about ±35%."""
    noise_drift_tau_s: float = 1200.0
    """Time constant of that drift, s."""
    ecg_uv: float = 0.0
    """R-peak amplitude of the ECG on calf/shin EMG channels, µV (per channel ×0.6–1.6, either polarity)."""
    ecg_regions: tuple[str, ...] = ("GAS", "TA", "PER")
    heart_rate_hz: tuple[float, float] = (1.0, 1.3)
    """Range of the recording's mean heart rate (drawn once per recording)."""
    heart_rate_variability: float = 0.03
    """Beat-to-beat SD of the RR interval, as a fraction (plus ±5% respiratory sinus arrhythmia)."""
    cable_rate_per_h: float = 0.0
    """Cable-motion transients per EMG channel per hour (listed in ``artifacts`` as kind ``cable``)."""
    emg_quantum_uv: float = 0.0
    """EMG ADC step, µV (0: no quantisation). A 12-bit BITalino EMG front end: 0.7985 µV."""
    # --- walking (issue 10)
    walking: bool = False
    """Alternate walking bouts (both feet) with standing still."""
    walk_bout_s: tuple[float, float] = (20.0, 90.0)
    walk_pause_s: tuple[float, float] = (10.0, 60.0)
    walk_first_s: tuple[float, float] = (3.0, 10.0)
    """When the first bout starts, s."""
    stride_s: tuple[float, float] = (0.95, 1.15)
    """Range of a bout's mean stride time, s (cadence near 1 stride per second)."""
    gait_emg_scale: float = 1.0
    heel_strike_mg: tuple[float, float] = (1500.0, 4000.0)
    # --- weak voluntary activity (issue 10)
    activity_rate_per_h: float = 0.0
    """Episodes of weak voluntary/tonic activity per foot per hour."""
    activity_duration_s: tuple[float, float] = (0.3, 30.0)
    """Log-uniform range of an episode's duration."""
    activity_regions: tuple[str, ...] = ()
    """Muscles that may be active (default: every EMG region of the montage)."""
    activity_units: tuple[float, float] = (2.0, 6.0)
    """Range of the number of units a muscle recruits in an episode."""
    activity_unit_median_uv: float = 10.0
    """Median peak of those units' surface potentials (lognormal, σ 0.5, kept in 5–300 µV): at the
    presets' 2.5 µV noise, episodes look like the weak activity in BioSPPy emg.txt (docs/simulator.md)."""
    activity_background_x_noise: tuple[float, float] = (0.3, 1.2)
    """Raised background (many small far units) at full force, RMS in multiples of the channel's noise."""
    activity_co_contraction_probability: float = 0.3
    """Chance that one or two more muscles of the foot join an episode."""

    def __post_init__(self) -> None:
        rates = {}
        for key, value in dict(self.twitch_rate_per_min).items():
            side, _, region = key.rpartition("-")
            if side and side.upper() not in SIDES:
                raise InputError(f"scenario {self.name}: bad rate key {key!r} (use 'ADM' or 'L-ADM')")
            if not 0 <= float(value) <= 600:
                raise InputError(f"scenario {self.name}: twitch rate {value} per minute for {key} is out of range")
            rates[f"{side.upper()}-{region_code(region)}" if side else region_code(region)] = float(value)
        object.__setattr__(self, "twitch_rate_per_min", rates)
        object.__setattr__(self, "clustered_regions", tuple(region_code(r) for r in self.clustered_regions))
        object.__setattr__(self, "cramp_regions", tuple(region_code(r) for r in self.cramp_regions))
        if self.mains_hz not in (0, 50, 60):
            raise InputError(f"scenario {self.name}: mains must be 50 or 60 Hz (or 0 for none), not {self.mains_hz}")
        object.__setattr__(self, "ecg_regions", tuple(region_code(r) for r in self.ecg_regions))
        object.__setattr__(self, "activity_regions", tuple(region_code(r) for r in self.activity_regions))
        if self.noise_spectrum not in ("white", "rest-emg"):
            raise InputError(f"scenario {self.name}: noise_spectrum must be 'white' or 'rest-emg', not {self.noise_spectrum!r}")
        if self.emg_quantum_uv < 0:
            raise InputError(f"scenario {self.name}: emg_quantum_uv must be ≥ 0 µV")
        for name in ("walk_bout_s", "walk_pause_s", "walk_first_s", "stride_s", "heel_strike_mg", "heart_rate_hz",
                     "activity_duration_s", "activity_units", "activity_background_x_noise"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise InputError(f"scenario {self.name}: {name} must be a range (low, high) with 0 ≤ low ≤ high")
        if self.walking and (self.walk_bout_s[0] < 2.0 or self.walk_bout_s[1] > 120.0 or self.stride_s[0] < 0.5):
            raise InputError(f"scenario {self.name}: walking bouts must last 2–120 s with strides of at least 0.5 s")
        if self.activity_duration_s[0] < 0.2 or self.activity_units[0] < 1:
            raise InputError(f"scenario {self.name}: activity needs episodes of ≥ 0.2 s and at least one unit")
        if self.motor_units_per_region < 1:
            raise InputError(f"scenario {self.name}: need at least one motor unit per region")

    def twitch_rate(self, side: str, region: str) -> float:
        """Twitches per minute while active on ``side``/``region``."""
        rates = self.twitch_rate_per_min
        return rates.get(f"{side}-{region}", rates.get(region, 0.0))

    def with_(self, **changes: Any) -> "Scenario":
        """A copy with some knobs changed (validated again)."""
        return replace(self, **changes)


_NIGHT_START = datetime(2026, 1, 5, 23, 0, 0)

REAL_BACKGROUND: dict[str, Any] = {
    "noise_spectrum": "rest-emg",
    "noise_uv": 2.5,
    "sparse_rate_per_min": 45.0,
    "noise_modulation_sd": 0.11,
    "noise_drift_sd": 0.3,
    "ecg_uv": 10.0,
    "cable_rate_per_h": 6.0,
}
"""The background fitted to real rest EMG (docs/simulator.md, "Real backgrounds"): coloured noise at
2.5 µV RMS in band, sparse distant-unit potentials, level modulation and drift, ECG on calf and
shin channels, cable artifacts. Use ``Scenario(..., **REAL_BACKGROUND)`` or ``sc.with_(**REAL_BACKGROUND)``."""

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "rest",
            "Awake at rest, feet still: benign fasciculation rates, clean contact.",
            movement_rate_per_h=2.0,
        ),
        Scenario(
            "night",
            "Hours of sleep: benign twitches, occasional foot cramps and position changes.",
            start=_NIGHT_START,
            cramp_rate_per_h=0.4,
            movement_rate_per_h=6.0,
            movement_both_feet_probability=0.6,
            posture_change_deg=(15.0, 90.0),
            burst_rate_per_h=1.0,
            clustering=Clustering(active_s=(10.0, 60.0), pause_s=(300.0, 600.0)),
            clustered_regions=("ADM", "AbH", "FDB"),
        ),
        Scenario(
            "post-exercise",
            "After a long walk or run: high twitch rates in the arch (AbH, FDB), a few short bursts.",
            twitch_rate_per_min={**RATE_PROFILES["benign"], "AbH": 30.0, "FDB": 35.0, "ADM": 6.0},
            doublet_probability=0.08,
            burst_rate_per_h=6.0,
            cramp_rate_per_h=0.5,
            cramp_regions=("FDB", "AbH"),
            movement_rate_per_h=4.0,
        ),
        Scenario(
            "little-toe",
            "Clusters of twitches in abductor digiti minimi (the little toe flicks sideways), quiet elsewhere.",
            twitch_rate_per_min={**{r: v / 4 for r, v in RATE_PROFILES["benign"].items()}, "ADM": 30.0},
            clustering=Clustering(active_s=(10.0, 60.0), pause_s=(300.0, 600.0)),
            clustered_regions=("ADM",),
            twitch_amplitude_median_uv=140.0,
            doublet_probability=0.1,
            mmg_mg_per_uv=0.05,
        ),
        Scenario(
            "noisy",
            "Poor electrode contact: more noise, strong 60 Hz mains with harmonics, wander and frequent pops.",
            noise_uv=9.0,
            mains_hz=60.0,
            mains_uv=150.0,
            mains_drift_hz=0.1,
            wander_uv=120.0,
            pop_rate_per_h=20.0,
            movement_rate_per_h=3.0,
        ),
        Scenario(
            "acc-only",
            "Accelerometers only (no electrodes): twitches seen as mechanical vibrations, some movement.",
            montage=SimMontage(emg_regions=(), acc_regions=("ADM", "AbH", "FDB")),
            twitch_rate_per_min={"ADM": 12.0, "AbH": 6.0, "FDB": 6.0},
            twitch_amplitude_median_uv=140.0,
            mmg_mg_per_uv=0.06,
            movement_rate_per_h=6.0,
        ),
        Scenario(
            "als-like",
            "Widespread high fasciculation rates (the rate profile reported in motor neurone disease); not a diagnosis.",
            twitch_rate_per_min=dict(RATE_PROFILES["als-like"]),
            twitch_amplitude_median_uv=150.0,
            twitch_amplitude_sigma=0.8,
            doublet_probability=0.12,
        ),
        Scenario(
            "walking",
            "Walking bouts (gait bursts on TA in swing, PER and GAS in stance, step impacts) between spells "
            "of standing still, on a real-like background.",
            montage=SimMontage(emg_regions=("AbH", "FDB", "ADM", "TA", "PER", "GAS")),
            walking=True,
            movement_rate_per_h=4.0,
            **REAL_BACKGROUND,
        ),
        Scenario(
            "restless",
            "Awake but fidgety: position shifts and weak voluntary/tonic activity (motor-unit trains at "
            "6-12 Hz) between quiet stretches, on a real-like background.",
            activity_rate_per_h=60.0,
            movement_rate_per_h=20.0,
            posture_change_deg=(5.0, 40.0),
            **REAL_BACKGROUND,
        ),
    )
}


def get_scenario(name: str | Scenario) -> Scenario:
    """A preset by name (or the scenario itself), InputError for unknown names."""
    if isinstance(name, Scenario):
        return name
    try:
        return SCENARIOS[name.strip().lower()]
    except KeyError:
        raise InputError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
