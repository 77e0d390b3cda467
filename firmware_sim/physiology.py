"""Signal models: fasciculation potentials, cramps, movement, mechanomyogram, interference.

Each function draws one physiological or technical component from a numpy
``Generator`` and returns it in physical units (µV, mg, seconds). Nothing
here knows about segments, channels or files: the generator composes these
pieces. The figures behind every range are listed, with references, in
docs/simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

GRAVITY_MG = 1000.0

# Surface fasciculation potentials last ~5–30 ms; foot muscles under surface
# electrodes mostly 8–20 ms (docs/simulator.md, "Fasciculation potentials").
FP_DURATION_S = (0.006, 0.025)
DOUBLET_INTERVAL_S = (0.010, 0.110)
# Cramp motor-unit discharge in abductor hallucis (Minetto et al. 2009):
# mean 14.5 ± 5.1 pulses/s, minimum ~6, maximum 25 ± 8, ISI CV 44.6%.
CRAMP_RATE_PPS = (6.0, 30.0)
CRAMP_MEAN_PPS = (14.5, 5.1)
CRAMP_ISI_CV = 0.45
CRAMP_RECRUIT_S = (1.0, 2.0)
# Mechanomyogram of a single twitch: damped 10–40 Hz vibration, 50–300 ms.
MMG_FREQ_HZ = (10.0, 40.0)
MMG_DURATION_S = (0.05, 0.30)
MMG_DELAY_S = (0.005, 0.015)
"""Electromechanical delay between the potential and the vibration."""


@dataclass(frozen=True)
class FpShape:
    """One motor unit's surface potential: a mix of the first and second Gaussian derivatives.

    The first derivative is the biphasic shape of a unit seen by a bipolar
    electrode; the second (a 'Mexican hat') the triphasic one; ``mix`` blends
    them and the two half-widths make it asymmetric like a real MUAP.
    """

    sigma_left_s: float
    sigma_right_s: float
    mix: float
    sign: float

    @property
    def duration_s(self) -> float:
        return 3.0 * (self.sigma_left_s + self.sigma_right_s)

    def sample(self, fs_hz: float) -> np.ndarray:
        """Peak-normalised waveform (max |w| = 1) sampled at ``fs_hz``, starting at its left tail."""
        # Below ~1.2 samples per sigma the shape aliases: a real front end's
        # anti-aliasing filter would widen it the same way.
        floor_s = 1.2 / fs_hz
        sl, sr = max(self.sigma_left_s, floor_s), max(self.sigma_right_s, floor_s)
        t = np.arange(-int(np.ceil(4 * sl * fs_hz)), int(np.ceil(4 * sr * fs_hz)) + 1) / fs_hz
        sig = np.where(t < 0, sl, sr)
        u = t / sig
        gauss = np.exp(-0.5 * u * u)
        w = np.cos(self.mix) * (-u * gauss) / 0.6065 + np.sin(self.mix) * (1 - u * u) * gauss
        return self.sign * w / np.max(np.abs(w))


def draw_fp_shape(rng: np.random.Generator) -> FpShape:
    duration_s = float(np.exp(rng.uniform(*np.log(FP_DURATION_S))))
    sigma_s = duration_s / 6.0
    skew = rng.uniform(-0.3, 0.3)
    return FpShape(sigma_s * (1 - skew), sigma_s * (1 + skew), rng.uniform(0.0, np.pi / 2), rng.choice((-1.0, 1.0)))


def draw_unit_amplitude_uv(rng: np.random.Generator, median_uv: float, sigma: float, lo_uv: float, hi_uv: float) -> float:
    """Peak surface amplitude of one unit: lognormal, kept inside [lo, hi]."""
    return float(np.clip(median_uv * np.exp(sigma * rng.standard_normal()), lo_uv, hi_uv))


def crosstalk_waveform(w: np.ndarray, fs_hz: float, gain: float, rng: np.random.Generator) -> np.ndarray:
    """What an electrode over a neighbouring muscle sees of waveform ``w``.

    Volume conduction through tissue is a spatial low-pass: the far potential
    is smaller, smoother and slightly later (0–2 ms).
    """
    smooth_s = rng.uniform(0.0005, 0.0015)
    half = max(1, int(np.ceil(3 * smooth_s * fs_hz)))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / (smooth_s * fs_hz)) ** 2)
    far = np.convolve(w, k / k.sum())
    delay = int(round(rng.uniform(0.0, 0.002) * fs_hz))
    far = np.concatenate([np.zeros(delay), far])
    return gain * far / np.max(np.abs(far)) * np.max(np.abs(w))


@dataclass(frozen=True)
class MmgShape:
    """A twitch's mechanical response at an accelerometer: a damped sinusoid along one direction."""

    freq_hz: float
    tau_s: float
    delay_s: float
    direction: tuple[float, float, float]

    def sample(self, fs_hz: float) -> np.ndarray:
        """Peak-normalised scalar waveform at ``fs_hz`` (times ``direction`` per axis), delay included.

        Built as the derivative of a damped-sine velocity that starts and ends at rest, so the
        acceleration integrates to zero (the skin comes back to where it was).
        """
        freq = min(self.freq_hz, 0.35 * fs_hz)
        n = int(np.ceil((self.delay_s + 5 * self.tau_s) * fs_hz)) + 2
        t = np.arange(n) / fs_hz - self.delay_s
        rise_s = 0.25 / freq
        velocity = np.where(t > 0, (1 - np.exp(-t / rise_s)) * np.sin(2 * np.pi * freq * t) * np.exp(-t / self.tau_s), 0.0)
        w = np.diff(velocity, prepend=0.0)
        return w / np.max(np.abs(w))


