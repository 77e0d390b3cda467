"""Grouping one channel's twitch waveforms into putative motor units.

Deterministic and order-fixed: waveforms are taken in time order, so the same
twitches give the same units whatever the blocks were. The steps:

1. *leader pass*: each waveform joins the nearest running-mean template it
   fits, else starts a new one;
2. *refine*: templates become the median of their aligned members and every
   waveform is reassigned to the template it fits best (twice);
3. *merge*: templates that fit each other merge, closest pair first;
4. clusters with fewer than ``min_twitches`` members are dropped and their
   waveforms offered to the remaining templates; what fits none is unassigned.

"Fits": squared difference at the best lag within ``max_shift_s`` is at most
``noise_factor`` × the window's noise energy (the template's share included)
plus ``shape_tolerance``² × the template's energy, with the template first
scaled by the best gain within ±``max_gain`` (see ``SortConfig``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fascdetect.units.config import SortConfig
from fascdetect.units.waveform import Geometry

UNASSIGNED = -1
MEDIAN_NOISE = np.pi / 2
"""Variance of a median of m noisy copies is about π/2 · σ²/m."""


def lag_distances(ext: np.ndarray, template: np.ndarray, max_gain: float = 1.0) -> np.ndarray:
    """Squared differences of each extended window (N × (n + 2K)) to a template (n) at every lag: N × (2K + 1).

    At each lag the template is first scaled by the best gain within [1/max_gain, max_gain]: a unit's
    amplitude drifts over a night, its shape does not.
    """
    windows = sliding_window_view(ext, template.shape[-1], axis=-1)
    tt = float(template @ template)
    wt = windows @ template
    ww = (windows * windows).sum(axis=-1)
    gain = np.clip(wt / tt, 1.0 / max_gain, max_gain) if tt > 0 else np.ones_like(wt)
    return np.maximum(ww - 2.0 * gain * wt + gain * gain * tt, 0.0)


def tolerance(template: np.ndarray, members: int, noise_var: float, config: SortConfig) -> float:
    n = template.shape[-1]
    own = MEDIAN_NOISE / max(members, 1)
    return (config.noise_factor * n * noise_var * (1.0 + own)
            + (config.shape_tolerance ** 2) * float(template @ template))


def shifted(wide: np.ndarray, offset: int) -> np.ndarray:
    """``wide`` moved left by ``offset`` samples (zeros where it runs out): aligns a waveform on a template."""
    if offset == 0:
        return wide
    out = np.zeros_like(wide)
    if offset > 0:
        out[:-offset] = wide[offset:]
    else:
        out[-offset:] = wide[:offset]
    return out


class Clustering:
    """The outcome for one channel: a label per waveform (time order) and aligned wide templates."""

    def __init__(self, labels: np.ndarray, offsets: np.ndarray, templates: list[np.ndarray]) -> None:
        self.labels = labels
        self.offsets = offsets
        self.templates = templates


def cluster(wides: np.ndarray, noise_uv: float, geometry: Geometry, config: SortConfig) -> Clustering:
    """Cluster N wide waveforms (N × L, time order) of one channel; ``noise_uv`` is its noise SD."""
    n_wave = wides.shape[0]
    g = geometry
    if n_wave == 0:
        return Clustering(np.zeros(0, int), np.zeros(0, int), [])
    var = max(noise_uv, 1e-6) ** 2
    ext = g.core_ext(wides)
    labels, offsets = _leader(ext, var, g, config)
    for _ in range(config.refine_passes):
        labels, offsets = _reassign(wides, ext, labels, offsets, var, g, config, min_members=1)
    labels, offsets = _merge(wides, ext, labels, offsets, var, g, config)
    for _ in range(n_wave + 1):  # dropping small clusters can shrink others; stops when stable
        new_labels, new_offsets = _reassign(wides, ext, labels, offsets, var, g, config, config.min_twitches)
        counts = np.bincount(new_labels[new_labels >= 0], minlength=1) if (new_labels >= 0).any() else np.zeros(1)
        small = [k for k in set(new_labels[new_labels >= 0].tolist()) if counts[k] < config.min_twitches]
        labels, offsets = new_labels, new_offsets
        if not small:
            break
        labels = np.where(np.isin(labels, small), UNASSIGNED, labels)
    return _renumber(wides, labels, offsets)


def _leader(ext: np.ndarray, var: float, g: Geometry, config: SortConfig) -> tuple[np.ndarray, np.ndarray]:
    n = g.core_n
    templates: list[np.ndarray] = []
    counts: list[int] = []
    labels = np.empty(ext.shape[0], dtype=int)
    offsets = np.zeros(ext.shape[0], dtype=int)
    for i, w in enumerate(ext):
        best, best_q, best_lag = -1, np.inf, g.shift
        if templates:
            d2 = np.stack([lag_distances(w, t, config.max_gain) for t in templates])  # M × lags
            lags = d2.argmin(axis=1)
            q = d2[np.arange(len(templates)), lags] / np.array(
                [tolerance(t, m, var, config) for t, m in zip(templates, counts)])
            k = int(q.argmin())
            best, best_q, best_lag = k, float(q[k]), int(lags[k])
        if best >= 0 and best_q <= 1.0:
            aligned = w[best_lag: best_lag + n]
            counts[best] += 1
            templates[best] = templates[best] + (aligned - templates[best]) / counts[best]
            labels[i], offsets[i] = best, best_lag - g.shift
        else:
            templates.append(w[g.shift: g.shift + n].copy())
            counts.append(1)
            labels[i], offsets[i] = len(templates) - 1, 0
    return labels, offsets


def _medians(wides: np.ndarray, labels: np.ndarray, offsets: np.ndarray) -> dict[int, np.ndarray]:
    out = {}
    for k in sorted(set(labels[labels >= 0].tolist())):
        idx = np.flatnonzero(labels == k)
        out[k] = np.median(np.stack([shifted(wides[i], int(offsets[i])) for i in idx]), axis=0)
    return out


def _reassign(wides, ext, labels, offsets, var, g: Geometry, config: SortConfig, min_members: int):
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
    medians = {k: t for k, t in _medians(wides, labels, offsets).items() if counts[k] >= min_members}
    new_labels = np.full(len(labels), UNASSIGNED, dtype=int)
    new_offsets = np.zeros(len(labels), dtype=int)
    if not medians:
        return new_labels, new_offsets
    keys = list(medians)
    cores = [g.core_ext(medians[k])[g.shift: g.shift + g.core_n] for k in keys]
    d2 = np.stack([lag_distances(ext, c, config.max_gain) for c in cores], axis=1)  # N × M × lags
    lags = d2.argmin(axis=2)
    best_d2 = np.take_along_axis(d2, lags[:, :, None], axis=2)[:, :, 0]
    tol = np.array([tolerance(c, int(counts[k]), var, config) for c, k in zip(cores, keys)])
    q = best_d2 / tol
    pick = q.argmin(axis=1)
    ok = q[np.arange(len(labels)), pick] <= 1.0
    new_labels[ok] = np.array(keys)[pick[ok]]
    new_offsets[ok] = lags[np.arange(len(labels)), pick][ok] - g.shift
    return new_labels, new_offsets


def _merge(wides, ext, labels, offsets, var, g: Geometry, config: SortConfig):
    labels, offsets = labels.copy(), offsets.copy()
    while True:
        medians = _medians(wides, labels, offsets)
        keys = list(medians)
        if len(keys) < 2:
            return labels, offsets
        counts = {k: int((labels == k).sum()) for k in keys}
        wide_shift = max(g.shift, min(round(config.merge_shift_s * g.fs_hz), g.before - g.core_before,
                                      g.after - g.core_after))
        lo, hi = g.before - g.core_before - wide_shift, g.before + g.core_after + wide_shift
        exts = {k: medians[k][lo:hi] for k in keys}
        cores = {k: exts[k][wide_shift: wide_shift + g.core_n] for k in keys}
        best = None
        for a_i, a in enumerate(keys):
            for b in keys[a_i + 1:]:
                d2 = lag_distances(exts[b][None, :], cores[a], config.max_gain)[0]
                lag = int(d2.argmin())
                big = max(float(cores[a] @ cores[a]), float(cores[b] @ cores[b]))
                tol = (config.noise_factor * g.core_n * var * MEDIAN_NOISE * (1 / counts[a] + 1 / counts[b])
                       + config.merge_tolerance ** 2 * big)
                q = float(d2[lag]) / tol
                if q <= 1.0 and (best is None or q < best[0]):
                    best = (q, a, b, lag - wide_shift)
        if best is None:
            return labels, offsets
        _, a, b, lag = best
        # Members of b move onto a's alignment: b's template sits ``lag`` samples off a's.
        moved = labels == b
        labels[moved] = a
        offsets[moved] = offsets[moved] + lag


def _renumber(wides: np.ndarray, labels: np.ndarray, offsets: np.ndarray) -> Clustering:
    """Units numbered by twitches (most first), ties by first seen; templates are aligned medians."""
    keys = sorted(set(labels[labels >= 0].tolist()),
                  key=lambda k: (-int((labels == k).sum()), int(np.flatnonzero(labels == k)[0])))
    remap = {k: i for i, k in enumerate(keys)}
    out = np.array([remap.get(int(k), UNASSIGNED) for k in labels], dtype=int)
    medians = _medians(wides, labels, offsets)
    return Clustering(out, np.where(out >= 0, offsets, 0), [medians[k] for k in keys])
