"""Rest-EMG background fitted to real recordings: coloured noise, sparse distant units, drift, ECG, cable artifacts.

White Gaussian noise is what an amplifier alone gives; a real electrode over a
resting muscle sees more: a spectrum that peaks around 70–90 Hz, sparse small
potentials of distant motor units, a level that wanders with sweat and
contact, the heart on calf and shin channels, and cable motion. The figures
here were measured on the BioSPPy example recordings in
``../shared/data/biosppy_emg`` (``emg.txt`` 0.5–30 s, ``emg_1.txt`` rest
stretches); docs/simulator.md lists them next to the simulator's.
Every function draws from the numpy ``Generator`` it is given and returns µV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from firmware_sim.physiology import FpShape

REST_BAND_HZ = (20.0, 450.0)
"""The band in which ``noise_uv`` of the coloured background is an RMS (the detector's EMG band)."""

# Power spectral density of real rest EMG, relative to its maximum: BioSPPy emg.txt 0.5–30 s
# (1 kHz, 12-bit), Welch 512-sample windows, 50/100/150 Hz bins interpolated over. Above 475 Hz
# (beyond what a 1 kHz file shows) the amplifier's white floor is assumed to continue.
REST_PSD_TABLE: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (5.0, 0.43), (12.0, 0.57), (17.0, 0.76), (22.0, 0.90), (30.0, 0.83), (45.0, 0.92),
    (65.0, 0.87), (85.0, 1.0), (95.0, 0.91), (110.0, 0.66), (130.0, 0.63), (150.0, 0.58), (170.0, 0.51),
    (190.0, 0.48), (225.0, 0.44), (275.0, 0.37), (325.0, 0.35), (375.0, 0.34), (425.0, 0.33), (475.0, 0.33),
)

SPARSE_DURATION_S = (0.0015, 0.0045)
"""Distant units' potentials as seen in emg.txt: biphasic spikes 3–8 ms long end to end whose main
lobe is 1–2 samples (ms) wide (a Gaussian-derivative of this 6σ duration looks like that)."""
SPARSE_CLUSTER_GAP_S = (0.03, 0.2)
"""Spacing of potentials inside one cluster (emg.txt shows pairs 50–200 ms apart)."""

# ECG as a sum of Gaussian waves (P, Q, R, S, T) after McSharry et al. 2003, in seconds from the
# R peak, relative amplitude and width (s).
ECG_WAVES = ((-0.20, 0.12, 0.025), (-0.03, -0.12, 0.008), (0.0, 1.0, 0.008), (0.03, -0.25, 0.008), (0.26, 0.25, 0.045))
ECG_SPAN_S = (-0.32, 0.45)


def rest_noise_kernel(fs_hz: float, taps_s: float = 0.128) -> np.ndarray:
    """FIR kernel that turns unit white noise into rest-EMG-coloured noise of unit RMS in REST_BAND_HZ.

    Designed with ``firwin2`` from :data:`REST_PSD_TABLE` (amplitude = √PSD), the
    last table value held up to the Nyquist frequency.
    """
    nyq = fs_hz / 2
    numtaps = int(round(taps_s * fs_hz)) | 1
    f = [p for p, _ in REST_PSD_TABLE if p < nyq]
    a = [math.sqrt(v) for p, v in REST_PSD_TABLE if p < nyq]
    f.append(nyq)
    a.append(a[-1])
    h = signal.firwin2(numtaps, f, a, fs=fs_hz)
    w, resp = signal.freqz(h, worN=8192, fs=fs_hz)
    lo, hi = REST_BAND_HZ[0], min(REST_BAND_HZ[1], 0.45 * fs_hz)
    band = (w >= lo) & (w <= hi)
    # One-sided PSD of filtered unit white noise is 2|H|²/fs; its integral over the band is the power.
    power = np.sum(2 * np.abs(resp[band]) ** 2 / fs_hz) * (w[1] - w[0])
    return h / math.sqrt(power)


