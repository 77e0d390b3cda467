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

import numpy as np

from fascdetect.dsp.envelope import EnvelopeChunk
from fascdetect.dsp.noise_floor import RunningFloor


@dataclass(frozen=True)
class Segment:
    """One supra-threshold run on one lane, in envelope bins (global indices, end exclusive)."""

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

    def __init__(self, n_lanes: int, tail_bins: int, strong_fraction: float = 0.0, decay_bins: float = np.inf) -> None:
        self.n_lanes = n_lanes
        self.tail_bins = tail_bins
        self._log_fraction = np.log(strong_fraction) if strong_fraction > 0 else -np.inf
        self.decay_bins = decay_bins
        self._open: list[_Run | None] = [None] * n_lanes
        self._last_bad = np.zeros(n_lanes, dtype=bool)

    def open_starts_by_lane(self) -> list[int | None]:
        """Start bin of each lane's open discharge (not final yet), or None."""
        return [None if r is None or r.open is None else r.open.start for r in self._open]

    def feed(self, chunk: EnvelopeChunk, thr_on: np.ndarray, thr_off: np.ndarray, floor: np.ndarray) -> list[Segment]:
        """Thresholds and floor are lanes × bins, in the envelope's unit.

        Runs are found for all lanes at once (edges of the padded mask); only
        the few runs themselves are looped over.
        """
        n_lanes, nb = chunk.env.shape
        if nb == 0:
            return []
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
        for lane, s, e in zip(lanes[keep].tolist(), starts[keep].tolist(), ends[keep].tolist()):
            continued = s == 0 and carried[lane] is not None
            run = carried[lane] if continued else _Run(chunk.start + s)
            # A run cut short by a clipped or gap-filled bin is not a whole event.
            bad_before = not continued and bool(chunk.bad[lane, s - 1] if s else self._last_bad[lane])
            out.extend(self._scan(lane, chunk, s, e, run, thr_on[lane], floor[lane], bad_before))
            if e == nb:
                self._open[lane] = run
            else:
                out.extend(self._close(lane, run, chunk.start + e, bool(chunk.bad[lane, e])))
        self._last_bad = chunk.bad[:, -1].copy()
        return out

    def finish(self, end_bin: int) -> list[Segment]:
        out = []
        for lane, run in enumerate(self._open):
            if run is not None:
                out.extend(self._close(lane, run, end_bin, False))
        self._open = [None] * self.n_lanes
        return out

    def _scan(self, lane: int, chunk: EnvelopeChunk, s: int, e: int, run: _Run, thr_on: np.ndarray,
              floor: np.ndarray, bad_before: bool) -> list[Segment]:
        """Discharges inside the run's part [s, e) of this chunk."""
        env = chunk.env[lane, s:e]
        high = chunk.high[lane, s:e]
        low = chunk.low[lane, s:e]
        k = np.arange(chunk.start + s - run.start, chunk.start + e - run.start, dtype=np.float64) / self.decay_bins
        with np.errstate(divide="ignore"):
            log_env = np.log(env.astype(np.float64))
        lift = np.maximum(np.maximum.accumulate(log_env + k), run.lift)
        run.lift = float(lift[-1])
        # env >= fraction * peak(n), with peak(n) = max_k env[k] * exp(-(n - k) / decay)
        strong = (log_env >= self._log_fraction + lift - k).view(np.int8)
        edges = np.diff(np.concatenate(([0], strong, [0])))
        region_starts = np.flatnonzero(edges == 1)
        region_ends = np.flatnonzero(edges == -1)
        out: list[Segment] = []
        if run.open is not None and (not region_starts.size or region_starts[0] > 0):
            out.extend(self._close(lane, run, chunk.start + s, False))
        if not region_starts.size:
            return out
        # Every discharge's measures at once: reduceat over [start, end) pairs of the strong
        # stretches (arrays padded by one so an end at the chunk's end is a valid index).
        absmax = np.maximum(high, -low)
        idx = np.empty(2 * region_starts.size, dtype=np.int64)
        idx[0::2], idx[1::2] = region_starts, region_ends

        def over(ufunc: np.ufunc, x: np.ndarray) -> np.ndarray:
            return ufunc.reduceat(np.append(x, x[:1]), idx)[0::2]

        peaks = over(np.maximum, absmax)
        highs = over(np.maximum, high)
        lows = over(np.minimum, low)
        sums = over(np.add, env.astype(np.float64))
        maxes = over(np.maximum, env)
        above = over(np.maximum, (env > thr_on[s:e]).view(np.int8))
        for n, (i, j) in enumerate(zip(region_starts.tolist(), region_ends.tolist())):
            part = _Discharge(
                start=chunk.start + s + i,
                peak=float(peaks[n]),
                peak_bin=chunk.start + s + i + int(np.argmax(absmax[i:j])),
                high=float(highs[n]),
                low=float(lows[n]),
                env_sum=float(sums[n]),
                env_max=float(maxes[n]),
                n=j - i,
                has_on=bool(above[n]),
                bad=bad_before and i == 0,
                floor=float(floor[s + i]),
            )
            if i == 0 and run.open is not None:
                run.open.extend(part)
            else:
                run.open = part
            if j < e - s:
                out.extend(self._close(lane, run, chunk.start + s + j, False))
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
            levels = np.median(env[:, body].reshape(self.n_lanes, whole, F), axis=2)
            frame_bad = bad[:, body].reshape(self.n_lanes, whole, F).any(axis=2)
            per_frame = self.floor.update_many(levels, frame_bad)
            floors[:, body] = np.repeat(per_frame, F, axis=1)
        tail = head + whole * F
        floors[:, tail:] = self.floor.floor[:, None]
        self._frame_env, self._frame_bad = [env[:, tail:]], [bad[:, tail:]]
        self._frame_fill = nb - tail
        return floors

    def _complete_frame(self, env: np.ndarray, bad: np.ndarray) -> None:
        self.floor.update(np.median(env, axis=1), bad.any(axis=1))


