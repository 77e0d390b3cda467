"""Sample placement for third-party streams: timestamps or package counters → exact, gap-marked sample indices."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect.sources.timeline import ContiguousSamples, CounterClock, TimestampClock


def _chunks(rng: np.random.Generator, n: int, mean: int) -> list[tuple[int, int]]:
    bounds = [0]
    while bounds[-1] < n:
        bounds.append(min(n, bounds[-1] + int(rng.integers(1, 2 * mean))))
    return list(zip(bounds, bounds[1:]))


def _place(clock: TimestampClock, pushes: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    out = ContiguousSamples(1)
    for ts, data in pushes:
        for index, part in clock.push(ts, data):
            out.add(index, part)
    for index, part in clock.flush():
        out.add(index, part)
    taken = out.take()
    assert taken is not None and taken[0] == 0
    _, data, gap = taken
    return data[0], np.zeros(data.shape[1], bool) if gap is None else gap


@settings(max_examples=40, deadline=None)
@given(fs=st.sampled_from([250.0, 512.0, 2000.0]), seconds=st.integers(5, 60), mean_chunk=st.integers(1, 64),
       drift_ppm=st.floats(-100, 100), loss=st.sampled_from([0.0, 0.02, 0.2]), seed=st.integers(0, 10_000))
def test_lost_chunks_become_exact_gaps_under_clock_drift(fs, seconds, mean_chunk, drift_ppm, loss, seed):
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    values = np.arange(1, n + 1, dtype=np.float32)
    stamps = 1234.5 + np.arange(n) / fs * (1 + drift_ppm * 1e-6)
    chunks = _chunks(rng, n, mean_chunk)
    # losses shorter than the tolerance (5 ms) are absorbed by design: drop only runs that are long enough
    sent, expected_gap = [], np.zeros(n, bool)
    for k, (lo, hi) in enumerate(chunks):
        if 0 < k < len(chunks) - 1 and rng.random() < loss and (hi - lo) / fs > 0.006:
            expected_gap[lo:hi] = True
            continue
        sent.append((stamps[lo:hi], values[None, lo:hi]))
    clock = TimestampClock(fs)
    data, gap = _place(clock, sent)
    np.testing.assert_array_equal(gap, expected_gap[: gap.size])
    assert gap.size == n
    np.testing.assert_array_equal(data[~gap], values[~expected_gap])
    assert not data[gap].any()
    assert clock.lost == expected_gap.sum()


@settings(max_examples=30, deadline=None)
@given(fs=st.sampled_from([250.0, 2000.0]), jitter_ms=st.floats(0, 40), mean_chunk=st.integers(8, 64),
       seed=st.integers(0, 10_000))
def test_late_pushes_are_not_losses(fs, jitter_ms, mean_chunk, seed):
    """A sender that stamps at push time, late by up to tens of ms now and then, loses nothing.

    (The last push is on time: a late stretch at the very end has nothing after it to show it was only late.)
    """
    rng = np.random.default_rng(seed)
    n = int(fs * 30)
    values = np.arange(1, n + 1, dtype=np.float32)
    pushes = []
    chunks = _chunks(rng, n, mean_chunk)
    for k, (lo, hi) in enumerate(chunks):
        late_s = rng.uniform(0, jitter_ms / 1000) if rng.random() < 0.15 and k < len(chunks) - 1 else 0.0
        pushes.append((100.0 + late_s + np.arange(lo, hi) / fs, values[None, lo:hi]))
    clock = TimestampClock(fs)
    data, gap = _place(clock, pushes)
    assert clock.lost == 0 and not gap.any()
    np.testing.assert_array_equal(data, values)


@settings(max_examples=40, deadline=None)
@given(fs=st.sampled_from([125.0, 250.0]), n=st.integers(10, 3000), step=st.sampled_from([1, 2]),
       seed=st.integers(0, 10_000))
def test_package_counter_losses_are_exact_even_across_wraps(fs, n, step, seed):
    rng = np.random.default_rng(seed)
    keep = rng.random(n) > 0.1
    keep[0] = True
    if n > 600 and rng.random() < 0.5:  # an outage longer than one counter wrap
        keep[200:200 + int(rng.integers(300, 400))] = False
    counters = (np.arange(n) * step + 17) % 256
    host_s = 1.7e9 + np.arange(n) / fs + rng.uniform(0, 0.004, n)
    clock = CounterClock(fs, 256, step)
    out = ContiguousSamples(1)
    values = np.arange(1, n + 1, dtype=np.float32)[None, :]
    idx = np.flatnonzero(keep)
    for lo in range(0, idx.size, 25):
        sel = idx[lo:lo + 25]
        for run in clock.place(counters[sel], host_s[sel]):
            out.add(run.index, values[:, sel][:, run.lo:run.hi])
    start, data, gap = out.take()
    last = idx[-1] + 1
    assert start == 0 and data.shape[1] == last
    np.testing.assert_array_equal(gap if gap is not None else np.zeros(last, bool), ~keep[:last])
    np.testing.assert_array_equal(data[0, keep[:last]], values[0, keep])
    assert clock.lost == (~keep[:last]).sum()


def test_contiguous_samples_fill_holes_and_drop_repeats():
    out = ContiguousSamples(2)
    out.add(0, np.ones((2, 3), np.float32))
    out.add(5, np.full((2, 2), 2, np.float32))
    out.add(6, np.full((2, 3), 3, np.float32))  # sample 6 again, then 7 and 8
    start, data, gap = out.take()
    assert start == 0 and data.shape == (2, 9)
    np.testing.assert_array_equal(data[0], [1, 1, 1, 0, 0, 2, 2, 3, 3])
    np.testing.assert_array_equal(gap, [0, 0, 0, 1, 1, 0, 0, 0, 0])
    assert out.duplicates == 1 and out.gap_samples == 2
    assert out.take() is None
    out.add(9, np.zeros((2, 1), np.float32))
    assert out.take()[0] == 9