class ColouredNoise:
    """Streaming FIR colouring (overlap-add): segment by segment, the same as filtering the whole record."""

    def __init__(self, kernel: np.ndarray, rows: int) -> None:
        self.kernel = kernel
        self.tail = np.zeros((rows, len(kernel) - 1))

    def step(self, white: np.ndarray) -> np.ndarray:
        n = white.shape[1]
        y = signal.oaconvolve(white, self.kernel[None, :], axes=1)
        out = y[:, :n]
        k = self.tail.shape[1]
        m = min(k, n)
        out[:, :m] += self.tail[:, :m]
        rest = np.zeros_like(self.tail)
        rest[:, : k - m] = self.tail[:, m:]
        rest += y[:, n:]
        self.tail = rest
        return out


class LevelProcess:
    """Multiplicative background level per channel: slow drift (minutes) times fast modulation (< 4 Hz).

    ``log level = drift + modulation``. The drift is an Ornstein–Uhlenbeck process (time
    constant ``drift_tau_s``, stationary SD ``drift_sd`` in natural-log units) stepped once per
    segment and interpolated linearly inside it: sweat and electrode contact change the noise
    level over minutes to hours. The modulation is white noise through a 2nd-order 3 Hz low-pass
    (state carried), SD ``modulation_sd``: real rest EMG's 25 ms RMS varies more, and more slowly,
    than Gaussian noise's.
    """

    def __init__(self, rows: int, fs_hz: float, drift_sd: float, drift_tau_s: float, modulation_sd: float,
                 rng: np.random.Generator) -> None:
        self.drift_sd, self.drift_tau_s, self.modulation_sd = drift_sd, drift_tau_s, modulation_sd
        self.drift = drift_sd * rng.standard_normal(rows)
        self.sos = signal.butter(2, 3.0, "lowpass", fs=fs_hz, output="sos")
        # Unit-variance output: a 2nd-order Butterworth low-pass's noise bandwidth is ~1.11 × f_c.
        self.gain = 1.0 / math.sqrt(2 * 1.1107 * 3.0 / fs_hz)
        self.zi = np.zeros((1, rows, 2))

    def factor_now(self, row: int) -> float:
        """The slow drift's level factor of ``row`` at the start of the next segment (mean 1)."""
        return math.exp(self.drift[row] - 0.5 * self.drift_sd ** 2)

    def step(self, rng: np.random.Generator, n: int, segment_s: float) -> np.ndarray:
        """Level factors (rows × n) for the next segment; advances the state."""
        rows = len(self.drift)
        a = math.exp(-segment_s / self.drift_tau_s) if self.drift_tau_s > 0 else 0.0
        new = a * self.drift + math.sqrt(1 - a * a) * self.drift_sd * rng.standard_normal(rows)
        frac = np.arange(n) / n
        log_level = self.drift[:, None] + (new - self.drift)[:, None] * frac[None, :]
        self.drift = new
        if self.modulation_sd > 0:
            u, self.zi = signal.sosfilt(self.sos, rng.standard_normal((rows, n)), axis=1, zi=self.zi)
            log_level = log_level + self.modulation_sd * self.gain * u
        # Mean factor 1 over time: subtract half the log-variance (lognormal mean).
        return np.exp(log_level - 0.5 * (self.drift_sd ** 2 + self.modulation_sd ** 2))