LOW_BAND_BOXCARS_S = (0.020, 1 / 60)
"""Two moving averages that make the low band: zeros at 50 and 60 Hz and their harmonics, ~20 Hz wide."""
SWING_PRE_S = 0.08
"""The low band's level before a segment: a line fitted over this long, ending ``SWING_GUARD_S`` before it."""
SWING_GUARD_S = 0.01
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
        measured = [self._measure(s) for s in held]
        return sorted(self._with_swings(measured) + segments, key=lambda seg: (seg.start, seg.lane))

    def _measure_all(self, segments: list[Segment]) -> list[Segment]:
        """``_measure`` for segments whose four windows are whole, with one median call for all of them."""
        h0 = self._hist_start
        half = self.ref_bins // 2
        # Four windows of one length: an even reference span, all of it still in the history.
        split = half and self.ref_bins % 2 == 0
        whole, out = [], []
        for seg in segments:
            if split and seg.start - self.guard_bins - self.ref_bins >= h0:
                whole.append(seg)
            else:
                out.append(self._measure(seg))
        if whole:
            starts = np.array([[s.start - self.guard_bins - self.ref_bins, s.start - self.guard_bins - half,
                                s.end + self.guard_bins, s.end + self.guard_bins + half] for s in whole]) - h0
            lanes = np.array([s.lane for s in whole])
            idx = starts[:, :, None] + np.arange(half)
            windows = self._hist[lanes[:, None, None], idx]
            # The median by one partition (what np.median does, without its checks): the mean of the
            # two middle values of an even window, the middle one of an odd one.
            mid = [half // 2 - 1, half // 2] if half % 2 == 0 else [half // 2]
            medians = np.partition(windows, mid, axis=2)[:, :, mid].mean(axis=2).min(axis=1)
            out.extend(_with_local(s, max(float(m), s.floor * 1e-3)) for s, m in zip(whole, medians))
        return self._with_swings(out)

    def _measure(self, seg: Segment) -> Segment:
        """Local background from the windows there are (at a stream's start or end, fewer)."""
        h0 = self._hist_start
        row = self._hist[seg.lane]
        sides = [row[max(0, seg.start - self.guard_bins - self.ref_bins - h0):max(0, seg.start - self.guard_bins - h0)],
                 row[max(0, seg.end + self.guard_bins - h0):max(0, seg.end + self.guard_bins + self.ref_bins - h0)]]
        # The smallest of the sub-window medians (an SO-CFAR): a larger discharge's
        # filter ringing (a mains band-stop rings for ~0.3 s) or the candidate's own
        # contaminates some of them, while a raised background raises them all.
        half = self.ref_bins // 2
        levels = [float(np.median(w)) for side in sides for w in (side[:half], side[half:]) if w.size]
        return _with_local(seg, max(min(levels) if levels else seg.floor, seg.floor * 1e-3))

    def _with_swings(self, segments: list[Segment]) -> list[Segment]:
        """Each segment with its low-band swing, all at once.

        The low band is the per-bin mean of the unfiltered signal through two
        moving averages; its level is a line fitted over a window before the
        segment, and the swing the largest distance from it from just before
        the segment to ``SWING_POST_S`` after. A motor-unit potential has
        phases of both signs, so almost nothing of it survives (swing ~0.1 ×
        its peak); a cable tug or contact change is mostly low band (~2 ×).
        Bins beyond the stream's ends repeat the edge, so the result does not
        depend on chunking.
        """
        if self._base is None or not segments:
            return segments
        b1, b2 = self._boxcars
        off = (b1 - 1) // 2 + (b2 - 1) // 2
        span = self._pre + self.max_bins + self._post
        width = span + b1 + b2 - 2
        starts = np.array([s.start for s in segments])
        idx = np.clip(starts[:, None] - self._pre - off + np.arange(width) - self._hist_start, 0, self._base.shape[1] - 1)
        w = self._base[np.array([s.lane for s in segments])[:, None], idx].astype(np.float64)
        low = _moving_mean(_moving_mean(w, b1), b2)  # low[:, i] is the band at bin start - pre + i
        n_pre = self._pre - self._guard_pre
        cols = np.arange(span, dtype=np.float64)
        # The level before, as a line (least squares over the pre-window), so slow baseline wander is not a swing.
        x = cols[:n_pre] - (n_pre - 1) / 2
        mean = low[:, :n_pre].mean(axis=1)
        slope = (low[:, :n_pre] @ x) / (x @ x)
        level = mean[:, None] + slope[:, None] * (cols - (n_pre - 1) / 2)
        ends = self._pre + np.minimum(np.array([s.end for s in segments]) - starts, self.max_bins) + self._post
        inside = (cols >= n_pre) & (cols[None, :] < ends[:, None])
        swings = np.where(inside, np.abs(low - level), 0.0).max(axis=1)
        return [_with_local(s, s.local, float(v)) for s, v in zip(segments, swings)]


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Means of every ``n`` consecutive columns ("valid" mode)."""
    c = np.cumsum(x, axis=1)
    out = c[:, n - 1:].copy()
    out[:, 1:] -= c[:, :-n]
    return out / n


def _with_local(s: Segment, local: float, swing: float | None = None) -> Segment:
    """``replace(s, local=local)``, several times faster (tens of thousands of segments an hour)."""
    return Segment(s.lane, s.start, s.end, s.peak, s.peak_bin, s.high, s.low, s.mean_env, s.snr, s.bad, s.floor, local,
                   s.swing if swing is None else swing)
