"""Other people's EMG onset detectors, wrapped so they are scored by our rules.

Every peer sees one EMG channel at a time (none of them knows about feet,
regions or accelerometers) and returns activity spans in samples. A span
becomes an event on that channel's side and region: a ``twitch`` when
shorter than :data:`TWITCH_MAX_S`, a ``cramp`` when at least
:data:`CRAMP_MIN_S`, otherwise ``unclassified`` (scored as nothing). Peers
cannot express movement (whole-foot activity), doublets (one twitch, two
discharges) or crosstalk (one discharge seen on two channels): those show up
as their false alarms and misses, exactly as a user would get them.

Where a method needs a rest period we hand it the robust noise level of the
whole channel (1.4826 x median absolute deviation), which is kinder than the
first seconds a user would pick. Window lengths are chosen for 3-25 ms
fasciculation potentials (10 ms), shorter than the methods' usual 25-50 ms,
again in the peers' favour; the threshold is tuned (see ``accuracy.tune``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
from scipy import signal

from fascdetect.model import Channel, Event

TWITCH_MAX_S = 0.1
CRAMP_MIN_S = 3.0
WINDOW_S = 0.010
"""Detection window for the windowed BioSPPy methods (see module docstring)."""
STATE_S = 0.005
"""Minimum active/inactive state for the state-machine methods."""

Spans = np.ndarray
"""int array of shape (n, 2): onset and offset sample of each activity span."""


@dataclass(frozen=True)
class Peer:
    """One peer configuration: ``detect(x, fs_hz, threshold)`` → spans; ``threshold`` None is the method's default."""

    name: str
    detect: Callable[[np.ndarray, float, float | None], Spans]
    threshold: float | None = None
    grid: tuple[float, ...] = ()
    """Thresholds tried when tuning (empty: not tunable, e.g. a fixed default)."""
    note: str = ""

    def tuned(self, threshold: float) -> "Peer":
        return Peer(f"{self.name.removesuffix(' (default)')} (tuned)", self.detect, threshold, (), self.note)

    def events(self, data: np.ndarray, channels: tuple[Channel, ...], fs_hz: float) -> list[Event]:
        """Events of every EMG row of ``data`` (channels × samples)."""
        out = []
        for row, ch in enumerate(channels):
            if ch.modality != "EMG":
                continue
            spans = self.detect(np.asarray(data[row], dtype=np.float64), fs_hz, self.threshold)
            out.extend(spans_to_events(spans, fs_hz, ch))
        return sorted(out, key=lambda e: e.onset_s)


def spans_to_events(spans: Spans, fs_hz: float, ch: Channel) -> list[Event]:
    out = []
    for on, off in np.asarray(spans, dtype=np.int64).reshape(-1, 2):
        duration_s = max(int(off) - int(on), 1) / fs_hz
        kind = "twitch" if duration_s < TWITCH_MAX_S else "cramp" if duration_s >= CRAMP_MIN_S else "unclassified"
        out.append(Event(kind, on / fs_hz, duration_s, ch.side, ch.region, ch.label, 0.0, ch.unit))
    return out


def transitions_to_spans(marks: np.ndarray, n: int) -> Spans:
    """BioSPPy returns onsets and offsets interleaved in one sorted array; an unpaired last onset runs to the end."""
    marks = np.asarray(marks, dtype=np.int64)
    if len(marks) % 2:
        marks = np.append(marks, n - 1)
    return marks.reshape(-1, 2)


def mask_to_spans(active: np.ndarray) -> Spans:
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    return np.column_stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)])


def robust_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) or 1e-12


# --- NeuroKit2 ----------------------------------------------------------------
def _nk_amplitude(x: np.ndarray, fs_hz: float) -> np.ndarray:
    import neurokit2 as nk

    return np.asarray(nk.emg_amplitude(nk.emg_clean(x, sampling_rate=int(fs_hz))), dtype=np.float64)


def neurokit(x: np.ndarray, fs_hz: float, threshold: float | None) -> Spans:
    """``emg_clean`` → ``emg_amplitude`` → ``emg_activation(method="threshold")``.

    The default threshold is NeuroKit2's (a tenth of the amplitude's standard
    deviation); a tuned one is a multiple of the amplitude's median (its noise
    level). We call the two internal steps ``emg_activation`` itself runs to
    get its ``info`` (onsets/offsets, identical), skipping the per-sample
    pandas loop that only builds its output DataFrame; the speed benchmark
    times the public function.
    """
    from neurokit2.emg.emg_activation import _emg_activation_activations, _emg_activation_threshold

    amp = _nk_amplitude(x, fs_hz)
    level = "default" if threshold is None else threshold * float(np.median(amp))
    if level != "default" and level > amp.max():
        return np.zeros((0, 2), np.int64)
    info = _emg_activation_activations(_emg_activation_threshold(amp, threshold=level),
                                       duration_min=int(0.05 * fs_hz))
    on, off = np.asarray(info["EMG_Onsets"], np.int64), np.asarray(info["EMG_Offsets"], np.int64)
    return np.column_stack([on[:len(off)], off])


def neurokit_public(x: np.ndarray, fs_hz: float, threshold: float | None) -> Spans:
    """The same through the public ``emg_activation`` (for timing what a user runs)."""
    import neurokit2 as nk

    amp = _nk_amplitude(x, fs_hz)
    level = "default" if threshold is None else threshold * float(np.median(amp))
    _, info = nk.emg_activation(emg_amplitude=amp, sampling_rate=int(fs_hz), method="threshold", threshold=level)
    on, off = np.asarray(info["EMG_Onsets"], np.int64), np.asarray(info["EMG_Offsets"], np.int64)
    return np.column_stack([on[:len(off)], off])


