"""Streaming IIR filters: scipy's ``sosfilt`` with its state carried between chunks.

Because the recursion runs sample by sample with the state handed back in,
filtering a signal in one piece or in any chunks gives bit-identical output.
"""

from __future__ import annotations

import numpy as np
from scipy import signal
HARMONIC_WIDTH_EXPONENT = 1



def nyquist_capped(band_hz: tuple[float, float], fs_hz: float) -> tuple[float, float]:
    """Clip a band's upper edge below Nyquist (0.45·fs) so low sampling rates still work."""
    lo, hi = band_hz
    hi = min(hi, 0.45 * fs_hz)
    if lo >= hi:
        lo = hi / 4
    return lo, hi


def bandpass_sos(band_hz: tuple[float, float], fs_hz: float, order: int = 2) -> np.ndarray:
    lo, hi = nyquist_capped(band_hz, fs_hz)
    return signal.butter(order, [lo, hi], btype="bandpass", fs=fs_hz, output="sos")


def mains_stop_sos(freqs_hz: list[float], width_hz: float, fs_hz: float) -> np.ndarray:
    """A 4th-order band-stop per mains frequency, ``width_hz`` wide at the fundamental.

    A single-pole-pair notch loses most of its depth when the grid drifts a
    few tenths of a Hz (and a harmonic drifts k times as far); a Butterworth
    band-stop stays deep across its width, whose size grows with the
    harmonic's order. Its ringing after large potentials is handled by the
    detector (discharges are measured relative to their own peak).
    """
    sections = []
    fundamental = freqs_hz[0] if freqs_hz else 1.0
    for f in freqs_hz:
        half = width_hz * (f / fundamental) ** HARMONIC_WIDTH_EXPONENT / 2
        if f + half >= 0.49 * fs_hz:
            continue
        sections.append(signal.butter(2, [f - half, f + half], btype="bandstop", fs=fs_hz, output="sos"))
    return np.vstack(sections) if sections else np.empty((0, 6))


class StreamingSos:
    """An SOS filter over channels × samples whose state survives chunk boundaries.

    The state starts at the filter's steady state for the first sample of each
    channel, so an electrode's DC offset does not ring through as a fake event.
    """

    def __init__(self, sos: np.ndarray) -> None:
        self.sos = np.asarray(sos, dtype=np.float64)
        self._zi: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(self.sos) == 0 or x.shape[-1] == 0:
            return x
        if self._zi is None:
            base = signal.sosfilt_zi(self.sos)  # (sections, 2)
            self._zi = (base[:, None, :] * x[None, :, :1].astype(np.float64)).astype(x.dtype)
        y, self._zi = signal.sosfilt(self.sos.astype(x.dtype), x, axis=-1, zi=self._zi)
        return y