def sparse_cluster(rng: np.random.Generator, fs_hz: float, peak_uv: float, extra_mean: float) -> np.ndarray:
    """One cluster of a distant unit's small potentials: 1 + Poisson(extra_mean) spikes, 30–200 ms apart.

    Each spike is a brief biphasic wave (main lobe 1–2 ms), the same unit throughout, ±10% in size.
    """
    duration_s = float(np.exp(rng.uniform(*np.log(SPARSE_DURATION_S))))
    s = duration_s / 6.0
    skew = rng.uniform(-0.3, 0.3)
    shape = FpShape(s * (1 - skew), s * (1 + skew), rng.uniform(0.0, 0.6), float(rng.choice((-1.0, 1.0))))
    # Sampled 4× finer and averaged back (what an integrating front end does), at a random sub-sample
    # offset: the real spikes' main lobe is only 1–2 samples wide at 1 kHz, narrower than FpShape's
    # anti-aliasing floor allows.
    fine = shape.sample(4 * fs_hz)
    fine = np.concatenate([np.zeros(int(rng.integers(4))), fine])
    fine = np.pad(fine, (0, -len(fine) % 4))
    w = fine.reshape(-1, 4).mean(axis=1)
    w = peak_uv * w / np.max(np.abs(w))
    n_spikes = 1 + int(min(rng.poisson(extra_mean), 5))
    starts = np.concatenate([[0.0], np.cumsum(rng.uniform(*SPARSE_CLUSTER_GAP_S, n_spikes - 1))])
    idx = np.rint(starts * fs_hz).astype(int)
    out = np.zeros(idx[-1] + len(w))
    for i in idx:
        out[i: i + len(w)] += w * math.exp(0.1 * rng.standard_normal())
    return out


def ecg_beat(fs_hz: float, r_offset_s: float = 0.0) -> np.ndarray:
    """One heartbeat's waveform (R peak = 1), sampled from ECG_SPAN_S around the R peak.

    ``r_offset_s`` (0 ≤ offset < 1 sample) places the R peak between samples.
    """
    t = np.arange(int(round((ECG_SPAN_S[1] - ECG_SPAN_S[0]) * fs_hz))) / fs_hz + ECG_SPAN_S[0] - r_offset_s
    x = np.zeros_like(t)
    for mu, a, w in ECG_WAVES:
        x += a * np.exp(-0.5 * ((t - mu) / w) ** 2)
    # Taper the ends so the beat adds no step (the T wave's tail is already ~0 there).
    return x * signal.windows.tukey(len(x), 0.1)


@dataclass
class HeartRhythm:
    """R-peak times: mean rate ``rate_hz``, respiratory sinus arrhythmia and beat-to-beat variability.

    RR = 1/rate × (1 + 0.05 sin(2π·0.25 Hz·t) + N(0, ``hrv_sd``)): breathing at 15 per minute
    modulates the interval by ~±5%, and healthy resting RR intervals vary by a few percent.
    State (the next beat) is carried, so beats come out the same however time is cut.
    """

    rate_hz: float
    hrv_sd: float
    next_s: float
    resp_phase: float

    def beats(self, rng: np.random.Generator, until_s: float) -> list[float]:
        out = []
        while self.next_s < until_s:
            out.append(self.next_s)
            mod = 0.05 * math.sin(2 * math.pi * 0.25 * self.next_s + self.resp_phase)
            rr = (1.0 / self.rate_hz) * (1.0 + mod + self.hrv_sd * rng.standard_normal())
            self.next_s += float(np.clip(rr, 0.4, 2.0))
        return out


def cable_artifact(rng: np.random.Generator, fs_hz: float) -> np.ndarray:
    """A cable-motion transient: a fast (2–10 ms) edge, then a 2–15 Hz swing decaying over 50–400 ms.

    A tugged or swinging lead changes its triboelectric charge and the electrode's
    half-cell potential; the edge leaks into the EMG band, the swing mostly does not.
    Peak 20–500 µV (log-uniform), random sign.
    """
    rise_s = rng.uniform(0.002, 0.010)
    freq_hz = rng.uniform(2.0, 15.0)
    tau_s = rng.uniform(0.05, 0.4)
    t = np.arange(int((5 * tau_s + rise_s) * fs_hz) + 2) / fs_hz
    edge = 1.0 - np.exp(-t / rise_s)
    x = edge * np.exp(-t / tau_s) * np.cos(2 * np.pi * freq_hz * t)
    x -= x[-1] * np.linspace(0.0, 1.0, len(x))  # end at zero
    peak = float(np.exp(rng.uniform(math.log(20.0), math.log(500.0))))
    return float(rng.choice((-1.0, 1.0))) * peak * x / np.max(np.abs(x))


def quantise(x: np.ndarray, step: float) -> np.ndarray:
    """Round to an ADC step (in place); samples are then whole multiples of ``step``."""
    np.round(x / step, out=x)
    x *= step
    return x
