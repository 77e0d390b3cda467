"""Properties of the streaming pipeline (hypothesis): the invariants the brief asks for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fascdetect.config import DetectorConfig
from fascdetect.errors import InputError, SignalError
from fascdetect.model import Block, Channel
from fascdetect.pipeline import Pipeline, run_all
from fascdetect.regions import parse_label
from tests.signals import FS_HZ, add_potential, chunked, emg_channels, noise

LABELS = ["EMG L-ADM", "EMG L-AbH", "EMG L-FDB", "EMG R-PER"]
CHANNELS = emg_channels(LABELS)
# Stated false-alarm rate: fewer than this many twitches per channel-minute of
# white noise (measured: none in 240 channel-minutes at the defaults).
FALSE_TWITCHES_PER_CHANNEL_MIN = 0.05
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scene(seed: int, duration_s: float = 20.0) -> tuple[np.ndarray, list[tuple[float, int]]]:
    """Noise with twitches (one per ~1.3 s, random channel and size) and one 4 s cramp on row 0."""
    rng = np.random.default_rng(seed)
    x = noise(rng, len(LABELS), duration_s, sd_uv=float(rng.uniform(2, 6)))
    truth = []
    for onset in np.arange(2.6, duration_s - 6, 1.3) + rng.uniform(0, 0.3):
        row = int(rng.integers(len(LABELS)))
        add_potential(x, row, float(onset), float(rng.uniform(60, 300)))
        truth.append((float(onset), row))
    start = int((duration_s - 5.5) * FS_HZ)
    x[0, start:start + int(4 * FS_HZ)] += rng.normal(0, 60, int(4 * FS_HZ)).astype(np.float32)
    return x, truth


def same_events(a, b, onset_tol_s=0.0, peak_rtol=0.0):
    assert len(a) == len(b), (a, b)
    for ea, eb in zip(a, b):
        assert (ea.kind, ea.channel, ea.flags) == (eb.kind, eb.channel, eb.flags)
        assert math.isclose(ea.onset_s, eb.onset_s, abs_tol=onset_tol_s + 1e-9)
        assert math.isclose(ea.duration_s, eb.duration_s, abs_tol=2 * onset_tol_s + 1e-9)
        assert math.isclose(ea.peak, eb.peak, rel_tol=peak_rtol + 1e-12)


@SLOW
@given(seed=st.integers(0, 10_000),
       # Sizes cycle; their sum bounds the number of blocks (and the test's run time).
       sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=8).filter(lambda s: sum(s) >= 4000))
def test_chunking_does_not_change_events(seed, sizes):
    """(1) One chunk or any chunk sizes: identical events (a cramp's mean amplitude is a float sum, to 1e-9)."""
    x, _ = scene(seed)
    whole = run_all([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    parts = run_all(chunked(CHANNELS, x, sizes), CHANNELS)
    assert [e.__class__(**{**e.__dict__, "extra": ()}) for e in whole] == \
        [e.__class__(**{**e.__dict__, "extra": ()}) for e in parts]
    for a, b in zip(whole, parts):
        for (ka, va), (kb, vb) in zip(a.extra, b.extra):
            assert ka == kb and math.isclose(va, vb, rel_tol=1e-9)
    assert any(e.kind == "cramp" for e in whole) and any(e.kind == "twitch" for e in whole)


@SLOW
@given(seed=st.integers(0, 10_000), shift=st.integers(0, 10_000_000))
@example(seed=425, shift=2010997)  # a gap landing exactly on a rule's limit once flipped with the start time
def test_time_shift_shifts_every_event(seed, shift):
    """(2) Starting the same samples ``shift`` samples later moves every event by shift/fs."""
    x, _ = scene(seed)
    base = run_all([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    moved = run_all([Block(CHANNELS, FS_HZ, shift, x)], CHANNELS)
    assert len(base) == len(moved) > 0
    for a, b in zip(base, moved):
        assert (a.kind, a.channel, a.peak, a.flags) == (b.kind, b.channel, b.peak, b.flags)
        # Seconds are derived from sample indices; only their float rounding may differ.
        assert math.isclose(a.duration_s, b.duration_s, abs_tol=1e-9)
        assert math.isclose(b.onset_s - a.onset_s, shift / FS_HZ, abs_tol=1e-6)


@SLOW
@given(seed=st.integers(0, 10_000), gain=st.floats(0.001, 10.0))
def test_gain_leaves_events_unchanged(seed, gain):
    """(3) Thresholds follow each channel's noise floor, so a gain changes peaks only.

    Float32 rounding may move a threshold crossing by one envelope bin (1 ms).
    Gains stop where the scene's largest potential (300 µV) would pass the one
    absolute bound, ``artifact_peak_uv`` (electrode pops).
    """
    x, _ = scene(seed)
    base = run_all([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    scaled = run_all([Block(CHANNELS, FS_HZ, 0, (x * np.float32(gain)).astype(np.float32))], CHANNELS)
    same_events([e.__class__(**{**e.__dict__, "peak": e.peak * gain}) for e in base], scaled,
                onset_tol_s=0.0011, peak_rtol=1e-4)


@SLOW
@given(seed=st.integers(0, 10_000), sd_uv=st.floats(0.5, 50.0))
def test_white_noise_gives_few_false_twitches(seed, sd_uv):
    """(4) Pure white noise: fewer false twitches than the stated rate (4 channels × 2 min)."""
    rng = np.random.default_rng(seed)
    minutes = 2.0
    x = noise(rng, len(LABELS), minutes * 60, sd_uv=sd_uv)
    events = run_all([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    twitches = sum(e.kind == "twitch" for e in events)
    # Allowed: the stated rate, rounded up to at least one event in this short a sample.
    assert twitches <= max(1, math.ceil(FALSE_TWITCHES_PER_CHANNEL_MIN * len(LABELS) * minutes))
    assert not any(e.kind in ("cramp", "movement") for e in events)


@SLOW
@given(seed=st.integers(0, 10_000), row=st.integers(0, len(LABELS) - 1), onset_s=st.floats(3.0, 25.0),
       snr=st.floats(12.0, 100.0))
def test_injected_twitch_is_found_in_its_region(seed, row, onset_s, snr):
    """(5) A potential well above the noise floor is one twitch, right channel, onset within ±10 ms."""
    rng = np.random.default_rng(seed)
    sd = float(rng.uniform(1, 10))
    x = noise(rng, len(LABELS), 30.0, sd_uv=sd)
    add_potential(x, row, onset_s, snr * sd)
    events = run_all([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    twitches = [e for e in events if e.kind == "twitch"]
    assert len(twitches) == 1, events
    (t,) = twitches
    assert t.channel == LABELS[row]
    assert t.region == CHANNELS[row].region and t.side == CHANNELS[row].side
    assert abs(t.onset_s - onset_s) <= 0.010


@SLOW
@given(seed=st.integers(0, 10_000), duration_s=st.floats(5.0, 40.0), level=st.floats(8.0, 40.0),
       sizes=st.lists(st.integers(100, 20_000), min_size=1, max_size=4))
def test_sustained_discharge_is_one_cramp(seed, duration_s, level, sizes):
    """(6) Sustained activity ≥ 5 s on one channel is one cramp, never a string of twitches."""
    rng = np.random.default_rng(seed)
    x = noise(rng, len(LABELS), duration_s + 10.0, sd_uv=3.0)
    a, n = int(4.0 * FS_HZ), int(duration_s * FS_HZ)
    # Irregular firing of many units: noise with a slowly varying envelope.
    wobble = 1.0 + 0.3 * np.sin(np.linspace(0, duration_s * 2 * np.pi * rng.uniform(0.2, 1.0), n))
    x[1, a:a + n] += (rng.normal(0, 3.0 * level, n) * wobble).astype(np.float32)
    events = run_all(chunked(CHANNELS, x, sizes), CHANNELS)
    on_channel = [e for e in events if e.channel == LABELS[1]]
    assert [e.kind for e in on_channel] == ["cramp"], on_channel
    assert abs(on_channel[0].onset_s - 4.0) <= 0.5
    assert abs(on_channel[0].duration_s - duration_s) <= 1.0


def test_nan_samples_are_reported_with_their_place():
    x = noise(np.random.default_rng(0), len(LABELS), 5.0)
    x[2, 7000] = np.nan
    with pytest.raises(SignalError, match=r"EMG L-FDB: 1 NaN/infinite sample\(s\), the first at 3.500 s"):
        run_all([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)


def test_clipped_stretches_are_excluded_and_reported():
    rng = np.random.default_rng(1)
    chans = tuple(c.__class__(c.label, c.placement, c.fs_hz, physical_min=-500.0, physical_max=500.0)
                  for c in CHANNELS)
    x = noise(rng, len(LABELS), 20.0)
    x[0, 20000:24000] = 500.0  # saturated for 2 s
    pipe = Pipeline(chans)
    events = pipe.feed(Block(chans, FS_HZ, 0, x)).events + pipe.flush()
    assert not [e for e in events if e.channel == LABELS[0]]
    report = pipe.clip_reports()[LABELS[0]]
    assert report.samples == 4000 and report.stretches == 1 and report.first_s == 10.0


def test_blocks_must_be_contiguous():
    x = noise(np.random.default_rng(2), len(LABELS), 3.0)
    pipe = Pipeline(CHANNELS)
    pipe.feed(Block(CHANNELS, FS_HZ, 0, x[:, :1000]))
    with pytest.raises(InputError, match="expected 1000"):
        pipe.feed(Block(CHANNELS, FS_HZ, 1500, x[:, 1500:]))


def test_gap_filled_samples_give_no_events():
    rng = np.random.default_rng(3)
    x = noise(rng, len(LABELS), 20.0)
    add_potential(x, 0, 10.0, 300.0)
    gap = np.zeros(x.shape[1], dtype=bool)
    gap[19_900:20_200] = True
    events = run_all([Block(CHANNELS, FS_HZ, 0, x, gap)], CHANNELS)
    assert not events


def test_config_is_shown_by_its_fields():
    c = DetectorConfig().with_overrides(["threshold_on=5", "emg_band_hz=30,400", "mains_hz=60"])
    assert (c.threshold_on, c.emg_band_hz, c.mains_hz) == (5.0, (30.0, 400.0), 60.0)
    with pytest.raises(InputError, match="NAME=VALUE"):
        DetectorConfig().with_overrides(["nonsense=1"])


def test_flush_when_some_rate_groups_never_arrived():
    """Stopping right after the first block: channels that never got a sample simply give no events."""
    acc = tuple(Channel(f"ACC L-ADM-{a}", parse_label(f"ACC L-ADM-{a}"), 400.0) for a in "XYZ")
    pipe = Pipeline(CHANNELS + acc)
    pipe.feed(Block(CHANNELS, FS_HZ, 0, noise(np.random.default_rng(4), len(LABELS), 0.5)))
    assert pipe.flush() == []


def test_provisional_events_show_a_cramp_while_it_builds():
    rng = np.random.default_rng(5)
    x = noise(rng, len(LABELS), 20.0)
    x[2, 16000:] += rng.normal(0, 60, x.shape[1] - 16000).astype(np.float32)  # from 8 s to the end
    pipe = Pipeline(CHANNELS)
    final = pipe.feed(Block(CHANNELS, FS_HZ, 0, x)).events
    building = [e for e in pipe.provisional_events() if e.kind == "cramp"]
    assert not [e for e in final if e.kind == "cramp"]
    assert len(building) == 1 and building[0].channel == LABELS[2] and abs(building[0].onset_s - 8.0) < 0.1
    assert building[0].duration_s > 11.0


def test_mains_level_is_measured_per_channel():
    """Signal quality: the mains interference each EMG channel picked up, before removal."""
    rng = np.random.default_rng(6)
    x = noise(rng, len(LABELS), 5.0)
    t = np.arange(x.shape[1]) / FS_HZ
    for row, amp_uv in enumerate((0.0, 10.0, 40.0, 0.0)):
        x[row] += (amp_uv * np.sin(2 * np.pi * 60.2 * t)).astype(np.float32)
    pipe = Pipeline(CHANNELS)
    pipe.feed(Block(CHANNELS, FS_HZ, 0, x))
    levels = pipe.mains_levels()
    assert pipe.mains_hz()[0] == 60.0
    # A sine of amplitude A has RMS A/sqrt(2); channels without mains show only the noise around 60 Hz.
    assert levels[LABELS[1]] == pytest.approx(10 / np.sqrt(2), rel=0.15)
    assert levels[LABELS[2]] == pytest.approx(40 / np.sqrt(2), rel=0.15)
    assert levels[LABELS[0]] < 1.0 and levels[LABELS[3]] < 1.0
