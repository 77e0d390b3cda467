"""Which mains frequency (50 or 60 Hz) and which of its harmonics a recording carries.

Decided once, from the first seconds (``DetectorConfig.mains_probe_s``), so
that the filter is the same whatever the chunking: the same samples always
give the same decision.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

CANDIDATES_HZ = (50.0, 60.0)


def _line_power(freqs: np.ndarray, power: np.ndarray, f_hz: float, halfwidth_hz: float) -> float:
    """Power of a spectral line near f_hz above the surrounding ±15 Hz background."""
    near = np.abs(freqs - f_hz) <= halfwidth_hz
    around = (np.abs(freqs - f_hz) <= 15.0) & ~near
    if not near.any() or not around.any():
        return 0.0
    df = freqs[1] - freqs[0]
    return float(np.clip(power[near] - np.median(power[around]), 0.0, None).sum() * df)


def _spectrum(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectra per channel at 1 Hz resolution."""
    nperseg = min(x.shape[-1], int(fs_hz))
    return signal.welch(x - x.mean(axis=-1, keepdims=True), fs=fs_hz, nperseg=nperseg, axis=-1)


def mains_rms(x: np.ndarray, fs_hz: float, fundamental_hz: float) -> np.ndarray:
    """RMS of each channel's mains lines (fundamental and harmonics up to 450 Hz), in x's unit.

    A signal-quality figure for the display: poor contact shows as strong mains.
    """
    if x.shape[-1] < int(0.5 * fs_hz):
        return np.zeros(x.shape[0])
    freqs, power = _spectrum(x, fs_hz)
    harmonics = np.arange(fundamental_hz, min(450.0, 0.49 * fs_hz), fundamental_hz)
    return np.array([np.sqrt(sum(_line_power(freqs, p, f, 1.5 * f / fundamental_hz) for f in harmonics))
                     for p in power])


def detect_mains(x: np.ndarray, fs_hz: float, forced_hz: float | None, min_power_ratio: float,
                 max_harmonics: int) -> list[float]:
    """Mains frequencies to remove: the fundamental first, then harmonics worth removing.

    ``x`` is channels × samples of raw EMG. The fundamental is the candidate
    (50 or 60 Hz, ±1.5 Hz for drift) with the stronger line. A line is
    removed only when its power is at least ``min_power_ratio`` of the
    recording's broadband power in the EMG band: a weak line barely moves
    the noise floor, while every band-stop rings after large potentials.
    ``forced_hz`` is always removed.
    """
    n = x.shape[-1]
    if n < int(0.5 * fs_hz):
        return [forced_hz] if forced_hz else []
    freqs, power = _spectrum(x, fs_hz)
    power = power.mean(axis=0)
    band = (freqs >= 20.0) & (freqs <= min(450.0, 0.45 * fs_hz))
    broadband = float(np.median(power[band]) * (band.sum() * (freqs[1] - freqs[0])))
    if forced_hz:
        f0 = float(forced_hz)
    else:
        f0 = max(CANDIDATES_HZ, key=lambda f: _line_power(freqs, power, f, 1.5))
        if _line_power(freqs, power, f0, 1.5) < min_power_ratio * broadband:
            return []
    out = [f0]
    k = 2
    while len(out) <= max_harmonics and k * f0 < 0.49 * fs_hz:
        if _line_power(freqs, power, k * f0, 1.5 * k) >= min_power_ratio * broadband:
            out.append(k * f0)
        k += 1
    return out