def draw_mmg_shape(rng: np.random.Generator) -> MmgShape:
    # Duration ≈ 4 τ (to ~2% of the start), and at least 1.5 cycles so it is a vibration, not a
    # single push; the twitch pushes mostly normal to the skin (sensor Z).
    freq_hz = rng.uniform(*MMG_FREQ_HZ)
    duration_s = rng.uniform(max(MMG_DURATION_S[0], 1.5 / freq_hz), MMG_DURATION_S[1])
    d = rng.normal(0.0, 0.35, 3)
    d[2] += 1.0
    d /= np.linalg.norm(d)
    return MmgShape(freq_hz, duration_s / 4.0, rng.uniform(*MMG_DELAY_S), tuple(float(x) for x in d))


def doublet_interval_s(rng: np.random.Generator) -> float:
    return float(rng.uniform(*DOUBLET_INTERVAL_S))


def gamma_train(rng: np.random.Generator, rate_pps: np.ndarray | float, cv: float, start_s: float, stop_s: float,
                rate_at=None) -> np.ndarray:
    """Discharge times in [start_s, stop_s) of a unit firing with gamma ISIs of the given CV.

    ``rate_at(t)`` (pulses/s) lets the rate follow recruitment and fatigue; a
    constant ``rate_pps`` otherwise. ISIs shorter than 15 ms (refractory) are
    stretched to 15 ms.
    """
    shape = 1.0 / (cv * cv)
    times = []
    t = start_s
    while t < stop_s:
        times.append(t)
        rate = rate_at(t) if rate_at else float(rate_pps)
        t += max(0.015, rng.gamma(shape, 1.0 / (shape * max(rate, 0.5))))
    return np.asarray(times)


def cramp_trains(rng: np.random.Generator, duration_s: float, n_units: int) -> list[np.ndarray]:
    """Discharge times (s from cramp onset) of the units of one cramp.

    Units join one by one over the first 1–2 s (recruitment), each speeds up
    from ~6 pulses/s to its own plateau (14.5 ± 5 pps, kept in 8–30), and they drop out again
    over the last ~1.5 s; ISIs are gamma with CV ≈ 45%. A common drive oscillating at
    1–2 Hz (±15%) modulates all units together, as the 1.4 Hz coherence between unit pairs
    in Minetto et al. 2009 suggests, so the cramp waxes and wanes.
    """
    recruit_s = rng.uniform(*CRAMP_RECRUIT_S)
    drive_hz, drive_phase = rng.uniform(1.0, 2.0), rng.uniform(0.0, 2 * np.pi)
    trains = []
    for i in range(n_units):
        on = 0.0 if i == 0 else rng.uniform(0.0, recruit_s)
        off = duration_s - (0.0 if i == 0 else rng.uniform(0.0, min(1.5, duration_s / 4)))
        plateau = float(np.clip(rng.normal(*CRAMP_MEAN_PPS), 8.0, CRAMP_RATE_PPS[1]))
        lo = CRAMP_RATE_PPS[0]

        def rate_at(t: float, on=on, off=off, plateau=plateau, lo=lo) -> float:
            up = min(1.0, (t - on) / 1.0)
            down = min(1.0, max(0.0, (off - t) / 1.0))
            drive = 1.0 + 0.15 * np.sin(2 * np.pi * drive_hz * t + drive_phase)
            return (lo + (plateau - lo) * min(up, down)) * drive

        trains.append(gamma_train(rng, 0.0, CRAMP_ISI_CV, on, off, rate_at))
    return trains


