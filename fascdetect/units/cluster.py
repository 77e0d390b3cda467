"""Grouping one channel's twitch waveforms into putative motor units.

Deterministic and order-fixed: waveforms are taken in time order, so the same
twitches give the same units whatever the blocks were. The steps:

1. *leader pass*: each waveform joins the nearest running-mean template it
   fits, else starts a new one;
2. *refine*: templates become the median of their aligned members and every
   waveform is reassigned to the template it fits best (twice);
3. *merge*: templates that fit each other merge, closest pair first: at
   their own sizes, or at another size within ``max_drift`` when their
   twitches come one group after the other in time (a drift; runs test);
   a merged template is then searched around each of its members'
   alignments, so a unit aligned on two different phases stays whole;
4. clusters with fewer than ``min_twitches`` members are dropped and their
   waveforms offered to the remaining templates; what fits none is unassigned.

"Fits": at the best lag within ``max_shift_s``, the squared difference to the
template *scaled to the cluster's amplitude at that moment* is at most
``noise_factor`` × the window's noise energy (the template's share included)
plus ``shape_tolerance``² × the scaled template's energy (see ``SortConfig``).
The cluster's amplitude at a moment is the median gain of its
``amplitude_neighbours`` members nearest in time (in the leader pass, its
latest members), within ×/÷``max_drift`` of its template. So size belongs to
a unit's identity, as on the electrode: two units of one shape whose sizes
differ by more than about ``shape_tolerance`` are two units, firing at
random among each other. A unit whose size drifts slowly (contact,
temperature) is followed, because its neighbours in time drift with it.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fascdetect.units.config import SortConfig
from fascdetect.units.waveform import Geometry

UNASSIGNED = -1
MEDIAN_NOISE = np.pi / 2
"""Variance of a median of m noisy copies is about π/2 · σ²/m."""


def _products(ext: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """w·w and w·t of every window at every lag (N × lags), and t·t."""
    windows = sliding_window_view(np.atleast_2d(ext), template.shape[-1], axis=-1)
    return (windows * windows).sum(axis=-1), windows @ template, float(template @ template)


def free_gains(ext: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Each window's least-squares gain on the template at the lag where shape alone fits best (N)."""
    ww, wt, tt = _products(ext, template)
    if tt <= 0:
        return np.ones(ww.shape[0])
    lag = (ww - wt * wt / tt).argmin(axis=1)
    return np.maximum(wt[np.arange(len(lag)), lag] / tt, 0.0)


def noise_energy(n: int, members, noise_var: float, config: SortConfig):
    """The noise part of the tolerance: a window's noise energy, plus what is left in a median of ``members``
    (an int, or an array of them)."""
    return config.noise_factor * n * noise_var * (1.0 + MEDIAN_NOISE / np.maximum(members, 1))


def misfit(ww, wt, tt, gain, noise, config: SortConfig) -> np.ndarray:
    """Squared difference between window and template scaled by ``gain``, over the tolerance (1 or less fits);
    from the products w·w, w·t, t·t and the noise part of the tolerance, all broadcast together."""
    return (np.maximum(ww - 2.0 * gain * wt + gain * gain * tt, 0.0)
            / (noise + config.shape_tolerance ** 2 * gain * gain * tt))


