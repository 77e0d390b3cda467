"""Hysteresis segmentation of envelopes against each lane's running noise floor.

An event starts where the envelope exceeds ``threshold_on`` × floor and
ends where it falls below ``threshold_off`` × floor. Runs open at a chunk's
end are carried over, so segment boundaries do not depend on chunking.
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
    mean_env: float
    """Mean RMS envelope over the run, in the lane's unit."""
    snr: float
    """Peak envelope over the noise floor."""
    bad: bool
    """Touches clipped or gap-filled samples."""


@dataclass
class _Open:
    start: int
    peak: float
    env_sum: float
    env_max: float
    n: int
    has_on: bool
    bad: bool
    floor: float


class RunTracker:
    """Hysteresis over per-bin thresholds, carrying runs that are open at a chunk's end."""

    def __init__(self, n_lanes: int, tail_bins: int) -> None:
        self.n_lanes = n_lanes
        self.tail_bins = tail_bins
        self._open: list[_Open | None] = [None] * n_lanes
        self._last_bad = np.zeros(n_lanes, dtype=bool)

    def open_starts_by_lane(self) -> list[int | None]:
        """Start bin of each lane's open run, or None (open runs are not final yet)."""
        return [None if o is None else o.start for o in self._open]

    def feed(self, chunk: EnvelopeChunk, thr_on: np.ndarray, thr_off: np.ndarray, floor: np.ndarray) -> list[Segment]:
        """Thresholds and floor are lanes × bins, in the envelope's unit.

        Runs are found for all lanes at once (edges of the padded mask, then
        reduceat over each run); only the few runs themselves are looped over.
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
        stats = _run_stats(chunk, thr_on, lanes, starts, ends)
        out: list[Segment] = []
        carried = self._open
        self._open = [None] * n_lanes
        first_start = {}
        for i in range(lanes.size):
            first_start.setdefault(int(lanes[i]), int(starts[i]))
        for lane, run in enumerate(carried):
            if run is not None and first_start.get(lane) != 0:
                # The carried run ended right at the chunk boundary.
                run.bad |= bool(chunk.bad[lane, 0])
                out.extend(self._close(lane, run, chunk.start))
                carried[lane] = None
        for i in range(lanes.size):
            lane, s, e = int(lanes[i]), int(starts[i]), int(ends[i])
            bad_row = chunk.bad[lane]
            part = _Open(
                start=chunk.start + s,
                peak=float(stats["peak"][i]),
                env_sum=float(stats["env_sum"][i]),
                env_max=float(stats["env_max"][i]),
                n=e - s,
                has_on=bool(stats["has_on"][i]),
                # A run cut short by a clipped or gap-filled bin is not a whole event.
                bad=bool(bad_row[s - 1] if s else self._last_bad[lane]) or bool(e < nb and bad_row[e]),
                floor=float(floor[lane, s]),
            )
            run = carried[lane]
            if s == 0 and run is not None:
                part = _Open(run.start, max(run.peak, part.peak), run.env_sum + part.env_sum,
                             max(run.env_max, part.env_max), run.n + part.n, run.has_on or part.has_on,
                             run.bad or part.bad, run.floor)
                carried[lane] = None
            if e == nb:
                self._open[lane] = part
            else:
                out.extend(self._close(lane, part, chunk.start + e))
        self._last_bad = chunk.bad[:, -1].copy()
        return out

    def finish(self, end_bin: int) -> list[Segment]:
        out = []
        for lane, run in enumerate(self._open):
            if run is not None:
                out.extend(self._close(lane, run, end_bin))
        self._open = [None] * self.n_lanes
        return out

    def _close(self, lane: int, run: _Open, end: int) -> list[Segment]:
        if not run.has_on:
            return []
        # The trailing moving-average window keeps the envelope up after the activity stops.
        end = max(run.start + 1, end - self.tail_bins)
        return [Segment(lane, run.start, end, run.peak, run.env_sum / run.n, run.env_max / run.floor, run.bad)]


def _run_stats(chunk: EnvelopeChunk, thr_on: np.ndarray, lanes: np.ndarray, starts: np.ndarray,
               ends: np.ndarray) -> dict[str, np.ndarray]:
    """Peak, envelope sum/max and whether the on-threshold was crossed, for every run at once."""
    n_lanes, nb = chunk.env.shape
    if lanes.size == 0:
        return {k: np.empty(0) for k in ("peak", "env_sum", "env_max", "has_on")}
    flat_start = lanes * nb + starts
    flat_end = lanes * nb + ends
    idx = np.empty(2 * lanes.size, dtype=np.int64)
    idx[0::2], idx[1::2] = flat_start, flat_end

    def reduce(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        # reduceat over [start, end) pairs; a trailing pad keeps end == size in range.
        flat = np.append(values.ravel(), values.dtype.type(0))
        return ufunc.reduceat(flat, idx)[0::2]

    return {
        "peak": reduce(np.maximum, chunk.absmax),
        "env_sum": reduce(np.add, chunk.env.astype(np.float64)),
        "env_max": reduce(np.maximum, chunk.env),
        "has_on": reduce(np.maximum, (chunk.env > thr_on).view(np.int8)),
    }


class Segmenter:
    """Turns envelope chunks into Segments against a running noise floor.

    The first ``probe_frames`` frames are held back to prime the noise floor
    (a threshold needs a floor), then detection runs over them too.
    """

    def __init__(self, n_lanes: int, frame_bins: int, probe_frames: int, floor: RunningFloor,
                 threshold_on: float, threshold_off: float, tail_bins: int) -> None:
        self.n_lanes = n_lanes
        self.runs = RunTracker(n_lanes, tail_bins)
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
        """Bins before this index are fully processed."""
        return self._next_bin

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
        return out + self.runs.finish(self._next_bin)

    def _prime(self) -> list[Segment]:
        """Floor from exactly the first probe frames (fewer at a short stream's end), whatever the chunking."""
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
        return self.runs.feed(chunk, self.on * floor, self.off * floor, floor)

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
            for k in range(whole):
                floors[:, head + k * F:head + (k + 1) * F] = self.floor.floor[:, None]
                self.floor.update(levels[:, k], frame_bad[:, k])
        tail = head + whole * F
        floors[:, tail:] = self.floor.floor[:, None]
        self._frame_env, self._frame_bad = [env[:, tail:]], [bad[:, tail:]]
        self._frame_fill = nb - tail
        return floors

    def _complete_frame(self, env: np.ndarray, bad: np.ndarray) -> None:
        self.floor.update(np.median(env, axis=1), bad.any(axis=1))