def burst_train(rng: np.random.Generator) -> np.ndarray:
    """A short train of one unit (myokymic-like burst): 6–20 discharges at 10–30 Hz, ISI CV 20%.

    Trains shorter than 6 discharges would read as a multiplet (one twitch).
    """
    n = int(rng.integers(6, 21))
    rate = rng.uniform(10.0, 30.0)
    isi = np.clip(rng.gamma(25.0, 1.0 / (25.0 * rate), n - 1), 0.03, 0.1)
    return np.concatenate([[0.0], np.cumsum(isi)])


def envelope(n: int, rise_n: int, fall_n: int) -> np.ndarray:
    """Raised-cosine on/off envelope of ``n`` samples."""
    e = np.ones(n)
    rise_n, fall_n = min(rise_n, n // 2), min(fall_n, n // 2)
    if rise_n:
        e[:rise_n] = 0.5 - 0.5 * np.cos(np.pi * np.arange(rise_n) / rise_n)
    if fall_n:
        e[n - fall_n:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fall_n + 1) / fall_n)
    return e


def band_noise(rng: np.random.Generator, n: int, fs_hz: float, lo_hz: float | None, hi_hz: float | None) -> np.ndarray:
    """Unit-RMS Gaussian noise band-limited to [lo, hi] Hz (zero-phase; for whole events, not streams)."""
    hi_hz = None if hi_hz is None else min(hi_hz, 0.45 * fs_hz)
    if lo_hz and hi_hz:
        sos = signal.butter(2, (lo_hz, hi_hz), "bandpass", fs=fs_hz, output="sos")
    elif hi_hz:
        sos = signal.butter(2, hi_hz, "lowpass", fs=fs_hz, output="sos")
    else:
        sos = signal.butter(2, lo_hz, "highpass", fs=fs_hz, output="sos")
    pad = int(3 * fs_hz / (lo_hz or hi_hz))
    x = signal.sosfiltfilt(sos, rng.standard_normal(n + 2 * pad))[pad:pad + n]
    rms = np.sqrt(np.mean(x * x))
    return x / rms if rms > 0 else x


def voluntary_emg(rng: np.random.Generator, n: int, fs_hz: float, rms_uv: float, env: np.ndarray) -> np.ndarray:
    """Interference pattern of many units in a voluntary contraction: 20–250 Hz noise, slowly modulated."""
    mod = 1.0 + 0.3 * band_noise(rng, n, fs_hz, None, 3.0)
    return rms_uv * band_noise(rng, n, fs_hz, 20.0, 250.0) * np.clip(mod, 0.2, None) * env


def motion_artifact(rng: np.random.Generator, n: int, fs_hz: float, peak_uv: float, env: np.ndarray) -> np.ndarray:
    """Electrode/cable motion: large 1–10 Hz swings while the foot moves."""
    x = band_noise(rng, n, fs_hz, 1.0, 10.0) * env
    return peak_uv * x / max(np.max(np.abs(x)), 1e-12)


def limb_acceleration(rng: np.random.Generator, n: int, fs_hz: float, peak_mg: float, env: np.ndarray) -> np.ndarray:
    """Low-frequency (< 4 Hz) acceleration of a foot being moved, one axis."""
    x = band_noise(rng, n, fs_hz, 0.3, 4.0) * env
    return peak_mg * x / max(np.max(np.abs(x)), 1e-12)


def electrode_pop(rng: np.random.Generator, fs_hz: float) -> np.ndarray:
    """A sudden step of 0.3–3 mV that decays over 50–500 ms (electrode-skin charge release)."""
    tau_s = rng.uniform(0.05, 0.5)
    t = np.arange(int(5 * tau_s * fs_hz)) / fs_hz
    return rng.choice((-1.0, 1.0)) * rng.uniform(300.0, 3000.0) * np.exp(-t / tau_s)


