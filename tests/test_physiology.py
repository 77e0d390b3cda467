"""Signal models: each drawn component has the shape, timing and spectrum its documented figures say."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firmware_sim import physiology as phys

seeds = st.integers(0, 2**32 - 1)


def _span_s(w: np.ndarray, fs_hz: float, fraction: float) -> float:
    above = np.flatnonzero(np.abs(w) >= fraction * np.max(np.abs(w)))
    return (above[-1] - above[0] + 1) / fs_hz


def _dominant_hz(w: np.ndarray, fs_hz: float) -> float:
    spec = np.abs(np.fft.rfft(w, 8 * len(w)))
    return float(np.fft.rfftfreq(8 * len(w), 1 / fs_hz)[np.argmax(spec)])


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_fasciculation_potential_is_a_brief_bi_or_triphasic_wave(seed):
    rng = np.random.default_rng(seed)
    shape = phys.draw_fp_shape(rng)
    w = shape.sample(4000.0)
    assert np.max(np.abs(w)) == 1.0
    assert 0.004 <= _span_s(w, 4000.0, 0.05) <= 0.030
    # Bi- or triphasic: two or three lobes above 10% of the peak.
    big = np.abs(w) >= 0.1
    lobes = np.count_nonzero(np.diff(np.sign(w[big])) != 0) + 1
    assert 2 <= lobes <= 3
    # Its energy sits in the surface-EMG band.
    spec = np.abs(np.fft.rfft(w, 4096)) ** 2
    f = np.fft.rfftfreq(4096, 1 / 4000.0)
    assert spec[(f >= 20) & (f <= 450)].sum() / spec.sum() > 0.8


@settings(max_examples=30, deadline=None)
@given(seeds, st.sampled_from([500.0, 1000.0, 2000.0]))
def test_fasciculation_potential_keeps_its_duration_at_any_rate(seed, fs_hz):
    shape = phys.draw_fp_shape(np.random.default_rng(seed))
    hi = _span_s(shape.sample(4000.0), 4000.0, 0.1)
    lo = _span_s(shape.sample(fs_hz), fs_hz, 0.1)
    # Same duration within sampling error, except that very short potentials are widened to
    # ~7 samples at low rates (as an anti-aliasing filter would).
    assert 0.7 * hi - 2 / fs_hz <= lo <= max(1.3 * hi, 7 / fs_hz) + 2 / fs_hz


def test_unit_amplitudes_are_lognormal_within_bounds():
    rng = np.random.default_rng(1)
    amps = np.array([phys.draw_unit_amplitude_uv(rng, 90.0, 0.6, 20.0, 800.0) for _ in range(4000)])
    assert amps.min() >= 20.0 and amps.max() <= 800.0
    assert 80.0 < np.median(amps) < 100.0
    assert 0.5 < np.std(np.log(amps)) < 0.7


@settings(max_examples=30, deadline=None)
@given(seeds, st.floats(0.05, 0.15))
def test_crosstalk_is_smaller_smoother_and_not_earlier(seed, gain):
    rng = np.random.default_rng(seed)
    main = 200.0 * phys.draw_fp_shape(rng).sample(2000.0)
    far = phys.crosstalk_waveform(main, 2000.0, gain, rng)
    assert np.isclose(np.max(np.abs(far)), gain * 200.0)
    xc = np.correlate(far, main, "full")
    assert np.argmax(np.abs(xc)) - (len(main) - 1) >= 0  # arrives with or after the source
    rough = lambda x: np.sum(np.diff(x) ** 2) / np.sum(x ** 2)  # noqa: E731
    assert rough(far) <= rough(main) * 1.05


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_mechanomyogram_is_a_damped_10_to_40_hz_vibration(seed):
    mmg = phys.draw_mmg_shape(np.random.default_rng(seed))
    w = mmg.sample(1000.0)
    assert np.isclose(np.linalg.norm(mmg.direction), 1.0)
    assert 8.0 <= _dominant_hz(w, 1000.0) <= 46.0  # heavy damping widens the peak a little
    assert 0.03 <= _span_s(w, 1000.0, 0.1) <= 0.32
    assert np.all(w[: int(mmg.delay_s * 1000.0)] == 0)  # electromechanical delay
    assert abs(w.sum()) < 0.05 * np.abs(w).sum()  # returns to rest: no net velocity change


def test_cramp_discharges_match_the_published_rates_and_variability():
    rng = np.random.default_rng(7)
    trains = phys.cramp_trains(rng, 40.0, 15)
    assert len(trains) == 15
    assert max(t[0] for t in trains) <= phys.CRAMP_RECRUIT_S[1]  # all recruited within ~2 s
    isi = np.concatenate([np.diff(t[(t > 3) & (t < 35)]) for t in trains])
    rate = 1 / isi.mean()
    assert 8.0 < rate < 25.0
    cv = isi.std() / isi.mean()
    assert 0.35 < cv < 0.65
    assert isi.min() >= 0.015 - 1e-9
    assert all(t[-1] < 40.0 for t in trains)


def test_burst_is_a_short_train_not_a_multiplet():
    rng = np.random.default_rng(3)
    for _ in range(200):
        t = phys.burst_train(rng)
        assert len(t) >= 6
        assert np.all((np.diff(t) >= 0.03 - 1e-9) & (np.diff(t) <= 0.1 + 1e-9))
        assert 0.15 <= t[-1] <= 2.0


def test_cluster_process_alternates_with_the_configured_durations():
    rng = np.random.default_rng(5)
    proc = phys.ClusterProcess((5.0, 60.0), (300.0, 600.0), rng)
    spans = []
    for k in range(2000):  # 8000 s in 4 s steps
        spans += proc.active_intervals(rng, 4.0 * k, 4.0 * (k + 1))
    merged = [list(spans[0])]
    for a, b in spans[1:]:
        if a == merged[-1][1]:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    actives = np.array([b - a for a, b in merged[1:-1]])
    pauses = np.array([merged[i + 1][0] - merged[i][1] for i in range(len(merged) - 1)])
    assert merged[0][0] == 0.0  # starts active
    assert np.all((actives >= 5.0 - 1e-9) & (actives <= 60.0 + 1e-9))
    assert np.all((pauses >= 300.0 - 1e-9) & (pauses <= 600.0 + 1e-9))


def test_mains_is_phase_continuous_and_stays_near_its_frequency():
    rng = np.random.default_rng(2)
    mains = phys.Mains(50.0, 0.05)
    phase = np.concatenate([mains.step(rng, 8000, 2000.0) for _ in range(50)])
    inst_hz = np.diff(np.unwrap(phase)) * 2000.0 / (2 * np.pi)
    assert np.all(np.abs(inst_hz - 50.0) <= 0.2 + 1e-9)
    assert np.max(np.abs(np.diff(inst_hz))) < 1e-3  # no jumps at segment edges
    assert np.std(inst_hz) > 0.001  # it does drift


def test_envelope_and_pop_shapes():
    e = phys.envelope(1000, 200, 300)
    assert e[0] == 0.0 and np.all((e >= 0) & (e <= 1)) and e[500] == 1.0 and e[-1] < 0.01
    rng = np.random.default_rng(0)
    pop = phys.electrode_pop(rng, 2000.0)
    assert 300.0 <= abs(pop[0]) <= 3000.0 and abs(pop[-1]) < 0.01 * abs(pop[0])


def test_band_noise_is_unit_rms_and_in_band():
    x = phys.band_noise(np.random.default_rng(0), 20000, 2000.0, 20.0, 250.0)
    assert np.isclose(np.sqrt(np.mean(x * x)), 1.0)
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 2000.0)
    assert spec[(f >= 15) & (f <= 300)].sum() / spec.sum() > 0.9


def test_posture_change_rotates_gravity_by_the_drawn_angle():
    rng = np.random.default_rng(4)
    g = phys.random_posture(rng)
    for _ in range(50):
        new = phys.rotate_posture(rng, g, (15.0, 90.0))
        angle = np.degrees(np.arccos(np.clip(new @ g, -1, 1)))
        assert np.isclose(np.linalg.norm(new), 1.0) and angle <= 90.0 + 1e-6
        g = new


# ---------------------------------------------------------------- issue 10: gait and weak voluntary activity
def test_gait_envelopes_peak_in_their_phase_of_the_cycle():
    phase = np.linspace(0.0, 1.0, 400, endpoint=False)
    peak_at = {p: phase[np.argmax(phys.gait_envelope(p, phase))] for p in phys.GAIT_ENVELOPES}
    assert peak_at["TA"] < 0.1 or peak_at["TA"] > 0.9  # loading response at touchdown
    swing = (phase > phys.STANCE_FRACTION) & (phase < 0.9)
    mid_stance = (phase > 0.15) & (phase < 0.3)
    ta = phys.gait_envelope("TA", phase)
    assert ta[swing].mean() > 3 * ta[mid_stance].mean()  # and again in swing
    for calf in ("GAS", "PER", "SOL"):
        assert 0.3 <= peak_at[calf] <= phys.STANCE_FRACTION  # stance: push-off before lift-off
        env = phys.gait_envelope(calf, phase)
        assert env[swing].mean() < 0.5 * env[(phase > 0.3) & (phase < 0.55)].mean()
    assert np.all(phys.gait_envelope("GAS", np.array([0.0, 1.0, 2.0])) == phys.gait_envelope("GAS", np.zeros(3)))


@settings(max_examples=30, deadline=None)
@given(seeds, st.floats(0.5, 1.5))
def test_strides_are_regular_and_phase_runs_through_each(seed, stride_s):
    rng = np.random.default_rng(seed)
    tds = phys.stride_touchdowns(rng, 2.0, 60.0, stride_s)
    strides = np.diff(tds)
    assert tds[0] == 2.0 and tds[-1] >= 60.0 and tds[-2] < 60.0
    assert np.all(strides > 0) and np.std(strides) / np.mean(strides) < 0.06
    t = np.linspace(tds[0], tds[-1] - 1e-6, 5000)
    ph = phys.gait_phase(t, tds)
    assert np.all((ph >= 0) & (ph < 1)) and np.isnan(phys.gait_phase(np.array([tds[0] - 0.1]), tds)[0])


def test_foot_swings_and_pitches_through_the_cycle():
    phase = np.linspace(0.0, 1.0, 200, endpoint=False)
    pitch = phys.foot_pitch_deg(phase)
    assert pitch.min() <= -25.0 and pitch.max() >= 15.0
    acc = phys.swing_acceleration_mg(phase, 600.0)
    stance = phase < phys.STANCE_FRACTION
    assert np.all(acc[stance] == 0.0) and acc.max() == pytest.approx(600.0, rel=0.02) and acc.min() < -550.0
    hs = phys.heel_strike(np.random.default_rng(1), 400.0, 3000.0)
    assert np.max(np.abs(hs)) == pytest.approx(3000.0) and len(hs) / 400.0 < 0.2


@settings(max_examples=40, deadline=None)
@given(seeds, st.floats(0.3, 30.0), st.integers(1, 12))
def test_weak_activity_trains_are_regular_6_to_12_pps_and_recruit_with_force(seed, duration_s, n_units):
    rng = np.random.default_rng(seed)
    profile = phys.force_profile(rng, duration_s)
    trains = phys.tonic_trains(rng, duration_s, n_units, profile)
    assert len(trains) == n_units and trains[0][0] == 0.0  # the lowest-threshold unit fires at onset
    for tr in trains:
        assert np.all((tr >= 0) & (tr <= duration_s)) and np.all(np.diff(tr) >= 0.015 - 1e-9)
    onsets = [tr[0] for tr in trains if len(tr)]
    assert onsets == sorted(onsets)  # more units join as force ramps up
    isi = np.concatenate([np.diff(tr) for tr in trains if len(tr) > 1])
    if len(isi) >= 5:
        rate = 1 / np.median(isi)
        assert 4.5 <= rate <= 13.5


def test_weak_activity_isi_cv_is_0_1_to_0_3():
    """On a plateau the rate is steady, so each unit's ISI CV is its drawn CV (0.1–0.3)."""
    rng = np.random.default_rng(11)
    cvs = []
    for _ in range(60):
        duration_s = 20.0
        profile = (1.0, 0.5, 0.5)
        for tr in phys.tonic_trains(rng, duration_s, 4, profile):
            isi = np.diff(tr[(tr > 3.0) & (tr < 17.0)])
            if len(isi) > 30:
                cvs.append(np.std(isi) / np.mean(isi))
    cvs = np.asarray(cvs)
    assert len(cvs) > 150
    assert np.percentile(cvs, 5) > 0.07 and np.percentile(cvs, 95) < 0.36  # 0.1–0.3, estimated from ~100 ISIs
    assert 0.15 < np.median(cvs) < 0.25
