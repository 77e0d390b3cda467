"""Generator: determinism, chunk-size independence, and truth that matches the signal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy import signal

from fascdetect.errors import InputError
from fascdetect.regions import REGIONS, parse_label
from fascdetect.sources import Source
from firmware_sim.generator import SEGMENT_S, Generator, simulate
from firmware_sim.scenarios import SCENARIOS, SimMontage

SMALL = SimMontage(sides=("L", "R"), emg_regions=("AbH", "FDB", "ADM"), acc_regions=("ADM",), emg_fs_hz=1000, acc_fs_hz=200)
# Busy on purpose: cramps, bursts, movements and pops cross segment and chunk boundaries.
BUSY = SCENARIOS["post-exercise"].with_(
    montage=SMALL, cramp_rate_per_h=200.0, cramp_duration_s=(5.0, 12.0), movement_rate_per_h=200.0,
    burst_rate_per_h=300.0, pop_rate_per_h=400.0, flurry_probability=1.0)


def _concat(chunks, group):
    return np.concatenate([c.blocks[group].data for c in chunks], axis=1)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), name=st.sampled_from(sorted(SCENARIOS)))
def test_same_seed_same_recording(seed, name):
    a = simulate(SCENARIOS[name].with_(montage=SMALL) if name != "acc-only" else name, 12.0, seed)
    b = simulate(SCENARIOS[name].with_(montage=SMALL) if name != "acc-only" else name, 12.0, seed)
    for x, y in zip(a.blocks, b.blocks):
        assert np.array_equal(x.data, y.data)
    assert a.truth == b.truth and a.artifacts == b.artifacts


def test_different_seeds_differ():
    a, b = simulate(BUSY, 8.0, 1), simulate(BUSY, 8.0, 2)
    assert not np.array_equal(a.blocks[0].data, b.blocks[0].data)
    assert a.truth != b.truth


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), ticks=st.lists(st.integers(1, 6000), min_size=1, max_size=40))
def test_any_chunking_gives_identical_samples_and_truth(seed, ticks):
    duration_s = 60.0
    whole = simulate(BUSY, duration_s, seed)
    gen = Generator(BUSY, seed, duration_s=duration_s)
    chunks, i = [], 0
    while not gen.finished:
        chunks.append(gen.read(ticks[i % len(ticks)] * gen.tick_s))
        i += 1
    for gi, block in enumerate(whole.blocks):
        assert np.array_equal(_concat(chunks, gi), block.data)
        starts = [c.blocks[gi].start for c in chunks]
        ends = np.cumsum([c.blocks[gi].n for c in chunks])
        assert starts == [0, *ends[:-1].tolist()]
    assert tuple(gen.truth) == whole.truth
    assert [e for c in chunks for e in c.truth] == list(whole.truth)


def test_busy_scenario_has_every_kind_crossing_boundaries():
    """Guards the chunking property against a vacuous pass: events must straddle segments."""
    r = simulate(BUSY, 60.0, 3)
    kinds = {e.kind for e in r.truth}
    assert kinds == {"twitch", "burst", "cramp", "movement"}
    straddle = [e for e in r.truth if int(e.onset_s // SEGMENT_S) != int(e.end_s // SEGMENT_S)]
    assert {e.kind for e in straddle} >= {"cramp", "movement"}
    assert r.artifacts


def test_blocks_channels_and_units():
    r = simulate("rest", 8.0, 0)
    assert [b.fs_hz for b in r.blocks] == [2000.0, 400.0]
    for b in r.blocks:
        assert b.data.dtype == np.float32 and b.start == 0 and b.n == int(8 * b.fs_hz)
        for ch in b.channels:
            p = parse_label(ch.label)
            assert p == ch.placement and len(ch.label) <= 16
            assert ch.unit == ("uV" if ch.modality == "EMG" else "mg")
            assert np.isfinite(ch.physical_min) and ch.physical_min == -ch.physical_max
    assert len(r.channels) == 10 + 12


def test_truth_lies_inside_the_recording_and_is_sorted():
    r = simulate(BUSY, 30.0, 11)
    onsets = [e.onset_s for e in r.truth]
    assert onsets == sorted(onsets)
    for e in r.truth:
        assert 0.0 <= e.onset_s and e.end_s <= 30.0 + 1e-9 and e.duration_s > 0
        assert e.kind in ("twitch", "burst", "cramp", "movement")
        assert (e.region == "*") == (e.kind == "movement")
        assert e.channel in {c.label for c in r.channels}


def _bandpassed(x: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(4, (20.0, min(450.0, 0.45 * fs)), "bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x.astype(np.float64))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_every_sizeable_twitch_stands_out_on_its_channel_and_nothing_else_does(seed):
    sc = SCENARIOS["post-exercise"].with_(montage=SMALL, mains_uv=0.0, pop_rate_per_h=0.0, cramp_rate_per_h=0.0)
    r = simulate(sc, 60.0, seed)
    noise_sd = {}
    for ch in r.channels:
        if ch.modality == "EMG":
            x, fs = r.channel(ch.label)
            y = _bandpassed(x, fs)
            noise_sd[ch.label] = (y, fs, 1.4826 * np.median(np.abs(y)))
    twitches = [e for e in r.truth if e.kind == "twitch"]
    assert len(twitches) > 20
    for e in twitches:
        y, fs, sd = noise_sd[e.channel]
        lo, hi = int(e.onset_s * fs), int(np.ceil(e.end_s * fs)) + 1
        if e.amplitude >= 8 * sd:
            assert np.max(np.abs(y[lo:hi])) > 4 * sd, e
        # Crosstalk never outgrows the source: the truth channel is the largest on its foot
        # (unless another event of that foot overlaps this one).
        alone = not any(o is not e and o.side == e.side and o.onset_s < e.end_s + 0.01 and o.end_s > e.onset_s - 0.01
                        for o in r.truth)
        if alone and e.amplitude >= 15 * sd:
            for nb in REGIONS[e.region].neighbours:
                other = f"EMG {e.side}-{nb}"
                if other in noise_sd:
                    assert np.max(np.abs(noise_sd[other][0][lo:hi])) < np.max(np.abs(y[lo:hi])), (e, other)
    # Away from every truth event of the foot the channels are at noise level.
    for label, (y, fs, sd) in noise_sd.items():
        side = label.split()[1][0]
        quiet = np.ones(len(y), bool)
        for e in r.truth:
            if e.side == side:
                quiet[max(0, int((e.onset_s - 0.3) * fs)): int((e.end_s + 0.3) * fs)] = False
        quiet[: int(0.5 * fs)] = quiet[-int(0.5 * fs):] = False  # filter edges
        assert quiet.mean() > 0.3
        assert np.max(np.abs(y[quiet])) < 6.5 * sd, label


def test_no_twitch_inside_a_movement_or_its_regions_cramp_and_none_merged():
    r = simulate(BUSY, 120.0, 5)
    twitches = r.events("twitch")
    for big in r.truth:
        if big.kind == "twitch":
            continue
        for t in twitches:
            if t.side == big.side and (big.kind == "movement" or t.region == big.region):
                assert not (big.onset_s - 0.25 <= t.onset_s <= big.end_s + 0.25), (big, t)
    by_region = {}
    for t in twitches:
        by_region.setdefault((t.side, t.region), []).append(t)
    for events in by_region.values():
        for a, b in zip(events, events[1:]):
            assert b.onset_s - a.end_s >= 0.11  # would otherwise read as one multiplet
    doublets = [t for t in twitches if "doublet" in t.flags]
    assert doublets and all(0.01 <= t.duration_s <= 0.16 for t in doublets)


def test_clipping_at_the_adc_range():
    sc = BUSY.with_(montage=SimMontage(emg_regions=("FDB",), acc_regions=(), emg_range_uv=300.0))
    r = simulate(sc, 20.0, 1)
    x = r.blocks[0].data
    assert np.max(np.abs(x)) == 300.0 and np.count_nonzero(np.abs(x) == 300.0) > 10
    unclipped = simulate(sc.with_(clip=False), 20.0, 1).blocks[0].data
    assert np.max(np.abs(unclipped)) > 300.0


def test_accelerometer_sees_gravity_and_twitch_vibrations():
    r = simulate("acc-only", 60.0, 2)
    assert all(c.modality == "ACC" for c in r.channels)
    (block,) = r.blocks
    for side in ("L", "R"):
        xyz = np.stack([r.channel(f"ACC {side}-ADM-{a}")[0] for a in "XYZ"])
        still = np.median(np.linalg.norm(xyz, axis=0))
        assert 950.0 < still < 1050.0
    twitches = r.events("twitch")
    assert twitches and all(e.channel.startswith("ACC") and e.unit == "mg" for e in twitches)
    sos = signal.butter(4, (5.0, 100.0), "bandpass", fs=block.fs_hz, output="sos")
    for e in twitches:
        if e.amplitude > 6.0:
            y = signal.sosfiltfilt(sos, r.channel(e.channel)[0].astype(float))
            lo, hi = int(e.onset_s * block.fs_hz), int(e.end_s * block.fs_hz) + 1
            assert np.max(np.abs(y[lo:hi])) > 3 * 1.4826 * np.median(np.abs(y)), e


def test_generator_is_a_source_and_can_stream_forever():
    gen = Generator("rest", 1, montage=SMALL)
    assert isinstance(gen, Source) and gen.duration_s is None
    blocks = []
    for block in gen.blocks(0.5):
        blocks.append(block)
        if len(blocks) == 40:
            gen.close()
    assert len(blocks) == 40 and blocks[-2].end == int(10 * blocks[-2].fs_hz)


def test_bad_arguments_are_input_errors():
    with pytest.raises(InputError, match="whole number of samples"):
        Generator("rest", 0, duration_s=10.0).read(0.0001)
    with pytest.raises(InputError, match="seed"):
        Generator("rest", -1)
    with pytest.raises(InputError, match="unknown scenario"):
        simulate("nope", 1.0)