def rotate_posture(rng: np.random.Generator, gravity: np.ndarray, angle_deg: tuple[float, float]) -> np.ndarray:
    """A new gravity direction (sensor frame) after the foot turns by a random angle about a random axis."""
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    rot = Rotation.from_rotvec(np.deg2rad(rng.uniform(*angle_deg)) * axis)
    return rot.apply(gravity)


def random_posture(rng: np.random.Generator) -> np.ndarray:
    """Gravity unit vector for a resting foot: mostly along sensor Z, tilted up to ~35°."""
    g = np.array([0.0, 0.0, -1.0]) + rng.normal(0.0, 0.3, 3)
    return g / np.linalg.norm(g)


class ClusterProcess:
    """Alternating active/pause periods of one region's twitching (an alternating renewal process).

    State is carried between calls, so advancing segment by segment gives the
    same periods however the caller's draws are laid out in time.
    """

    def __init__(self, active_s: tuple[float, float], pause_s: tuple[float, float], rng: np.random.Generator,
                 start_active: bool = True) -> None:
        self.active_s, self.pause_s = active_s, pause_s
        self.active = start_active
        span = active_s if start_active else pause_s
        self.until_s = rng.uniform(*span) * rng.uniform(0.2, 1.0)

    def active_intervals(self, rng: np.random.Generator, t0_s: float, t1_s: float) -> list[tuple[float, float]]:
        """Active parts of [t0, t1); advances the process to t1."""
        out = []
        t = t0_s
        while t < t1_s:
            end = min(self.until_s, t1_s)
            if self.active and end > t:
                out.append((t, end))
            t = end
            if self.until_s <= t1_s:
                self.active = not self.active
                self.until_s += rng.uniform(*(self.active_s if self.active else self.pause_s))
        return out


class Mains:
    """Mains hum with a slowly drifting frequency and harmonics, phase-continuous across segments.

    The grid frequency wanders by a few hundredths of a hertz (an AR(1) walk
    per segment, linearly interpolated inside it); the hum reaches each
    electrode with its own amplitude and phase, and the 3rd harmonic is
    the strongest overtone (non-linear loads).
    """

    HARMONICS = ((1, 1.0), (2, 0.08), (3, 0.3), (5, 0.1))

    def __init__(self, mains_hz: float, drift_hz: float) -> None:
        self.mains_hz, self.drift_hz = mains_hz, drift_hz
        self.phase = 0.0
        self.dev_hz = 0.0

    def step(self, rng: np.random.Generator, n: int, fs_hz: float) -> np.ndarray:
        """Fundamental phase (rad) for the next ``n`` samples; advances the state."""
        new_dev = float(np.clip(0.9 * self.dev_hz + rng.normal(0.0, self.drift_hz * 0.45), -4 * self.drift_hz, 4 * self.drift_hz))
        k = np.arange(n, dtype=np.float64)
        f0 = self.mains_hz + self.dev_hz
        df = new_dev - self.dev_hz
        phase = self.phase + 2 * np.pi * (f0 * k + 0.5 * df * k * k / n) / fs_hz
        self.phase = float((self.phase + 2 * np.pi * (f0 * n + 0.5 * df * n) / fs_hz) % (2 * np.pi))
        self.dev_hz = new_dev
        return phase