# --- BioSPPy ------------------------------------------------------------------
def _biosppy_filtered(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """BioSPPy's own EMG conditioning (``emg.emg``: 4th-order 100 Hz high-pass)."""
    from biosppy.signals import tools

    return tools.filter_signal(signal=x, ftype="butter", band="highpass", order=4, frequency=100,
                               sampling_rate=fs_hz)[0]


def biosppy_emg(x: np.ndarray, fs_hz: float, threshold: float | None) -> Spans:
    """``biosppy.signals.emg.emg`` (high-pass + ``find_onsets``); a tuned threshold is a multiple of the noise σ."""
    from biosppy.signals import emg

    f = _biosppy_filtered(x, fs_hz)
    level = None if threshold is None else threshold * robust_sigma(f)
    return transitions_to_spans(emg.find_onsets(signal=f, sampling_rate=fs_hz, threshold=level)["onsets"], len(x))


def _rest(f: np.ndarray) -> dict[str, float]:
    return {"mean": 0.0, "std_dev": robust_sigma(f), "var": robust_sigma(f) ** 2}


def biosppy_method(name: str, x: np.ndarray, fs_hz: float, threshold: float | None) -> Spans:
    """One of BioSPPy's published onset detectors on BioSPPy-filtered EMG (threshold in the method's own units)."""
    from biosppy.signals import emg

    f = _biosppy_filtered(x, fs_hz)
    win, state = max(2, round(WINDOW_S * fs_hz)), max(1, round(STATE_S * fs_hz))
    kw: dict = {"signal": f, "sampling_rate": fs_hz, "threshold": threshold}
    if name == "hodges_bui":
        kw.update(rest=_rest(f), size=win)
    elif name == "bonato":
        # Bonato's test function advances two samples per step, so its durations count pairs.
        pairs = max(1, state // 2)
        kw.update(rest=_rest(f), active_state_duration=pairs, samples_above_fail=max(1, pairs // 2), fail_size=pairs)
    elif name == "lidierth":
        kw.update(rest=_rest(f), size=win, active_state_duration=state, fail_size=state)
    elif name == "solnik":
        kw.update(rest=_rest(f), active_state_duration=state)
    elif name == "silva":
        kw.update(size=win, threshold_size=win + max(1, win // 10), threshold=threshold * robust_sigma(f))
    elif name == "londral":
        kw.update(rest=_rest(f), size=win, active_state_duration=state)
    elif name == "abbink":
        kw.update(rest=_rest(f), size=win, alarm_size=win, transition_threshold=0.5 * threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        marks = getattr(emg, f"{name}_onset_detector")(**kw)["onsets"]
    return transitions_to_spans(marks, len(x))


# --- plain baseline -------------------------------------------------------------
def bandpass_threshold(x: np.ndarray, fs_hz: float, threshold: float | None) -> Spans:
    """20-450 Hz 4th-order Butterworth band-pass, 5 ms moving RMS, one fixed threshold (multiple of the
    median envelope of the whole channel); gaps under 12 ms do not split an event. No mains removal."""
    sos = signal.butter(2, (20.0, min(450.0, 0.45 * fs_hz)), "bandpass", fs=fs_hz, output="sos")
    y = signal.sosfilt(sos, x)
    win = max(1, round(0.005 * fs_hz))
    env = np.sqrt(np.convolve(y * y, np.ones(win) / win, mode="same"))
    spans = mask_to_spans(env > (threshold or 4.0) * np.median(env))
    if len(spans) > 1:
        gap = round(0.012 * fs_hz)
        keep = np.concatenate(([True], spans[1:, 0] - spans[:-1, 1] > gap))
        starts = spans[keep, 0]
        ends = spans[np.concatenate((keep[1:], [True])), 1]
        spans = np.column_stack([starts, ends])
    return spans


_LOG_GRID = tuple(float(v) for v in np.round(np.geomspace(0.8, 12.0, 10), 2))
_TKEO_GRID = tuple(float(v) for v in np.round(np.geomspace(2.0, 200.0, 10), 1))
_BONATO_GRID = tuple(float(v) for v in np.round(np.geomspace(3.0, 80.0, 10), 1))

PEERS: tuple[Peer, ...] = (
    Peer("NeuroKit2 (default)", neurokit, None, note="threshold = std(amplitude)/10"),
    Peer("NeuroKit2", neurokit, None, _LOG_GRID, note="threshold = k × median(amplitude)"),
    Peer("BioSPPy emg (default)", biosppy_emg, None, note="find_onsets default threshold"),
    Peer("BioSPPy Hodges-Bui", partial(biosppy_method, "hodges_bui"), None, _LOG_GRID),
    Peer("BioSPPy Bonato", partial(biosppy_method, "bonato"), None, _BONATO_GRID),
    Peer("BioSPPy Lidierth", partial(biosppy_method, "lidierth"), None, _LOG_GRID),
    Peer("BioSPPy Solnik", partial(biosppy_method, "solnik"), None, _TKEO_GRID),
    Peer("BioSPPy Silva", partial(biosppy_method, "silva"), None, _LOG_GRID),
    Peer("band-pass + threshold", bandpass_threshold, None, _LOG_GRID, note="k × median 5 ms RMS envelope"),
)
"""Peers in the accuracy benchmark. Left out: BioSPPy Abbink (its transition search rescans the signal from
the start at every alarm, quadratic in length, and keeps only the last onset found) and BioSPPy Londral
(a Python callback per sample: ~1 s per channel-minute at 2 kHz, timed in the speed benchmark only)."""
