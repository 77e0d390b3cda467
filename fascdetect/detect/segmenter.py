"""Hysteresis segmentation of envelopes against each lane's running noise floor.

An event starts where the envelope exceeds ``threshold_on`` × floor and
ends where it falls below ``threshold_off`` × floor. Runs open at a chunk's
end are carried over, so segment boundaries do not depend on chunking.

Each brief segment is also measured against its own *local* background, in
the spirit of a CFAR detector: the median envelope of reference windows on
each side of it (a guard gap away), the smallest of them. A segment is held back until that
window has arrived, so the measure too is independent of chunking. Where the
chunk carries the unfiltered signal's per-bin mean (EMG), the same wait gives
the segment's *swing*: how far that signal's low band moves around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fascdetect import jit
from fascdetect.detect import runs_compiled
from fascdetect.dsp.envelope import EnvelopeChunk
from fascdetect.dsp.median import medians
from fascdetect.dsp.noise_floor import RunningFloor


class Segment(NamedTuple):
    """One supra-threshold run on one lane, in envelope bins (global indices, end exclusive).

    A named tuple (made ~70,000 times an hour, twice each: it is five times quicker to make than a frozen
    dataclass)."""

    lane: int
    start: int
    end: int
    peak: float
    """Largest absolute filtered sample, in the lane's unit."""
    peak_bin: int
    """Where that peak is (global bin): volume-conducted copies peak together."""
    high: float
    low: float
    """Largest and smallest filtered sample (the two phases of a potential)."""
    mean_env: float
    """Mean RMS envelope over the run, in the lane's unit."""
    snr: float
    """Peak envelope over the noise floor."""
    bad: bool
    """Touches clipped or gap-filled samples."""
    floor: float = 0.0
    """The running noise floor where the segment starts (envelope unit)."""
    local: float = 0.0
    """Median envelope of the reference window around the segment (the floor for long segments)."""
    swing: float = 0.0
    """Largest excursion of the unfiltered signal's low band (below ~20 Hz) from just before the
    segment to shortly after it, in the lane's unit (0 where not measured)."""


@dataclass
class _Discharge:
    """A strong stretch being measured (it may continue into the next chunk)."""

    start: int
    peak: float
    peak_bin: int
    high: float
    low: float
    env_sum: float
    env_max: float
    n: int
    has_on: bool
    bad: bool
    floor: float

    def extend(self, other: "_Discharge") -> None:
        if other.peak > self.peak:
            self.peak, self.peak_bin = other.peak, other.peak_bin
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.env_sum += other.env_sum
        self.env_max = max(self.env_max, other.env_max)
        self.n += other.n
        self.has_on |= other.has_on
        self.bad |= other.bad


@dataclass
class _Run:
    """A stretch above the off-threshold.

    ``start`` is its first bin; ``lift`` the running max of
    ``log(env[k]) + k / decay_bins`` over the run so far (k from the run's
    start), from which the decaying peak follows exactly, however the run
    was split into chunks.
    """

    start: int
    lift: float = -np.inf
    open: _Discharge | None = None