# ---------------------------------------------------------------- gait (issue 10)
# Linear envelopes over one gait cycle (touchdown to touchdown, 5% steps), relative to their peak:
# measured on Santuz et al. 2020's treadmill recording ID0012 (../shared/data/walking_leg_emg,
# 6 cycles, 20–450 Hz band-pass, rectified, 6 Hz low-pass). Tibialis anterior: loading response
# and swing; peroneus longus and gastrocnemius: mid/late stance. Foot intrinsics (not in that
# recording) are active from mid-stance to toe-off (Mann & Inman 1964): a bump at 30–60%.
GAIT_ENVELOPES: dict[str, tuple[float, ...]] = {
    "TA": (1.0, 0.88, 0.24, 0.0, 0.05, 0.06, 0.05, 0.09, 0.12, 0.11, 0.05, 0.03, 0.14, 0.31, 0.48, 0.65, 0.59, 0.32, 0.2, 0.52),
    "PER": (0.45, 0.4, 0.15, 0.07, 0.07, 0.06, 0.29, 0.76, 1.0, 0.92, 0.84, 0.66, 0.36, 0.18, 0.22, 0.3, 0.26, 0.18, 0.15, 0.28),
    "GAS": (0.05, 0.05, 0.06, 0.12, 0.24, 0.39, 0.53, 0.79, 1.0, 0.7, 0.2, 0.01, 0.03, 0.02, 0.0, 0.13, 0.3, 0.21, 0.03, 0.01),
    "SOL": (0.09, 0.13, 0.28, 0.48, 0.52, 0.51, 0.58, 0.76, 0.93, 1.0, 0.88, 0.43, 0.07, 0.03, 0.06, 0.08, 0.09, 0.07, 0.04, 0.06),
    "INTRINSIC": (0.05, 0.05, 0.05, 0.08, 0.15, 0.3, 0.55, 0.85, 1.0, 0.95, 0.75, 0.4, 0.12, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05),
}
# Peak envelope (≈ RMS, µV) of each pattern in that recording: TA 153, PL 104, GM 185, SOL 144;
# intrinsics ~60 µV is a modelling choice.
GAIT_PEAK_UV = {"TA": 150.0, "PER": 100.0, "GAS": 150.0, "SOL": 140.0, "INTRINSIC": 60.0}
GAIT_PATTERN = {"TA": "TA", "EHL": "TA", "EDB": "TA", "PER": "PER", "GAS": "GAS", "FHL": "SOL",
                "AbH": "INTRINSIC", "FDB": "INTRINSIC", "ADM": "INTRINSIC"}
STANCE_FRACTION = 0.64
"""Touchdown to lift-off over the stride: 0.63–0.64 in the same recording."""
STRIDE_CV = 0.025
"""Stride-to-stride variability of stride time in healthy walking (Hausdorff et al. 1995: ~2–3%)."""
GAIT_BURST_CV = 0.12
"""Stride-to-stride variation of burst size (0.04–0.30 across muscles in ID0012; GM 0.12)."""


def gait_envelope(pattern: str, phase: np.ndarray) -> np.ndarray:
    """Relative envelope (peak 1) of ``pattern`` at gait phases in [0, 1) (periodic linear interpolation)."""
    table = np.asarray(GAIT_ENVELOPES[pattern])
    grid = np.arange(len(table) + 1) / len(table)
    return np.interp(np.mod(phase, 1.0), grid, np.append(table, table[0]))


def stride_touchdowns(rng: np.random.Generator, start_s: float, stop_s: float, stride_s: float) -> np.ndarray:
    """Touchdown times of one foot from ``start_s`` while before ``stop_s`` (stride CV 2.5%), last one included."""
    times = [start_s]
    while times[-1] < stop_s:
        times.append(times[-1] + stride_s * (1.0 + STRIDE_CV * rng.standard_normal()))
    return np.asarray(times)


def gait_phase(t_s: np.ndarray, touchdowns: np.ndarray) -> np.ndarray:
    """Phase in [0, 1) of each time between consecutive touchdowns (NaN outside them)."""
    k = np.searchsorted(touchdowns, t_s, side="right") - 1
    ok = (k >= 0) & (k < len(touchdowns) - 1)
    kk = np.clip(k, 0, len(touchdowns) - 2)
    ph = (t_s - touchdowns[kk]) / (touchdowns[kk + 1] - touchdowns[kk])
    return np.where(ok, ph, np.nan)


# Foot pitch over the gait cycle (degrees, + = toes up), after the sagittal foot angle of normal
# walking (Winter 1991): heel strike toes up ~+20°, flat by 10%, heel rise from ~45%, toes down
# ~-35° just after toe-off (~65%), back toes-up through swing.
FOOT_PITCH_DEG = ((0.0, 20.0), (0.1, 0.0), (0.45, 0.0), (0.64, -30.0), (0.7, -35.0), (0.85, -5.0), (1.0, 20.0))


def foot_pitch_deg(phase: np.ndarray) -> np.ndarray:
    grid, deg = zip(*FOOT_PITCH_DEG)
    return np.interp(np.mod(phase, 1.0), grid, deg)


