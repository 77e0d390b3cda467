"""DetectorConfig: every detection parameter, with its default and unit, in one place.

The CLI and the GUI show and override these; nothing else in the pipeline
hides a constant that changes what is detected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from fascdetect.errors import InputError
from fascdetect.overrides import parse_overrides
from fascdetect.units.config import SortConfig


@dataclass(frozen=True)
class DetectorConfig:
    # --- EMG conditioning -------------------------------------------------
    emg_band_hz: tuple[float, float] = (20.0, 450.0)
    """Surface-EMG band: below 20 Hz is motion artifact and baseline wander, above 450 Hz little EMG power."""
    emg_filter_order: int = 2
    """Butterworth order per band edge (2 gives a 4th-order band-pass)."""
    mains_hz: float | None = None
    """50 or 60; None detects it from the first seconds of each recording."""
    mains_probe_s: float = 2.0
    """How much signal the mains detector and the initial noise floor look at before detection starts."""
    mains_stop_width_hz: float = 3.0
    """Width of the mains band-stop at the fundamental (harmonics scale with it): deep across ±1 Hz of drift."""
    mains_min_power_ratio: float = 0.1
    """Mains (and each harmonic) is removed only when its line carries this fraction of the broadband EMG power."""
    mains_max_harmonics: int = 3
    """At most this many harmonics (2nd, 3rd, ...) are removed besides the fundamental."""

    # --- accelerometer conditioning ----------------------------------------
    acc_twitch_band_hz: tuple[float, float] = (6.0, 50.0)
    """Mechanomyogram band: a twitch's damped vibration is ~10-40 Hz; a wider band only adds sensor noise."""
    acc_motion_band_hz: tuple[float, float] = (0.3, 5.0)
    """Gross motion: slower than twitches, faster than posture (gravity) drift."""
    movement_acc_mg: float = 60.0
    """Low-band acceleration magnitude above which a foot is moving."""

    # --- envelope and noise floor -----------------------------------------
    envelope_bin_s: float = 0.001
    """Envelope resolution; the RMS envelope is computed on bins of this length."""
    emg_envelope_window_s: float = 0.005
    """Moving-RMS window for EMG: shorter than the briefest fasciculation potential (~3 ms) would be noisy, longer smears doublets."""
    acc_envelope_window_s: float = 0.025
    """Moving-RMS window for accelerometers: spans about one cycle of a 40 Hz mechanomyogram."""
    noise_frame_s: float = 0.25
    """The noise floor is the median envelope of frames this long (robust to the brief events inside)."""
    noise_history_frames: int = 40
    """Frames (10 s at 0.25 s) whose medians make up the running noise floor."""
    noise_reject_factor: float = 1.6
    """A frame whose median exceeds the floor by this factor holds sustained activity and is kept out of the floor."""
    noise_max_hold_s: float = 120.0
    """After this long with every frame rejected the floor follows the signal anyway (the noise level really changed)."""

    # --- hysteresis thresholds (multiples of the channel's noise floor) -----
    threshold_on: float = 3.5
    """Envelope/floor ratio that starts an event; 3.5 keeps white noise below 0.1 false twitches per minute."""
    threshold_off: float = 2.0
    """Envelope/floor ratio below which an event ends."""
    acc_threshold_on: float = 3.0
    """The accelerometer's start ratio: its rest background is the sensor's own even noise, without EMG's sparse
    low-level potentials, summed over three axes and 25 ms, so 3.0 gives no false twitch in hours of sensor noise,
    even with one axis twice as noisy as another (2.7 does). Set on the simulator and on white noise: no real
    accelerometer of 200 Hz or more at rest is at hand."""
    settle_s: float = 0.5
    """Filters ring briefly after a stream starts; nothing is detected in this first stretch."""
    discharge_gap_s: float = 0.012
    """Envelope dips shorter than this (the zero crossing of a biphasic potential) do not split a discharge."""
    offset_fraction_of_peak: float = 0.4
    """An event ends at its last moment above this fraction of its own peak envelope (ringing after it is not it)."""
    offset_peak_decay_s: float = 0.3
    """That peak decays with this time constant, so sustained activity is measured against its recent level."""
    min_event_s: float = 0.002
    """Shorter excursions are noise spikes."""
    artifact_peak_uv: float = 4000.0
    """Brief EMG transients larger than this are electrode pops, not motor units."""
    pop_max_balance: float = 0.35
    """Brief EMG transients whose smaller phase is below this fraction of the larger are pops: a step through
    the 20 Hz high-pass is one-sided (~0.25), motor-unit potentials are bi/triphasic (>= ~0.5)."""
    artifact_swing_ratio: float = 1.0
    """Brief EMG transients whose unfiltered low band (below ~20 Hz) swings by more than this × their in-band
    peak are cable or contact artifacts: a motor-unit potential's phases cancel there (~0.1 ×, 95 % below
    0.45 on the simulator), a tugged lead's swing does not (0.8-4 ×, median 2.2)."""

    # --- classification ------------------------------------------------------
    twitch_max_s: float = 0.1
    """A single fasciculation potential (with the envelope's smearing) is shorter than this."""
    acc_twitch_max_s: float = 0.35
    """A twitch's mechanical response (damped 10-40 Hz vibration) lasts up to ~300 ms."""
    multiplet_gap_s: float = 0.11
    """Discharges repeating within this gap are one twitch (doublet/multiplet)."""
    repeat_min_ratio: float = 0.6
    """A repeat smaller than this fraction of the cluster's largest discharge is ringing, not a doublet (one unit firing twice repeats its own size)."""
    multiplet_max: int = 4
    """More discharges than this in one cluster make a burst, not a multiplet."""
    cramp_min_s: float = 3.0
    """Sustained focal activity at least this long is a cramp."""
    cramp_merge_gap_s: float = 0.5
    """Gaps up to this long inside sustained activity do not split it."""
    crosstalk_window_s: float = 0.005
    """Potentials on channels of one foot peaking within this window are one discharge seen twice."""
    nonfocal_ratio: float = 0.6
    """A brief potential seen at this fraction of its size or more on another channel of the foot at the same
    moment is not focal (ECG, cable motion) and is dropped; a twitch's crosstalk is far weaker (5-35 %)."""
    ringing_window_s: float = 0.4
    """How long after a discharge the filters may still ring (a 3 Hz-wide mains band-stop decays over ~0.3 s)."""
    ringing_ratio: float = 0.3
    """Activity smaller than this fraction of a preceding discharge on its channel, within the window, is ringing.
    On another channel of the foot the limit is ``ringing_ratio × crosstalk_ratio`` (about 0.1): that channel
    rings only after its volume-conducted copy, which is at most ``crosstalk_ratio`` of the discharge."""
    crosstalk_ratio: float = 0.35
    """Longer activity is crosstalk when a concurrent channel of the same foot is larger by 1/ratio."""
    movement_min_regions: int = 3
    """Concurrent activity on this many regions of one foot (or all of a smaller foot's) is movement."""
    movement_min_s: float = 0.15
    """Only activity at least this long takes part in movement detection (twitches do not)."""
    movement_min_active: float = 0.3
    """A span takes part in movement detection only if its discharges fill this fraction of it."""
    movement_margin_s: float = 0.5
    """Events this close to a movement belong to it."""
    acc_confirm_window_s: tuple[float, float] = (-0.02, 0.12)
    """An accelerometer response starting this long before/after an EMG twitch confirms it."""
    acc_crosstalk_window_s: float = 0.03
    """Mechanical vibration reaches neighbouring accelerometers within this window."""

    # --- rest state: twitches are counted only in a relaxed muscle ------------
    local_reference_s: float = 0.3
    """CFAR reference window on each side of a brief candidate: its own local background."""
    local_guard_s: float = 0.01
    """Gap between a candidate and its reference windows (the envelope's smearing)."""
    twitch_min_local_snr: float = 7.0
    """A twitch's peak (largest filtered sample) must exceed its local background (the smallest median RMS
    envelope of the reference sub-windows around it) by this factor. Real rest EMG holds a population of small
    potentials up to ~7x its background (BioSPPy emg.txt, ~12 per minute); below that a potential is background."""
    spike_max_s: float = 0.005
    """Above threshold for less than this long, a potential is a spike (see ``spike_min_local_snr``)."""
    spike_min_local_snr: float = 12.0
    """A potential briefer than ``spike_max_s`` above threshold needs this factor instead: real rest EMG's distant
    units are sharp 1.5-4.5 ms spikes at a few times the background, longer above threshold once noise rides on
    them. 5 ms: simulated real-like rest 0.055 -> 0.037 false twitches per channel-minute, recall of 10x-noise
    twitches on white noise 0.988 -> 0.977 (6 ms: 0.023, but 0.925)."""
    raised_background_factor: float = 1.6
    """A candidate whose local background exceeds the channel's rest floor by this factor sits in raised (tonic or
    voluntary) activity: active, not counted."""
    activity_gap_s: float = 0.25
    """Discharges of one channel at most this far apart form a train (voluntary units fire at 5-25 Hz)."""
    activity_min_discharges: int = 4
    """A train of at least this many discharges is voluntary or tonic activity..."""
    activity_min_s: float = 0.4
    """...spanning at least this long (a 6 Hz train of 0.5 s; a multiplet of 4 spans at most ~0.35 s)..."""
    activity_max_cv: float = 0.5
    """...at a fairly regular interval: the coefficient of variation of its intervals at most this
    (voluntary units ~0.1-0.3; Poisson fasciculations ~1)."""
    activity_density_window_s: float = 1.0
    """How far on either side of a candidate low-level potentials are counted (``activity_density_min``)."""
    activity_density_min: int = 3
    """A candidate with at least this many low-level potentials (below the twitch SNR) within the window on either
    side sits in weak voluntary activity (real rest holds ~0.2 such potentials per second, weak contractions 3+)."""
    activity_margin_s: float = 1.0
    """Candidates this close to an active stretch of their channel belong to it and are not counted."""
    cramp_min_fill: float = 0.2
    """A cramp is sustained: its discharges fill at least this fraction of its span. Simulated cramps fill
    0.33-0.65, the separate potentials of real weak voluntary contractions 0.03-0.10."""
    gait_burst_gap_s: float = 0.15
    """Gaps up to this long inside one muscle's gait burst do not split it."""
    gait_min_burst_s: float = 0.1
    """A gait burst lasts at least this long (swing-phase TA, stance-phase calf: 0.2-0.6 s)."""
    gait_period_s: tuple[float, float] = (0.4, 2.5)
    """Successive bursts of one muscle this far apart (onset to onset) are one stride (cadence 0.4-2.5 Hz)."""
    gait_min_strides: int = 3
    """This many bursts at stride intervals on one muscle, with another muscle of the leg bursting too, is gait."""
    gait_max_overlap: float = 0.5
    """Walking alternates muscles: the two bursting muscles of a gait stretch overlap for at most this fraction
    of the briefer one's burst time. A cramp's bursts and their copies on a neighbour (crosstalk) coincide."""
    acc_min_twitch_fs_hz: float = 200.0
    """Below this rate an accelerometer cannot resolve a twitch's mechanical response (a mechanomyogram reaches
    about 100 Hz; the 10-40 Hz vibration that carries most of it needs several samples a cycle): movement only."""
    emg_min_twitch_fs_hz: float = 500.0
    """Below this EMG rate a 3-40 ms potential is barely resolved: detection is flagged unreliable."""

    # --- motor units: grouping the twitches, after detection -------------------
    motor_units: SortConfig = SortConfig()
    """The motor-unit sorter's settings (``fascdetect.units.SortConfig``, each with its reason). They change no
    event, only which putative unit a twitch is given; set them as ``motor_units.NAME=VALUE``."""

    def __post_init__(self) -> None:
        lo, hi = self.emg_band_hz
        if not 0 < lo < hi:
            raise InputError(f"emg_band_hz must be (low, high) with 0 < low < high, not {self.emg_band_hz}")
        if self.mains_hz not in (None, 50.0, 60.0, 50, 60):
            raise InputError(f"mains_hz must be 50, 60 or None (detect), not {self.mains_hz}")
        if not min(self.threshold_on, self.acc_threshold_on) > self.threshold_off > 1.0:
            raise InputError("thresholds must satisfy threshold_on, acc_threshold_on > threshold_off > 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, pairs: list[str]) -> "DetectorConfig":
        """Apply ``NAME=VALUE`` strings (from ``--set``), each parsed by the field's type; the sorter's settings
        are ``motor_units.NAME=VALUE``."""
        return replace(self, **parse_overrides(self, pairs, nullable=frozenset({"mains_hz"})))
