"""The compiled kernels (numba) give what the numpy paths give, for any signal and any chunking.

Both paths stay in use: the numpy one wherever numba is not installed or ``FASCDETECT_NO_JIT=1``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect import jit
from fascdetect.detect.segmenter import RunTracker
from fascdetect.dsp.envelope import EnvelopeChunk
from fascdetect.dsp.noise_floor import RunningFloor
from fascdetect.model import Block
from fascdetect.pipeline import run_all
from tests.signals import add_potential, emg_channels, noise

pytestmark = pytest.mark.skipif(not jit.ENABLED, reason="numba is not installed (or FASCDETECT_NO_JIT=1): "
                                                        "only the numpy path runs here")


def _envelope(rng: np.random.Generator, lanes: int, bins: int) -> EnvelopeChunk:
    """Noise-like bins with bursts of discharges, clipped bins and exact zeros (a flat line)."""
    env = rng.rayleigh(1.0, (lanes, bins)).astype(np.float32)
    for _ in range(rng.integers(0, 12)):
        lane, at, n = rng.integers(lanes), rng.integers(bins), rng.integers(1, 400)
        env[lane, at:at + n] *= rng.uniform(2, 40) * np.abs(np.sin(np.arange(min(n, bins - at)) / rng.uniform(2, 30)))
    env[:, rng.integers(bins):][:, :rng.integers(0, 20)] = 0.0
    high = (env * rng.uniform(0.5, 2.0, env.shape)).astype(np.float32)
    low = (-env * rng.uniform(0.5, 2.0, env.shape)).astype(np.float32)
    bad = rng.random((lanes, bins)) < 0.002
    return EnvelopeChunk(0, env, high, low, bad)


def _split(chunk: EnvelopeChunk, cuts: list[int]) -> list[EnvelopeChunk]:
    edges = [0, *sorted(set(cuts)), chunk.env.shape[1]]
    return [EnvelopeChunk(a, chunk.env[:, a:b], chunk.high[:, a:b], chunk.low[:, a:b], chunk.bad[:, a:b])
            for a, b in zip(edges[:-1], edges[1:])]


def _segments(tracker: RunTracker, chunks: list[EnvelopeChunk], floor: np.ndarray) -> list:
    out = []
    for c in chunks:
        f = np.broadcast_to(floor[:, None], c.env.shape).astype(np.float32)
        out.extend(tracker.feed(c, 3.5 * f, 2.0 * f, f))
    return out + tracker.finish(chunks[-1].start + chunks[-1].env.shape[1])


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 100_000), lanes=st.integers(1, 4), bins=st.integers(50, 3000),
       cuts=st.lists(st.integers(1, 2999), max_size=8), fraction=st.sampled_from([0.0, 0.4]),
       decay=st.sampled_from([np.inf, 30.0]), tail=st.integers(0, 5))
def test_compiled_run_tracker_gives_the_numpy_segments(seed, lanes, bins, cuts, fraction, decay, tail):
    chunk = _envelope(np.random.default_rng(seed), lanes, bins)
    chunks = _split(chunk, [c for c in cuts if c < bins])
    floor = np.full(lanes, 1.0, dtype=np.float32)
    compiled = _segments(RunTracker(lanes, tail, fraction, decay, compiled=True), chunks, floor)
    numpy = _segments(RunTracker(lanes, tail, fraction, decay, compiled=False), chunks, floor)
    assert len(compiled) == len(numpy)
    for a, b in zip(compiled, numpy):
        # The mean envelope is a sum taken in another order (numpy's is pairwise): equal to rounding.
        assert a._replace(mean_env=0.0) == b._replace(mean_env=0.0)
        assert a.mean_env == pytest.approx(b.mean_env, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 120), bursts=st.integers(0, 4))
def test_compiled_floor_gives_the_numpy_floors(seed, frames, bursts):
    rng = np.random.default_rng(seed)
    levels = rng.lognormal(0.0, 0.2, (3, frames)).astype(np.float32)
    for _ in range(bursts):  # sustained activity the floor keeps out, then gives in to
        lane, at = rng.integers(3), rng.integers(frames)
        levels[lane, at:at + rng.integers(1, 60)] *= 10
    bad = rng.random((3, frames)) < 0.03
    compiled = RunningFloor(3, 250, 40, 1.6, max_hold_frames=20, compiled=True)
    compiled.prime(rng.lognormal(0.0, 0.2, (3, 8)).astype(np.float32))
    numpy = copy.deepcopy(compiled)
    numpy.compiled = False
    split = int(rng.integers(0, frames + 1))
    got = np.concatenate([compiled.update_many(levels[:, :split], bad[:, :split]),
                          compiled.update_many(levels[:, split:], bad[:, split:])], axis=1)
    np.testing.assert_array_equal(got, numpy.update_many(levels, bad))
    np.testing.assert_array_equal(compiled.floor, numpy.floor)


def test_the_pipeline_gives_the_same_events_either_way(monkeypatch):
    """A whole pipeline (twitches, a cramp, noise) through both paths: the same events."""
    rng = np.random.default_rng(7)
    channels = emg_channels(["EMG L-AbH", "EMG L-FDB", "EMG L-ADM"])
    x = noise(rng, 3, 60.0)
    for t in rng.uniform(3, 57, 40):
        add_potential(x, int(rng.integers(3)), float(t), float(rng.uniform(20, 200)))
    x[1, 40_000:60_000] += rng.normal(0, 25, 20_000).astype(np.float32)  # 10 s of sustained activity
    blocks = [Block(channels, 2000.0, i, x[:, i:i + 1000]) for i in range(0, x.shape[1], 1000)]
    compiled = run_all(blocks, channels)
    for cls in (RunTracker, RunningFloor):
        monkeypatch.setattr(cls.__init__, "__defaults__", (*cls.__init__.__defaults__[:-1], False))
    assert RunTracker(1, 0)._scan is None and not RunningFloor(1, 1, 1, 1.0, 1).compiled
    numpy = run_all(blocks, channels)
    assert {e.kind for e in compiled} >= {"twitch", "cramp"}
    assert compiled == numpy
