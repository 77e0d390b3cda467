"""The run tracker's scan as one compiled loop over every lane's bins (see ``fascdetect.jit``).

``RunTracker.feed`` finds runs and their strong stretches with whole-chunk
numpy and then walks the runs in Python; an active hour has ~70,000
discharges (a cramp is hundreds), so the walk dominates. This loop does the
same bin by bin, with the open run and discharge of each lane kept in
arrays between chunks, and gives the same segments in the same order.
"""

from __future__ import annotations

import numpy as np

from fascdetect.jit import kernel

# Columns of the open discharge's float state and of an emitted segment's floats.
PEAK, HIGH, LOW, ENV_SUM, ENV_MAX, FLOOR = range(6)
OUT_PEAK, OUT_HIGH, OUT_LOW, OUT_MEAN, OUT_SNR, OUT_FLOOR = range(6)
# Columns of the integer state and of an emitted segment's integers.
START, PEAK_BIN, COUNT = range(3)
OUT_LANE, OUT_START, OUT_END, OUT_PEAK_BIN, OUT_BAD, OUT_FIRST = range(6)


class ScanState:
    """Per lane: the open run (``run_open``, ``run_start``, ``lift``) and its open discharge."""

    def __init__(self, n_lanes: int) -> None:
        self.run_open = np.zeros(n_lanes, dtype=np.bool_)
        self.run_start = np.zeros(n_lanes, dtype=np.int64)
        self.lift = np.full(n_lanes, -np.inf)
        self.d_open = np.zeros(n_lanes, dtype=np.bool_)
        self.d_flags = np.zeros((n_lanes, 2), dtype=np.bool_)  # has_on, bad
        self.d_int = np.zeros((n_lanes, 3), dtype=np.int64)
        self.d_float = np.zeros((n_lanes, 6))
        self.last_bad = np.zeros(n_lanes, dtype=np.bool_)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.run_open, self.run_start, self.lift, self.d_open, self.d_flags, self.d_int, self.d_float,
                self.last_bad)


def _emit(lane, end, bad_after, first, d_open, d_flags, d_int, d_float, tail_bins, out_i, out_f, n):
    """Close lane's open discharge at ``end``; write it as a segment if it crossed the on-threshold."""
    if not d_open[lane]:
        return n
    d_open[lane] = False
    if not d_flags[lane, 0]:
        return n
    start = d_int[lane, START]
    out_i[n, OUT_LANE] = lane
    out_i[n, OUT_START] = start
    out_i[n, OUT_END] = max(start + 1, end - tail_bins)
    out_i[n, OUT_PEAK_BIN] = d_int[lane, PEAK_BIN]
    out_i[n, OUT_BAD] = d_flags[lane, 1] or bad_after
    out_i[n, OUT_FIRST] = first
    out_f[n, OUT_PEAK] = d_float[lane, PEAK]
    out_f[n, OUT_HIGH] = d_float[lane, HIGH]
    out_f[n, OUT_LOW] = d_float[lane, LOW]
    out_f[n, OUT_MEAN] = d_float[lane, ENV_SUM] / d_int[lane, COUNT]
    out_f[n, OUT_SNR] = d_float[lane, ENV_MAX] / d_float[lane, FLOOR]
    out_f[n, OUT_FLOOR] = d_float[lane, FLOOR]
    return n + 1


def _scan(env, logs, high, low, bad, thr_on, thr_off, floor, chunk_start, log_fraction, decay_bins, tail_bins,
          run_open, run_start, lift, d_open, d_flags, d_int, d_float, last_bad, out_i, out_f):
    """One chunk: returns how many segments were written to ``out_i``/``out_f`` (state updated in place).

    ``logs``: the log of every bin above the off-threshold, lane by lane, computed by numpy (whose log
    differs from libm's in the last bit for ~1 in 1000 values, and the numpy path uses numpy's).
    """
    n_lanes, nb = env.shape
    n = 0
    used = 0
    for lane in range(n_lanes):
        for b in range(nb):
            g = chunk_start + b
            if not (env[lane, b] > thr_off[lane, b] and not bad[lane, b]):
                if run_open[lane]:
                    # A run carried in that ends right at the chunk's start is reported first, as the numpy path does.
                    n = _emit(lane, g, bad[lane, b], b == 0, d_open, d_flags, d_int, d_float, tail_bins, out_i, out_f,
                              n)
                    run_open[lane] = False
                continue
            new_run = not run_open[lane]
            if new_run:
                run_open[lane] = True
                run_start[lane] = g
                lift[lane] = -np.inf
            log_env = logs[used]
            used += 1
            k = (g - run_start[lane]) / decay_bins
            lift[lane] = max(lift[lane], log_env + k)
            if not log_env >= log_fraction + lift[lane] - k:
                n = _emit(lane, g, False, False, d_open, d_flags, d_int, d_float, tail_bins, out_i, out_f, n)
                continue
            absmax = max(high[lane, b], -low[lane, b])
            e = env[lane, b]
            if d_open[lane]:
                if absmax > d_float[lane, PEAK]:
                    d_float[lane, PEAK] = absmax
                    d_int[lane, PEAK_BIN] = g
                d_float[lane, HIGH] = max(d_float[lane, HIGH], high[lane, b])
                d_float[lane, LOW] = min(d_float[lane, LOW], low[lane, b])
                d_float[lane, ENV_SUM] += e
                d_float[lane, ENV_MAX] = max(d_float[lane, ENV_MAX], e)
                d_int[lane, COUNT] += 1
                d_flags[lane, 0] |= e > thr_on[lane, b]
            else:
                # A run cut short by a clipped or gap-filled bin before it is not a whole event.
                before = (bad[lane, b - 1] if b else last_bad[lane]) if new_run else False
                d_open[lane] = True
                d_int[lane, START] = g
                d_int[lane, PEAK_BIN] = g
                d_int[lane, COUNT] = 1
                d_float[lane, PEAK] = absmax
                d_float[lane, HIGH] = high[lane, b]
                d_float[lane, LOW] = low[lane, b]
                d_float[lane, ENV_SUM] = e
                d_float[lane, ENV_MAX] = e
                d_float[lane, FLOOR] = floor[lane, b]
                d_flags[lane, 0] = e > thr_on[lane, b]
                d_flags[lane, 1] = before
        last_bad[lane] = bad[lane, nb - 1]
    return n


def _finish(end_bin, run_open, d_open, d_flags, d_int, d_float, tail_bins, out_i, out_f):
    """End of stream: close every open run at ``end_bin``."""
    n = 0
    for lane in range(run_open.shape[0]):
        if run_open[lane]:
            n = _emit(lane, end_bin, False, False, d_open, d_flags, d_int, d_float, tail_bins, out_i, out_f, n)
            run_open[lane] = False
    return n


_emit = kernel(_emit) or _emit
scan = kernel(_scan)
"""The compiled chunk scan, or None without numba."""
finish = kernel(_finish)
