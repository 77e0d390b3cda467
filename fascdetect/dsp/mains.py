"""Which mains frequency (50 or 60 Hz) and which of its harmonics a recording carries.

Decided once, from the first seconds (``DetectorConfig.mains_probe_s``), so
that the filter is the same whatever the chunking: the same samples always
give the same decision.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

CANDIDATES_HZ = (50.0, 60.0)


def _peak_db(freqs: np.ndarray, power: np.ndarray, f_hz: float, halfwidth_hz: float) -> float:
    """Peak power near f_hz relative to the median of the surrounding ±15 Hz, in dB."""
    near = np.abs(freqs - f_hz) <= halfwidth_hz
    around = (np.abs(freqs - f_hz) <= 15.0) & ~near
    if not near.any() or not around.any():
        return 0.0
    return float(10 * np.log10(power[near].max() / max(np.median(power[around]), 1e-30)))


def detect_mains(x: np.ndarray, fs_hz: float, forced_hz: float | None, min_db: float,
                 max_harmonics: int) -> list[float]:
    """Mains frequencies to remove: the fundamental first, then harmonics that stand out.

    ``x`` is channels × samples of raw EMG. The fundamental is the candidate
    with the stronger spectral peak, ±1.5 Hz around it to tolerate drift;
    when neither stands ``min_db`` above its neighbourhood nothing is
    removed, because a band-stop rings after every large potential (~0.3 s at a
    3 Hz width). ``forced_hz`` is always removed.
    """
    n = x.shape[-1]
    if n < int(0.5 * fs_hz):
        return [forced_hz] if forced_hz else []
    nperseg = min(n, int(fs_hz))  # 1 Hz resolution
    freqs, power = signal.welch(x - x.mean(axis=-1, keepdims=True), fs=fs_hz, nperseg=nperseg, axis=-1)
    power = power.sum(axis=0)
    if forced_hz:
        f0 = float(forced_hz)
    else:
        f0 = max(CANDIDATES_HZ, key=lambda f: _peak_db(freqs, power, f, 1.5))
        if _peak_db(freqs, power, f0, 1.5) < min_db:
            return []
    out = [f0]
    k = 2
    while len(out) <= max_harmonics and k * f0 < 0.49 * fs_hz:
        if _peak_db(freqs, power, k * f0, 1.5 * k) >= min_db:
            out.append(k * f0)
        k += 1
    return out