def swing_acceleration_mg(phase: np.ndarray, peak_mg: float) -> np.ndarray:
    """Forward acceleration of the foot in swing (lift-off to touchdown): speeds up, then brakes."""
    u = (np.mod(phase, 1.0) - STANCE_FRACTION) / (1.0 - STANCE_FRACTION)
    return np.where((u > 0) & (u < 1), peak_mg * np.sin(2 * np.pi * u), 0.0)


def heel_strike(rng: np.random.Generator, fs_hz: float, peak_mg: float) -> np.ndarray:
    """Impact transient at touchdown: a 15–40 Hz ring decaying in 10–25 ms (scalar, peak ``peak_mg``)."""
    freq = min(rng.uniform(15.0, 40.0), 0.35 * fs_hz)
    tau = rng.uniform(0.010, 0.025)
    t = np.arange(int(6 * tau * fs_hz) + 2) / fs_hz
    x = np.sin(2 * np.pi * freq * t + 0.5 * np.pi) * np.exp(-t / tau)
    return peak_mg * x / np.max(np.abs(x))


# ---------------------------------------------------------------- weak voluntary activity (issue 10)
TONIC_RATE_PPS = (6.0, 12.0)
"""Firing of low-threshold units in weak contractions: they start near 6 pps at recruitment and
rise with force (rate coding); 6–12 pps at low force (De Luca & Hostage 2010, issue 10)."""
TONIC_ISI_CV = (0.1, 0.3)
"""Voluntary trains are regular: ISI CV ~0.1–0.3 (issue 10; Moritz et al. 2005 report ~0.1–0.2
at steady low forces, higher near recruitment)."""


def force_profile(rng: np.random.Generator, duration_s: float) -> tuple[float, float, float]:
    """A weak contraction's relative force: (peak, ramp-up s, ramp-down s), a trapezoid."""
    peak = rng.uniform(0.3, 1.0)
    up = rng.uniform(0.1, 0.4) * duration_s
    down = rng.uniform(0.1, 0.4) * duration_s
    return peak, min(up, 2.0), min(down, 2.0)


def trapezoid(t: np.ndarray | float, duration_s: float, peak: float, up_s: float, down_s: float):
    t = np.asarray(t, dtype=float)
    rise = np.clip(t / max(up_s, 1e-9), 0.0, 1.0)
    fall = np.clip((duration_s - t) / max(down_s, 1e-9), 0.0, 1.0)
    return peak * np.minimum(rise, fall) * ((t >= 0) & (t <= duration_s))


def tonic_trains(rng: np.random.Generator, duration_s: float, n_units: int, profile: tuple[float, float, float],
                 cv: tuple[float, float] = TONIC_ISI_CV, rate_pps: tuple[float, float] = TONIC_RATE_PPS
                 ) -> list[np.ndarray]:
    """Discharge times (s from onset) of the units of a weak voluntary contraction.

    Recruitment thresholds are spread over [0, 0.8 × peak force] (the first unit at 0, so it
    fires at onset); a unit fires while the force is above its threshold, at a rate rising
    from 6 pps at recruitment to its own maximum (10–12 pps) at full force, with gamma ISIs of
    its own CV (0.1–0.3). More force, more units: recruitment order follows the thresholds.
    """
    peak, up, down = profile
    thresholds = np.sort(np.concatenate([[0.0], rng.uniform(0.0, 0.8 * peak, n_units - 1)]))
    trains = []
    for th in thresholds:
        # The force is above ``th`` on [on, off] (trapezoid), with on = th/peak × up.
        on = th / peak * up if th > 0 else 0.0
        off = duration_s - (th / peak * down if th > 0 else 0.0)
        if off - on < 0.05:
            trains.append(np.zeros(0))
            continue
        top = rng.uniform(rate_pps[1] - 2.0, rate_pps[1])
        unit_cv = rng.uniform(*cv)

        def rate_at(t: float, th=th, top=top) -> float:
            f = float(trapezoid(t, duration_s, peak, up, down))
            return rate_pps[0] + (top - rate_pps[0]) * max(0.0, f - th) / max(1.0 - th, 1e-9)

        train = gamma_train(rng, 0.0, unit_cv, on, off, rate_at)
        trains.append(train[train <= duration_s])
    return trains
