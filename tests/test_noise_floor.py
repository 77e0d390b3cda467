"""The running noise floor: the fast many-frames path is exactly the frame-by-frame recursion."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect.dsp.noise_floor import RunningFloor


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 120), bursts=st.integers(0, 4))
def test_update_many_equals_frame_by_frame(seed, frames, bursts):
    rng = np.random.default_rng(seed)
    levels = rng.lognormal(0.0, 0.2, (3, frames)).astype(np.float32)
    for _ in range(bursts):  # sustained activity that the floor must keep out, then give in to
        lane, at = rng.integers(3), rng.integers(frames)
        levels[lane, at:at + rng.integers(1, 60)] *= 10
    bad = rng.random((3, frames)) < 0.03
    fast = RunningFloor(3, 250, 40, 1.6, max_hold_frames=20)
    fast.prime(np.ones((3, 8), dtype=np.float32))
    slow = copy.deepcopy(fast)
    expected = np.empty((3, frames), dtype=np.float32)
    for k in range(frames):
        expected[:, k] = slow.floor
        slow.update(levels[:, k], bad[:, k])
    got = fast.update_many(levels, bad)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(fast.floor, slow.floor)


def test_a_sustained_rise_is_kept_out_until_the_hold_runs_out():
    floor = RunningFloor(1, 250, 40, 1.6, max_hold_frames=10)
    floor.prime(np.ones((1, 8), dtype=np.float32))
    levels = np.full((1, 60), 5.0, dtype=np.float32)
    got = floor.update_many(levels, np.zeros((1, 60), dtype=bool))
    assert (got[0, :11] == 1.0).all()  # a cramp does not raise its own threshold ...
    assert got[0, -1] == 5.0           # ... but a lasting change of noise level is followed