class RunTracker:
    """Hysteresis over per-bin thresholds, carrying runs that are open at a chunk's end.

    Inside a run above the off-threshold, a *discharge* is a stretch where the
    envelope is at least ``strong_fraction`` of the run's recent peak (a peak
    hold that decays with ``decay_bins``), and it counts only if it crosses
    the on-threshold. Filter ringing after a large potential keeps the
    envelope over the off-threshold for tens of ms but far below the
    potential itself, so it neither lengthens the potential nor merges it
    with a second discharge (a doublet); the decay lets sustained activity
    (a cramp) be measured against its recent level, not its largest spike.
    """

    def __init__(self, n_lanes: int, tail_bins: int, strong_fraction: float = 0.0, decay_bins: float = np.inf,
                 compiled: bool = jit.ENABLED) -> None:
        """``compiled``: scan with ``runs_compiled`` (numba) instead of the numpy path; same segments."""
        self.n_lanes = n_lanes
        self.tail_bins = tail_bins
        self._log_fraction = np.log(strong_fraction) if strong_fraction > 0 else -np.inf
        self.decay_bins = decay_bins
        self._open: list[_Run | None] = [None] * n_lanes
        self._last_bad = np.zeros(n_lanes, dtype=bool)
        self._scan = runs_compiled.ScanState(n_lanes) if compiled and runs_compiled.scan is not None else None

    def open_starts_by_lane(self) -> list[int | None]:
        """Start bin of each lane's open discharge (not final yet), or None."""
        if self._scan is not None:
            s = self._scan
            return [int(s.d_int[lane, runs_compiled.START]) if s.run_open[lane] and s.d_open[lane] else None
                    for lane in range(self.n_lanes)]
        return [None if r is None or r.open is None else r.open.start for r in self._open]

    def feed(self, chunk: EnvelopeChunk, thr_on: np.ndarray, thr_off: np.ndarray, floor: np.ndarray) -> list[Segment]:
        """Thresholds and floor are lanes × bins, in the envelope's unit.

        Runs are found for all lanes at once (edges of the padded mask); only
        the few runs themselves are looped over.
        """
        n_lanes, nb = chunk.env.shape
        if nb == 0:
            return []
        if self._scan is not None:
            return self._feed_compiled(chunk, thr_on, thr_off, floor)
        above = (chunk.env > thr_off) & ~chunk.bad
        padded = np.zeros((n_lanes, nb + 2), dtype=np.int8)
        padded[:, 1:-1] = above
        edges = np.diff(padded, axis=1)
        lanes, starts = np.nonzero(edges == 1)
        _, ends = np.nonzero(edges == -1)
        out: list[Segment] = []
        carried, self._open = self._open, [None] * n_lanes
        for lane, run in enumerate(carried):
            if run is not None and not above[lane, 0]:
                # The carried run ended right at the chunk boundary.
                out.extend(self._close(lane, run, chunk.start, bool(chunk.bad[lane, 0])))
        # Most runs are noise brushing the off-threshold; one that never reaches
        # the on-threshold, and neither comes from nor goes into another chunk,
        # holds no discharge and is skipped without a closer look.
        keep = (starts == 0) | (ends == nb) | _reaches(chunk.env > thr_on, lanes, starts, ends)
        lanes, starts, ends = lanes[keep], starts[keep], ends[keep]
        runs = [carried[lane] if s == 0 and carried[lane] is not None else _Run(chunk.start + s)
                for lane, s in zip(lanes.tolist(), starts.tolist())]
        parts = _Strong(chunk, lanes, starts, ends, runs, thr_on, floor, self._log_fraction, self.decay_bins)
        for r, (lane, s, e, run) in enumerate(zip(lanes.tolist(), starts.tolist(), ends.tolist(), runs)):
            # A run cut short by a clipped or gap-filled bin is not a whole event.
            bad_before = run is not carried[lane] and bool(chunk.bad[lane, s - 1] if s else self._last_bad[lane])
            out.extend(self._discharges(lane, chunk.start + s, e - s, run, parts, r, bad_before))
            if e == nb:
                self._open[lane] = run
            else:
                out.extend(self._close(lane, run, chunk.start + e, bool(chunk.bad[lane, e])))
        self._last_bad = chunk.bad[:, -1].copy()
        return out

    def _feed_compiled(self, chunk: EnvelopeChunk, thr_on: np.ndarray, thr_off: np.ndarray,
                       floor: np.ndarray) -> list[Segment]:
        n_lanes, nb = chunk.env.shape
        out_i, out_f = _segment_rows(n_lanes * (nb // 2 + 2))
        logs = np.log(chunk.env[(chunk.env > thr_off) & ~chunk.bad].astype(np.float64))
        n = runs_compiled.scan(chunk.env, logs, chunk.high, chunk.low, chunk.bad, thr_on, thr_off, floor,
                               chunk.start, self._log_fraction, float(self.decay_bins), self.tail_bins,
                               *self._scan.arrays(), out_i, out_f)
        return _segments(out_i[:n], out_f[:n])

    def finish(self, end_bin: int) -> list[Segment]:
        if self._scan is not None:
            s = self._scan
            out_i, out_f = _segment_rows(self.n_lanes)
            n = runs_compiled.finish(end_bin, s.run_open, s.d_open, s.d_flags, s.d_int, s.d_float, self.tail_bins,
                                     out_i, out_f)
            return _segments(out_i[:n], out_f[:n])
        out = []
        for lane, run in enumerate(self._open):
            if run is not None:
                out.extend(self._close(lane, run, end_bin, False))
        self._open = [None] * self.n_lanes
        return out

    def _discharges(self, lane: int, first: int, length: int, run: _Run, parts: "_Strong", r: int,
                    bad_before: bool) -> list[Segment]:
        """The run's strong stretches in this chunk (from ``first``, ``length`` bins), as discharges."""
        out: list[Segment] = []
        lo, hi = parts.first_region[r], parts.first_region[r + 1]
        if run.open is not None and (lo == hi or parts.i[lo] > 0):
            out.extend(self._close(lane, run, first, False))
        for n in range(lo, hi):
            i, j = parts.i[n], parts.j[n]
            part = _Discharge(first + i, parts.peaks[n], first + parts.peak_at[n], parts.highs[n], parts.lows[n],
                              parts.sums[n], parts.maxes[n], j - i, parts.above[n], bad_before and i == 0,
                              parts.floors[n])
            if i == 0 and run.open is not None:
                run.open.extend(part)
            else:
                run.open = part
            if j < length:
                out.extend(self._close(lane, run, first + j, False))
        return out

    def _close(self, lane: int, run: _Run, end: int, bad_after: bool) -> list[Segment]:
        d, run.open = run.open, None
        if d is None or not d.has_on:
            return []
        d.bad |= bad_after
        # The trailing moving-average window keeps the envelope up after the activity stops.
        end = max(d.start + 1, end - self.tail_bins)
        return [Segment(lane, d.start, end, d.peak, d.peak_bin, d.high, d.low, d.env_sum / d.n, d.env_max / d.floor, d.bad,
                        d.floor, d.floor)]


def _segment_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((n, 6), dtype=np.int64), np.empty((n, 6))


def _segments(ints: np.ndarray, floats: np.ndarray) -> list[Segment]:
    """The compiled scan's rows as Segments, the runs that ended at the chunk's start first (as ``feed`` orders them)."""
    c = runs_compiled
    order = np.argsort(ints[:, c.OUT_FIRST] == 0, kind="stable")
    return [Segment(i[c.OUT_LANE], i[c.OUT_START], i[c.OUT_END], f[c.OUT_PEAK], i[c.OUT_PEAK_BIN], f[c.OUT_HIGH],
                    f[c.OUT_LOW], f[c.OUT_MEAN], f[c.OUT_SNR], bool(i[c.OUT_BAD]), f[c.OUT_FLOOR], f[c.OUT_FLOOR])
            for i, f in zip(ints[order].tolist(), floats[order].tolist())]


class _Strong:
    """The strong stretches of every run of a chunk, measured at once.

    Within a run, a bin is strong where ``env >= fraction * peak(n)``, with
    ``peak(n) = max_k env[k] * exp(-(n - k) / decay)`` over the run so far: in
    logs, a running maximum of ``log(env[k]) + k / decay`` (the run's ``lift``,
    carried across chunks). The runs are laid end to end in one flat array;
    the running maximum restarts at each run (``_segmented_cummax``, exact), and
    each stretch's measures are one ``reduceat`` for all. Updates ``run.lift``.
    Per stretch ``n`` (in run order): ``i``/``j`` its bins in its run's part of
    the chunk, ``peak_at`` the first bin of its peak, and its measures.
    """

    def __init__(self, chunk: EnvelopeChunk, lanes: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 runs: list[_Run], thr_on: np.ndarray, floor: np.ndarray, log_fraction: float,
                 decay_bins: float) -> None:
        nb = chunk.env.shape[1]
        lengths = ends - starts
        offsets = np.cumsum(lengths) - lengths
        total = int(lengths.sum())
        owner = np.repeat(np.arange(lengths.size), lengths)
        pos = np.arange(total) - offsets[owner]
        flat = (lanes * nb + starts)[owner] + pos
        env = chunk.env.ravel()[flat]
        high = chunk.high.ravel()[flat]
        low = chunk.low.ravel()[flat]
        k0 = chunk.start + starts - np.array([run.start for run in runs], dtype=np.int64)
        k = (k0[owner] + pos).astype(np.float64) / decay_bins
        with np.errstate(divide="ignore"):
            log_env = np.log(env.astype(np.float64))
        carried = np.array([run.lift for run in runs], dtype=np.float64)
        lift = np.maximum(_segmented_cummax(log_env + k, lengths, offsets), carried[owner])
        for run, v in zip(runs, lift[offsets + lengths - 1].tolist()):
            run.lift = v
        strong = log_env >= log_fraction + lift - k
        first = pos == 0
        last = pos == lengths[owner] - 1
        begins = np.flatnonzero(strong & (first | ~np.roll(strong, 1)))
        stops = np.flatnonzero(strong & (last | ~np.roll(strong, -1))) + 1
        self.first_region = np.searchsorted(owner[begins], np.arange(lengths.size + 1)).tolist()
        self.i = pos[begins].tolist()
        self.j = (pos[stops - 1] + 1).tolist()
        if not begins.size:
            return
        idx = np.empty(2 * begins.size, dtype=np.int64)
        idx[0::2], idx[1::2] = begins, stops

        def over(ufunc: np.ufunc, x: np.ndarray) -> np.ndarray:
            return ufunc.reduceat(np.append(x, x[:1]), idx)[0::2]

        absmax = np.maximum(high, -low)
        peaks = over(np.maximum, absmax)
        # The first bin of each stretch's peak (what argmax over the stretch gives).
        region = np.repeat(np.arange(begins.size), stops - begins)
        members = _ranges(begins, stops)
        at_peak = np.full(total, total, dtype=np.int64)
        hit = members[absmax[members] == peaks[region]]
        at_peak[hit] = hit
        self.peak_at = (pos[over(np.minimum, at_peak)]).tolist()
        self.peaks = peaks.tolist()
        self.highs = over(np.maximum, high).tolist()
        self.lows = over(np.minimum, low).tolist()
        self.sums = over(np.add, env.astype(np.float64)).tolist()
        self.maxes = over(np.maximum, env).tolist()
        self.above = over(np.maximum, (env > thr_on.ravel()[flat]).view(np.int8)).astype(bool).tolist()
        self.floors = floor.ravel()[flat[begins]].tolist()


def _segmented_cummax(v: np.ndarray, lengths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Running maximum of ``v`` restarting at each segment (``offsets``/``lengths``), exactly.

    Segments of similar length (within a factor 2) go into the rows of one
    -inf-padded matrix, and one ``maximum.accumulate`` along the rows does them.
    """
    out = np.empty_like(v)
    if not v.size:
        return out
    bucket = np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64)
    for b in np.unique(bucket).tolist():
        sel = np.flatnonzero(bucket == b)
        width = int(lengths[sel].max())
        cols = np.arange(width)
        mask = cols < lengths[sel][:, None]
        where = (offsets[sel][:, None] + cols)[mask]
        m = np.full((sel.size, width), -np.inf)
        m[mask] = v[where]
        np.maximum.accumulate(m, axis=1, out=m)
        out[where] = m[mask]
    return out


def _ranges(begins: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """All indices of the ranges [begins[n], stops[n]), concatenated."""
    lengths = stops - begins
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(begins - offsets, lengths) + np.arange(int(lengths.sum()))


def _reaches(mask: np.ndarray, lanes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each run [start, end) of its lane, whether ``mask`` is set anywhere in it (one reduceat for all)."""
    if lanes.size == 0:
        return np.zeros(0, dtype=bool)
    nb = mask.shape[1]
    idx = np.empty(2 * lanes.size, dtype=np.int64)
    idx[0::2] = lanes * nb + starts
    idx[1::2] = lanes * nb + ends
    flat = np.append(mask.ravel().view(np.int8), np.int8(0))  # the pad keeps an index == size in range
    return np.maximum.reduceat(flat, idx)[0::2].astype(bool)


class Segmenter:
    """Turns envelope chunks into Segments against a running noise floor.

    The first ``probe_frames`` frames are held back to prime the noise floor
    (a threshold needs a floor), then detection runs over them too.
    """

    def __init__(self, n_lanes: int, frame_bins: int, probe_frames: int, floor: RunningFloor,
                 threshold_on: float, threshold_off: float, tail_bins: int, strong_fraction: float,
                 decay_bins: float, reference: "LocalReference | None" = None) -> None:
        self.n_lanes = n_lanes
        self.reference = reference or LocalReference(n_lanes, 0, 0, 0)
        self.runs = RunTracker(n_lanes, tail_bins, strong_fraction, decay_bins)
        self.frame_bins = frame_bins
        self.probe_frames = max(1, probe_frames)
        self.floor = floor
        self.on = threshold_on
        self.off = threshold_off
        self._primed = False
        self._pending: list[EnvelopeChunk] = []
        self._frame_env: list[np.ndarray] = []
        self._frame_bad: list[np.ndarray] = []
        self._frame_fill = 0
        self._next_bin = 0

    @property
    def primed(self) -> bool:
        return self._primed

    @property
    def done_bin(self) -> int:
        """Bins before this index are fully processed (segments held for their reference window are not)."""
        return min(self._next_bin, self.reference.held_start())

    def feed(self, chunk: EnvelopeChunk) -> list[Segment]:
        if self._primed:
            return self._detect(chunk)
        self._pending.append(chunk)
        have = sum(c.env.shape[1] for c in self._pending)
        if have >= self.probe_frames * self.frame_bins:
            return self._prime()
        return []

    def finish(self) -> list[Segment]:
        """End of stream: prime with whatever there is, close open runs."""
        out = [] if self._primed else self._prime()
        return out + self.reference.finish(self.runs.finish(self._next_bin))

    def _prime(self) -> list[Segment]:
        """Floor from exactly the first probe frames (fewer at a short stream's end), whatever the chunking."""
        if not self._pending:  # the stream ended before this lane saw a sample
            self._primed = True
            return []
        env = np.concatenate([c.env for c in self._pending], axis=1)
        frames = min(self.probe_frames, env.shape[1] // self.frame_bins)
        if frames:
            probe = env[:, :frames * self.frame_bins].reshape(self.n_lanes, frames, self.frame_bins)
            self.floor.prime(np.median(probe, axis=2))
        elif env.shape[1]:
            self.floor.prime(np.median(env, axis=1, keepdims=True))
        self._primed = True
        pending, self._pending = self._pending, []
        return [s for c in pending for s in self._detect(c)]

    def _detect(self, chunk: EnvelopeChunk) -> list[Segment]:
        nb = chunk.env.shape[1]
        if nb == 0:
            return []
        floor = self._floors(chunk)
        self._next_bin = chunk.start + nb
        return self.reference.feed(chunk, self.runs.feed(chunk, self.on * floor, self.off * floor, floor))

    def _floors(self, chunk: EnvelopeChunk) -> np.ndarray:
        """Floor per bin: the floor as it stood when each bin's frame began.

        Medians of all frames completed in this chunk are taken in one call;
        only the floor's recursion (each frame may change the next one's
        floor) runs frame by frame.
        """
        env, bad = chunk.env, chunk.bad
        nb = env.shape[1]
        F = self.frame_bins
        floors = np.empty(env.shape, dtype=np.float32)
        head = min(nb, F - self._frame_fill)
        floors[:, :head] = self.floor.floor[:, None]
        self._frame_env.append(env[:, :head])
        self._frame_bad.append(bad[:, :head])
        self._frame_fill += head
        if self._frame_fill < F:
            return floors
        self._complete_frame(np.concatenate(self._frame_env, axis=1), np.concatenate(self._frame_bad, axis=1))
        whole = (nb - head) // F
        if whole:
            body = slice(head, head + whole * F)
            levels = medians(env[:, body].reshape(self.n_lanes, whole, F))
            frame_bad = bad[:, body].reshape(self.n_lanes, whole, F).any(axis=2)
            per_frame = self.floor.update_many(levels, frame_bad)
            floors[:, body] = np.repeat(per_frame, F, axis=1)
        tail = head + whole * F
        floors[:, tail:] = self.floor.floor[:, None]
        self._frame_env, self._frame_bad = [env[:, tail:]], [bad[:, tail:]]
        self._frame_fill = nb - tail
        return floors

    def _complete_frame(self, env: np.ndarray, bad: np.ndarray) -> None:
        self.floor.update(medians(env), bad.any(axis=1))


LOW_BAND_BOXCARS_S = (0.020, 1 / 60)
"""Two moving averages that make the low band: zeros at 50 and 60 Hz and their harmonics, ~20 Hz wide."""
SWING_PRE_S = 0.08
"""The low band's level before a segment: a line fitted over this long, ending ``SWING_GUARD_S`` before it."""
SWING_GUARD_S = 0.01
MEASURE_BATCH = 2048
"""Segments measured per array operation (each takes a few hundred bins of history)."""
SWING_WIDTH_STEP = 16
"""Segments are measured for their swing in groups whose windows are within this many bins of one length."""
SWING_POST_S = 0.05
"""How long after a segment's end its low-band swing is looked for (a cable's swing follows its edge)."""


class LocalReference:
    """The local background of brief segments: median envelope of ``ref_bins`` on each side, ``guard_bins`` away.

    Keeps the last few hundred ms of envelope per lane; a segment of at most
    ``max_bins`` waits here until its window after it has arrived. Longer
    segments (cramps, movement) keep the running floor as their reference.
    With ``bin_s`` given and chunks that carry ``base``, brief segments also get their swing.
    """

    def __init__(self, n_lanes: int, ref_bins: int, guard_bins: int, max_bins: int, bin_s: float = 0.0) -> None:
        self.ref_bins = ref_bins
        self.guard_bins = guard_bins
        self.max_bins = max_bins
        self._keep = 2 * (ref_bins + guard_bins) + max_bins + 1
        self._hist = np.zeros((n_lanes, 0), dtype=np.float32)
        self._base: np.ndarray | None = None
        self._hist_start = 0
        self._held: list[Segment] = []
        self._boxcars = tuple(max(1, round(b / bin_s)) for b in LOW_BAND_BOXCARS_S) if bin_s else ()
        if bin_s:
            self._pre, self._guard_pre, self._post = (max(1, round(v / bin_s)) for v in
                                                      (SWING_PRE_S, SWING_GUARD_S, SWING_POST_S))

    def held_start(self) -> float:
        return min((s.start for s in self._held), default=np.inf)

    def feed(self, chunk: EnvelopeChunk, segments: list[Segment]) -> list[Segment]:
        if not self.ref_bins:
            return segments
        self._hist = np.concatenate([self._hist, chunk.env], axis=1)
        if chunk.base is not None and self._boxcars:
            self._base = chunk.base if self._base is None else np.concatenate([self._base, chunk.base], axis=1)
        self._held.extend(s for s in segments if s.end - s.start <= self.max_bins)
        ready = [s for s in segments if s.end - s.start > self.max_bins]
        end = chunk.start + chunk.env.shape[1]
        due = [seg for seg in self._held if seg.end + self.guard_bins + self.ref_bins <= end]
        self._held = [seg for seg in self._held if seg.end + self.guard_bins + self.ref_bins > end]
        ready.extend(self._measure_all(due))
        trim = max(0, self._hist.shape[1] - self._keep)
        if trim:
            self._hist = self._hist[:, trim:]
            if self._base is not None:
                self._base = self._base[:, trim:]
            self._hist_start += trim
        return sorted(ready, key=lambda seg: (seg.start, seg.lane))

    def finish(self, segments: list[Segment]) -> list[Segment]:
        """End of stream: measure what is held with the window there is."""
        held, self._held = self._held, []
        return sorted(self._measure_all(held, "there") + segments, key=lambda seg: (seg.start, seg.lane))

    def provisional(self) -> list[Segment]:
        """The held segments, measured on the windows before them only (a live display's early view)."""
        return self._measure_all(self._held, "before")

    def _measure_all(self, segments: list[Segment], windows: str = "whole") -> list[Segment]:
        """Segments with their local background and swing, all at once.

        ``windows``: ``whole`` when the windows after them have arrived (then,
        where all four are in the history, one partition gives every median),
        ``there`` at a stream's end (the windows there are), ``before`` for the
        early view (the windows before them only); ``_edge_local`` does the last two.
        """
        if len(segments) > MEASURE_BATCH:  # a whole recording in one block: keep the work arrays small
            return [m for i in range(0, len(segments), MEASURE_BATCH)
                    for m in self._measure_all(segments[i:i + MEASURE_BATCH], windows)]
        if not segments:
            return []
        geo = np.array([(seg.start, seg.end, seg.lane) for seg in segments], dtype=np.int64)
        starts, ends, lanes = geo[:, 0], geo[:, 1], geo[:, 2]
        h0 = self._hist_start
        half = self.ref_bins // 2
        # Four windows of one length: an even reference span, all of it still in the history.
        split = windows == "whole" and half and self.ref_bins % 2 == 0
        whole = (starts - self.guard_bins - self.ref_bins >= h0) & bool(split)
        local = np.empty(len(segments))
        w = np.flatnonzero(whole)
        if w.size:
            at = np.stack([starts[w] - self.guard_bins - self.ref_bins, starts[w] - self.guard_bins - half,
                           ends[w] + self.guard_bins, ends[w] + self.guard_bins + half], axis=1) - h0
            reference = sliding_window_view(self._hist, half, axis=1)[lanes[w][:, None], at]
            local[w] = medians(reference).min(axis=1)
        for n in np.flatnonzero(~whole).tolist():
            local[n] = self._edge_local(segments[n], after=windows != "before")
        swings = self._swings(starts, ends, lanes)
        return [Segment(seg.lane, seg.start, seg.end, seg.peak, seg.peak_bin, seg.high, seg.low, seg.mean_env, seg.snr,
                        seg.bad, seg.floor, max(v, seg.floor * 1e-3), sw)
                for seg, v, sw in zip(segments, local.tolist(), swings)]

    def _edge_local(self, seg: Segment, after: bool = True) -> float:
        """Local background from the windows there are (at a stream's start or end, fewer; before it only
        unless ``after``)."""
        h0 = self._hist_start
        row = self._hist[seg.lane]
        sides = [row[max(0, seg.start - self.guard_bins - self.ref_bins - h0):max(0, seg.start - self.guard_bins - h0)]]
        if after:
            sides.append(row[max(0, seg.end + self.guard_bins - h0):max(0, seg.end + self.guard_bins + self.ref_bins - h0)])
        # The smallest of the sub-window medians (an SO-CFAR): a larger discharge's
        # filter ringing (a mains band-stop rings for ~0.3 s) or the candidate's own
        # contaminates some of them, while a raised background raises them all.
        half = self.ref_bins // 2
        levels = [float(np.median(w)) for side in sides for w in (side[:half], side[half:]) if w.size]
        return min(levels) if levels else seg.floor

    def _swings(self, starts: np.ndarray, ends: np.ndarray, lanes: np.ndarray) -> list[float]:
        """Each segment's low-band swing (0 without ``base``).

        The low band is the per-bin mean of the unfiltered signal through two
        moving averages; its level is a line fitted over a window before the
        segment, and the swing the largest distance from it from just before
        the segment to ``SWING_POST_S`` after. A motor-unit potential has
        phases of both signs, so almost nothing of it survives (swing ~0.1 ×
        its peak); a cable tug or contact change is mostly low band (~2 ×).
        Bins beyond the stream's ends repeat the edge, so the result does not
        depend on chunking.
        """
        if self._base is None:
            return [0.0] * starts.size
        # Columns after a segment's own window never matter (each moving mean is a prefix sum, so cutting
        # later columns changes no earlier one): segments of similar length are measured on their width.
        need = self._pre + np.minimum(ends - starts, self.max_bins) + self._post
        buckets = np.minimum(-(-need // SWING_WIDTH_STEP) * SWING_WIDTH_STEP, self._pre + self.max_bins + self._post)
        out = np.empty(starts.size)
        for span in np.unique(buckets).tolist():
            rows = np.flatnonzero(buckets == span)
            out[rows] = self._swings_over(span, starts[rows], lanes[rows], need[rows])
        return out.tolist()

    def _swings_over(self, span: int, starts: np.ndarray, lanes: np.ndarray, last: np.ndarray) -> np.ndarray:
        """``_swings`` of segments whose windows (``last`` bins from ``pre`` before them) fit in ``span`` bins."""
        b1, b2 = self._boxcars
        off = (b1 - 1) // 2 + (b2 - 1) // 2
        width = span + b1 + b2 - 2
        first = starts - self._pre - off - self._hist_start
        n_base = self._base.shape[1]
        inner = (first >= 0) & (first + width <= n_base)
        w = np.empty((starts.size, width))
        w[inner] = sliding_window_view(self._base, width, axis=1)[lanes[inner], first[inner]]
        edge = np.flatnonzero(~inner)
        if edge.size:  # near a stream's start or end: the edge bin repeats
            idx = np.clip(first[edge][:, None] + np.arange(width), 0, n_base - 1)
            w[edge] = self._base[lanes[edge][:, None], idx]
        low = _moving_mean(_moving_mean(w, b1), b2)  # low[:, i] is the band at bin start - pre + i
        n_pre = self._pre - self._guard_pre
        cols = np.arange(span, dtype=np.float64)
        # The level before, as a line (least squares over the pre-window), so slow baseline wander is not a swing.
        x = cols[:n_pre] - (n_pre - 1) / 2
        before = low[:, :n_pre]
        mean = before.mean(axis=1)
        # Row by row (not a matrix product: BLAS sums in an order that depends on how many rows there are,
        # so a segment's swing would depend on which others were measured with it, i.e. on the chunking).
        slope = (before * x).sum(axis=1) / (x * x).sum()
        level = mean[:, None] + slope[:, None] * (cols - (n_pre - 1) / 2)
        inside = (cols >= n_pre) & (cols[None, :] < last[:, None])
        return np.where(inside, np.abs(low - level), 0.0).max(axis=1)


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Means of every ``n`` consecutive columns ("valid" mode)."""
    c = np.cumsum(x, axis=1)
    out = c[:, n - 1:].copy()
    out[:, 1:] -= c[:, :-n]
    return out / n
