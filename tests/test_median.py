"""The one-partition median is np.median, value for value, so the segmenter's floors and local backgrounds
did not change when it replaced np.median."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect.dsp.median import medians


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 6), n=st.integers(1, 400),
       dtype=st.sampled_from([np.float32, np.float64]), ties=st.booleans())
def test_equals_np_median(seed, rows, n, dtype, ties):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0.0, 1.0, (rows, 2, n)).astype(dtype)
    if ties:  # quantised envelopes repeat values
        x = np.round(x * 4) / 4
    before = x.copy()
    got = medians(x)
    want = np.median(x, axis=-1)
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)
    assert np.array_equal(x, before)  # the input is not reordered in place