def fit(ext: np.ndarray, template: np.ndarray, gain: np.ndarray, members: int, noise_var: float,
        config: SortConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each window (N × (n + 2K)) against ``template`` scaled by its ``gain`` (N): the misfit at the best lag
    (N) and that lag (N, 0..2K)."""
    ww, wt, tt = _products(ext, template)
    gain = np.asarray(gain, dtype=float).reshape(-1, 1)
    q = misfit(ww, wt, tt, gain, noise_energy(template.shape[-1], members, noise_var, config), config)
    lag = q.argmin(axis=1)
    return q[np.arange(len(lag)), lag], lag


def local_amplitude(times_s: np.ndarray, member_idx: np.ndarray, member_gain: np.ndarray,
                    config: SortConfig) -> np.ndarray:
    """The cluster's amplitude (gain on its template) at every waveform's time (N): the median gain of its
    ``amplitude_neighbours`` members nearest in time, the waveform itself left out, within ×/÷``max_drift``."""
    m = config.amplitude_neighbours
    n_k = len(member_idx)
    member_t = times_s[member_idx]
    pos = np.searchsorted(member_t, times_s)
    cand = pos[:, None] + np.arange(-m - 1, m + 1)[None, :]
    valid = (cand >= 0) & (cand < n_k)
    cand = np.clip(cand, 0, n_k - 1)
    dist = np.where(valid, np.abs(member_t[cand] - times_s[:, None]), np.inf)
    dist[member_idx[cand] == np.arange(len(times_s))[:, None]] = np.inf
    near = np.argsort(dist, axis=1, kind="stable")[:, :m]
    gains = np.take_along_axis(member_gain[cand], near, axis=1)
    gains[~np.isfinite(np.take_along_axis(dist, near, axis=1))] = np.nan
    out = np.ones(len(times_s))
    some = ~np.isnan(gains).all(axis=1)  # a cluster's only member, compared with itself, has no neighbours
    out[some] = np.nanmedian(gains[some], axis=1)
    return np.clip(out, 1.0 / config.max_drift, config.max_drift)


def in_runs(first: np.ndarray, second: np.ndarray, z_crit: float) -> bool:
    """Do two clusters' twitch times (s) come in runs, one group before the other (a unit whose size drifted),
    rather than mixed at random (two units firing independently)? Wald-Wolfowitz runs test, one-sided."""
    n1, n2 = len(first), len(second)
    n = n1 + n2
    if n1 == 0 or n2 == 0 or n < 3:
        return False
    seq = np.concatenate([np.zeros(n1, int), np.ones(n2, int)])[np.argsort(np.concatenate([first, second]),
                                                                           kind="stable")]
    runs = 1 + int(np.count_nonzero(np.diff(seq)))
    mean = 1.0 + 2.0 * n1 * n2 / n
    var = 2.0 * n1 * n2 * (2.0 * n1 * n2 - n) / (n * n * (n - 1))
    return var > 0 and (runs - mean) / np.sqrt(var) <= -z_crit


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


class Leader:
    """Online leader clustering: running-mean templates, each with the gains of its latest members.

    Used for the first pass of ``cluster`` and, unchanged, for the provisional labels while streaming.
    """

    def __init__(self, geometry: Geometry, config: SortConfig) -> None:
        self.g, self.config = geometry, config
        self.templates = np.zeros((0, geometry.core_n))  # M × n, a template per row
        self.counts: list[int] = []
        self._gains: list[deque[float]] = []
        self._amp: list[float] = []  # each template's amplitude, updated as members join (only the joined one changes)

    def add(self, ext: np.ndarray, noise_var: float) -> tuple[int, int]:
        """Place one compared window with its lag margins (n + 2K); returns (cluster, offset in samples)."""
        g, config = self.g, self.config
        if len(self.templates):
            # All templates at once: each scaled to the median gain of its latest members.
            t = self.templates
            windows = sliding_window_view(ext, g.core_n)  # lags × n
            ww, wt, tt = (windows * windows).sum(axis=1)[None, :], t @ windows.T, (t * t).sum(axis=1)[:, None]
            amp = np.array(self._amp)
            noise = noise_energy(g.core_n, np.array(self.counts), noise_var, config)
            q = misfit(ww, wt, tt, amp[:, None], noise[:, None], config)  # M × lags
            best, lag = np.unravel_index(int(q.argmin()), q.shape)
            if q[best, lag] <= 1.0:
                aligned = ext[lag: lag + g.core_n]
                t = self.templates[best]
                self._gains[best].append(float(max(aligned @ t, 0.0) / (t @ t)) if t @ t > 0 else 1.0)
                self.counts[best] += 1
                self.templates[best] = t + (aligned - t) / self.counts[best]
                self._amp[best] = self._amplitude(int(best))
                return int(best), int(lag) - g.shift
        self.templates = np.vstack([self.templates, ext[g.shift: g.shift + g.core_n]])
        self.counts.append(1)
        self._gains.append(deque([1.0], maxlen=config.amplitude_neighbours))
        self._amp.append(self._amplitude(len(self.templates) - 1))
        return len(self.templates) - 1, 0

    def _amplitude(self, k: int) -> float:
        """Template ``k``'s amplitude: the median gain of its latest members, within ×/÷``max_drift``."""
        return float(np.clip(np.median(self._gains[k]), 1.0 / self.config.max_drift, self.config.max_drift))


class Clustering:
    """The outcome for one channel: a label per waveform (time order) and aligned wide templates."""

    def __init__(self, labels: np.ndarray, offsets: np.ndarray, templates: list[np.ndarray]) -> None:
        self.labels = labels
        self.offsets = offsets
        self.templates = templates


def cluster(wides: np.ndarray, times_s: np.ndarray, noise_uv: float, geometry: Geometry,
            config: SortConfig) -> Clustering:
    """Cluster N wide waveforms (N × L) of one channel, peaking at ``times_s`` (ascending); ``noise_uv``: its
    noise SD."""
    n_wave = wides.shape[0]
    g = geometry
    if n_wave == 0:
        return Clustering(np.zeros(0, int), np.zeros(0, int), [])
    times_s = np.asarray(times_s, dtype=float)
    var = max(noise_uv, 1e-6) ** 2
    views = _Views(wides, g)
    leader = Leader(g, config)
    placed = [leader.add(w, var) for w in views.at(0)]
    state = _State(np.array([k for k, _ in placed], dtype=int), np.array([o for _, o in placed], dtype=int),
                   np.zeros(n_wave, dtype=int))
    for _ in range(config.refine_passes):
        state = _reassign(views, times_s, state, var, config, 1)
    state = _merge(views, times_s, state, var, config)
    for _ in range(n_wave + 1):  # dropping small clusters can shrink others; stops when stable
        state = _reassign(views, times_s, state, var, config, config.min_twitches)
        labels = state.labels
        counts = np.bincount(labels[labels >= 0], minlength=1) if (labels >= 0).any() else np.zeros(1)
        small = [k for k in set(labels[labels >= 0].tolist()) if counts[k] < config.min_twitches]
        if not small:
            break
        state = _State(np.where(np.isin(labels, small), UNASSIGNED, labels), state.offsets, state.anchors)
    return _renumber(wides, state.labels, state.offsets)


class _State:
    """Per waveform: its cluster, its alignment on the cluster's template (samples from its own peak, as
    ``shifted`` takes it) and the coarse part of that alignment its lags are searched around."""

    def __init__(self, labels: np.ndarray, offsets: np.ndarray, anchors: np.ndarray) -> None:
        self.labels, self.offsets, self.anchors = labels, offsets, anchors


class _Views:
    """The compared windows (with lag margins) of every waveform, centred on its peak moved by an anchor.

    A unit whose members were aligned on two different phases is merged with the lag between them; its
    template is then searched around both alignments, or its members would no longer fit it.
    """

    def __init__(self, wides: np.ndarray, geometry: Geometry) -> None:
        self.wides, self.g = wides, geometry
        self._cache: dict[int, np.ndarray] = {}

    def at(self, anchor: int) -> np.ndarray:
        if anchor not in self._cache:
            moved = np.stack([shifted(w, anchor) for w in self.wides]) if anchor else self.wides
            self._cache[anchor] = self.g.core_ext(moved)
        return self._cache[anchor]

    def own(self, idx: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        return np.stack([self.at(int(anchors[i]))[i] for i in idx])


def _medians(wides: np.ndarray, labels: np.ndarray, offsets: np.ndarray) -> dict[int, np.ndarray]:
    out = {}
    for k in sorted(set(labels[labels >= 0].tolist())):
        idx = np.flatnonzero(labels == k)
        out[k] = np.median(np.stack([shifted(wides[i], int(offsets[i])) for i in idx]), axis=0)
    return out


def _reassign(views: _Views, times_s: np.ndarray, state: _State, var: float, config: SortConfig,
              min_members: int) -> _State:
    """Every waveform to the template it fits best, each template scaled to its cluster's amplitude at that time."""
    g, labels = views.g, state.labels
    n = len(labels)
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
    out = _State(np.full(n, UNASSIGNED, dtype=int), np.zeros(n, dtype=int), np.zeros(n, dtype=int))
    keys = [k for k in sorted(set(labels[labels >= 0].tolist())) if counts[k] >= min_members]
    if not keys:
        return out
    medians = _medians(views.wides, labels, state.offsets)
    rows = np.arange(n)
    qs, offs, ancs = [], [], []
    for k in keys:
        idx = np.flatnonzero(labels == k)
        core = g.core_ext(medians[k])[g.shift: g.shift + g.core_n]
        amp = local_amplitude(times_s, idx, free_gains(views.own(idx, state.anchors), core), config)
        best_q, best_off, best_anc = np.full(n, np.inf), np.zeros(n, dtype=int), np.zeros(n, dtype=int)
        for anchor in sorted(set(state.anchors[idx].tolist())):
            q, lag = fit(views.at(anchor), core, amp, int(counts[k]), var, config)
            better = q < best_q
            best_q[better], best_off[better], best_anc[better] = q[better], anchor + lag[better] - g.shift, anchor
        qs.append(best_q)
        offs.append(best_off)
        ancs.append(best_anc)
    q, off, anc = np.stack(qs, axis=1), np.stack(offs, axis=1), np.stack(ancs, axis=1)  # N × M
    pick = q.argmin(axis=1)
    ok = q[rows, pick] <= 1.0
    out.labels[ok] = np.array(keys)[pick[ok]]
    out.offsets[ok] = off[rows, pick][ok]
    out.anchors[ok] = anc[rows, pick][ok]
    return out


def _merge(views: _Views, times_s: np.ndarray, state: _State, var: float, config: SortConfig) -> _State:
    g, wides = views.g, views.wides
    labels, offsets, anchors = state.labels.copy(), state.offsets.copy(), state.anchors.copy()
    wide_shift = max(g.shift, min(round(config.merge_shift_s * g.fs_hz), g.before - g.core_before,
                                  g.after - g.core_after))
    lo, hi = g.before - g.core_before - wide_shift, g.before + g.core_after + wide_shift
    while True:
        medians = _medians(wides, labels, offsets)
        keys = list(medians)
        if len(keys) < 2:
            return _State(labels, offsets, anchors)
        counts = {k: int((labels == k).sum()) for k in keys}
        exts = {k: medians[k][lo:hi] for k in keys}
        cores = {k: exts[k][wide_shift: wide_shift + g.core_n] for k in keys}
        best = None
        for a_i, a in enumerate(keys):
            for b in keys[a_i + 1:]:
                q, lag = _template_fit(exts[b], cores[a], cores[b], counts[a], counts[b], var, g, config, 1.0)
                if q > 1.0:
                    # Alike only at another size: one unit that drifted (its sizes come one after the other),
                    # or two units of one shape (their twitches mixed in time), which stay apart.
                    q, lag = _template_fit(exts[b], cores[a], cores[b], counts[a], counts[b], var, g, config,
                                           config.max_drift)
                    if q > 1.0 or not in_runs(times_s[labels == a], times_s[labels == b], config.drift_runs_z):
                        continue
                if best is None or q < best[0]:
                    best = (q, a, b, lag - wide_shift)
        if best is None:
            return _State(labels, offsets, anchors)
        _, a, b, lag = best
        # Members of b move onto a's alignment: b's template sits ``lag`` samples off a's.
        moved = labels == b
        labels[moved] = a
        offsets[moved] = offsets[moved] + lag
        anchors[moved] = anchors[moved] + lag


def _template_fit(ext_b, core_a, core_b, n_a, n_b, var, g: Geometry, config: SortConfig,
                  max_gain: float) -> tuple[float, int]:
    """Template b (with lag margins) against template a at the best gain within ×/÷``max_gain``: the squared
    difference over the merge tolerance, and the lag."""
    ww, wt, tt = _products(ext_b, core_a)
    gain = np.clip(wt / tt, 1.0 / max_gain, max_gain) if tt > 0 else np.ones_like(wt)
    d2 = np.maximum(ww - 2.0 * gain * wt + gain * gain * tt, 0.0)[0]
    big = np.maximum(gain[0] * gain[0] * tt, float(core_b @ core_b))
    tol = (config.noise_factor * g.core_n * var * MEDIAN_NOISE * (1 / n_a + 1 / n_b)
           + config.merge_tolerance ** 2 * big)
    q = d2 / tol
    lag = int(q.argmin())
    return float(q[lag]), lag


def _renumber(wides: np.ndarray, labels: np.ndarray, offsets: np.ndarray) -> Clustering:
    """Units numbered by twitches (most first), ties by first seen; templates are aligned medians."""
    keys = sorted(set(labels[labels >= 0].tolist()),
                  key=lambda k: (-int((labels == k).sum()), int(np.flatnonzero(labels == k)[0])))
    remap = {k: i for i, k in enumerate(keys)}
    out = np.array([remap.get(int(k), UNASSIGNED) for k in labels], dtype=int)
    medians = _medians(wides, labels, offsets)
    return Clustering(out, np.where(out >= 0, offsets, 0), [medians[k] for k in keys])
