"""Ring buffer and min/max decimation: what the traces draw is what the pipeline produced."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gui.ring import SampleRing, minmax_decimate


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(5, 300), chunks=st.lists(st.integers(1, 400), min_size=1, max_size=12),
       want=st.integers(1, 400))
def test_ring_window_holds_the_latest_samples(capacity, chunks, want):
    rng = np.random.default_rng(capacity)
    total = sum(chunks)
    stream = rng.normal(size=(3, total)).astype(np.float32)
    ring = SampleRing(3, capacity)
    start = 0
    for n in chunks:
        ring.write(stream[:, start:start + n], start)
        start += n
    samples, first = ring.window(total - want, total)
    assert first == max(total - want, total - capacity, 0)
    np.testing.assert_array_equal(samples, stream[:, first:total])
    rows, _ = ring.window(total - want, total, [2, 0])
    np.testing.assert_array_equal(rows, stream[[2, 0], first:total])


def test_ring_memory_does_not_grow():
    ring = SampleRing(2, 1000)
    before = ring.data.nbytes
    for k in range(200):
        ring.write(np.full((2, 137), k, np.float32), k * 137)
    assert ring.data.nbytes == before
    assert ring.end == 200 * 137


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), first=st.integers(0, 10_000), per_column=st.integers(1, 64))
def test_decimation_keeps_every_column_extreme(n, first, per_column):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(2, n)).astype(np.float32)
    x[0, rng.integers(n)] = 50.0  # one brief spike must survive decimation
    index, values = minmax_decimate(x, first, per_column)
    assert values.shape[1] == len(index) <= 2 * (n // per_column + 1)
    for k in range(0, len(index), 2):
        lo, hi = index[k] - first, index[k + 1] - first + 1
        assert index[k] % per_column == 0 and hi - lo == per_column
        np.testing.assert_array_equal(values[:, k], x[:, lo:hi].min(axis=1))
        np.testing.assert_array_equal(values[:, k + 1], x[:, lo:hi].max(axis=1))
    covered = len(index) // 2 * per_column
    if covered and (first % per_column == 0) and n % per_column == 0:
        assert values[0].max() == x[0].max()
