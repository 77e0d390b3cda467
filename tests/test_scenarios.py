"""Scenario presets: valid montages and knobs, and recordings whose statistics match each preset's story."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from fascdetect.errors import InputError
from fascdetect.regions import REGIONS
from firmware_sim.generator import simulate
from firmware_sim.scenarios import RATE_PROFILES, SCENARIOS, Scenario, SimMontage, get_scenario

REQUIRED = ("rest", "night", "post-exercise", "little-toe", "noisy", "acc-only", "walking", "restless")


def test_required_presets_exist_with_valid_montages():
    for name in REQUIRED:
        sc = get_scenario(name)
        assert sc.name == name and sc.description
        labels = [c.label for c in sc.montage.channels()]
        assert len(labels) == len(set(labels))
    assert not SCENARIOS["acc-only"].montage.emg_regions
    assert get_scenario(" Little-Toe ") is SCENARIOS["little-toe"]


def test_default_montage_covers_both_feet():
    m = SimMontage()
    assert m.sides == ("L", "R") and {"AbH", "FDB", "ADM", "PER"} <= set(m.emg_regions)
    assert m.emg_fs_hz == 2000 and m.acc_fs_hz == 400 and m.acc_regions


@pytest.mark.parametrize("kwargs, message", [
    ({"emg_fs_hz": 250}, "EMG sampling rate"),
    ({"acc_fs_hz": 2000}, "ACC sampling rate"),
    ({"emg_fs_hz": 1000.5}, "whole number"),
    ({"sides": ("L", "X")}, "sides"),
    ({"emg_regions": ("ADM", "adm")}, "twice"),
    ({"emg_regions": ("XYZ",)}, "unknown foot region"),
    ({"emg_regions": (), "acc_regions": ()}, "no channels"),
])
def test_bad_montages_are_rejected(kwargs, message):
    with pytest.raises(InputError, match=message):
        SimMontage(**kwargs)


def test_knobs_are_validated_and_side_specific_rates_win():
    sc = Scenario("x", twitch_rate_per_min={"adm": 4.0, "L-ADM": 10.0})
    assert sc.twitch_rate("L", "ADM") == 10.0 and sc.twitch_rate("R", "ADM") == 4.0 and sc.twitch_rate("L", "GAS") == 0.0
    with pytest.raises(InputError, match="mains"):
        Scenario("x", mains_hz=55.0)
    with pytest.raises(InputError, match="rate key"):
        Scenario("x", twitch_rate_per_min={"Q-ADM": 1.0})
    with pytest.raises(InputError, match="out of range"):
        Scenario("x", twitch_rate_per_min={"ADM": -1.0})
    assert sc.with_(noise_uv=7.0).noise_uv == 7.0


def test_rate_profiles_als_like_above_benign_everywhere():
    assert set(RATE_PROFILES["benign"]) == set(REGIONS) == set(RATE_PROFILES["als-like"])
    for region, rate in RATE_PROFILES["benign"].items():
        assert 0.5 <= rate < RATE_PROFILES["als-like"][region] <= 40.0


def _count(truth, kind="twitch"):
    out = {}
    for e in truth:
        if e.kind == kind:
            out[(e.side, e.region)] = out.get((e.side, e.region), 0) + 1
    return out


def test_rest_twitch_rates_follow_the_benign_profile():
    r = simulate("rest", 600.0, 4)
    counts = _count(r.truth)
    for side in ("L", "R"):
        for region in SCENARIOS["rest"].montage.regions:
            expected = RATE_PROFILES["benign"][region] * 10
            n = counts.get((side, region), 0)
            assert abs(n - expected) <= 4 * np.sqrt(expected) + 2, (side, region, n, expected)
    assert {e.kind for e in r.truth} <= {"twitch", "movement"}


def test_post_exercise_arch_muscles_twitch_fastest():
    r = simulate("post-exercise", 240.0, 8)
    per_min = {k: v / 4.0 for k, v in _count(r.truth).items()}
    for side in ("L", "R"):
        assert per_min[(side, "AbH")] >= 18 and per_min[(side, "FDB")] >= 18
        assert per_min[(side, "ADM")] < per_min[(side, "FDB")]


def test_little_toe_twitches_come_in_clusters_on_adm():
    r = simulate("little-toe", 900.0, 6)
    twitches = r.events("twitch")
    adm = [e for e in twitches if e.region == "ADM"]
    per_region = _count(twitches)
    assert max(per_region, key=per_region.get)[1] == "ADM"
    first_minute = [e for e in twitches if e.onset_s < 60.0]  # clusters start active
    assert sum(e.region == "ADM" for e in first_minute) > 0.6 * len(first_minute)
    for side in ("L", "R"):
        onsets = np.array([e.onset_s for e in adm if e.side == side])
        gaps = np.diff(onsets)
        assert gaps.max() >= 250.0  # a pause of minutes
        assert np.median(gaps) < 10.0  # dense inside a cluster


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_night_cramps_movements_and_posture():
    sc = SCENARIOS["night"].with_(cramp_rate_per_h=8.0, montage=SimMontage(acc_regions=("ADM",), emg_fs_hz=1000, acc_fs_hz=200))
    r = simulate(sc, 1200.0, 2)
    cramps, moves = r.events("cramp"), r.events("movement")
    assert cramps and moves
    sos = signal.butter(4, (20.0, 450.0), "bandpass", fs=1000.0, output="sos")
    bp = {c.label: signal.sosfiltfilt(sos, r.channel(c.label)[0].astype(float)) for c in r.channels if c.modality == "EMG"}
    floor = {k: 1.4826 * np.median(np.abs(v)) for k, v in bp.items()}
    for c in cramps:
        assert sc.cramp_duration_s[0] - 1.0 <= c.duration_s <= sc.cramp_duration_s[1] + 1.0 or "truncated" in c.flags
        assert c.channel == f"EMG {c.side}-{c.region}" and c.mean_amplitude and c.mean_amplitude < c.amplitude
        lo, hi = int((c.onset_s + 2) * 1000), int((c.end_s - 2) * 1000)
        own = _rms(bp[c.channel][lo:hi])
        assert own > 5 * floor[c.channel]
        for nb in REGIONS[c.region].neighbours:  # volume-conducted crosstalk at ~5-15 %
            label = f"EMG {c.side}-{nb}"
            if label in bp:
                ratio = np.sqrt(max(_rms(bp[label][lo:hi]) ** 2 - floor[label] ** 2, 0.0)) / own
                assert 0.02 < ratio < 0.25, (c, label, ratio)
        # Often preceded by a flurry of fasciculations on the same muscle.
    flurried = 0
    for c in cramps:
        before = [e for e in r.events("twitch") if e.side == c.side and e.region == c.region and c.onset_s - 32 < e.onset_s < c.onset_s]
        flurried += len(before) >= 3
    assert flurried >= 1
    for m in moves:
        lo, hi = int((m.onset_s + 0.3) * 1000), int((m.end_s - 0.3) * 1000)
        if hi - lo < 200:
            continue
        active = [k for k in bp if k.split()[1].startswith(m.side) and _rms(bp[k][lo:hi]) > 5 * floor[k]]
        assert len(active) >= 3, (m, active)
        acc = r.channel(f"ACC {m.side}-ADM-Z")[0]
        a_lo, a_hi = int(m.onset_s * 200), int(m.end_s * 200)
        assert np.ptp(acc[a_lo:a_hi]) > 100.0  # large low-frequency swing in mg


def test_noisy_has_strong_60_hz_mains_with_harmonics_and_pops():
    r = simulate("noisy", 60.0, 1)
    x, fs = r.channel("EMG L-FDB")
    f, p = signal.welch(x, fs, nperseg=8192)
    at = lambda hz: p[np.argmin(np.abs(f - hz))]  # noqa: E731
    assert at(60.0) > 100 * at(90.0) and at(180.0) > 10 * at(210.0)
    assert at(50.0) < at(60.0) / 100
    assert r.artifacts and all(e.kind == "pop" for e in r.artifacts)
    clean = simulate("rest", 60.0, 1).channel("EMG L-FDB")[0]
    assert _rms(x) > 3 * _rms(clean)


def test_acc_only_has_no_electrodes_and_mechanical_twitch_truth():
    r = simulate("acc-only", 120.0, 3)
    assert {c.modality for c in r.channels} == {"ACC"}
    twitches = r.events("twitch")
    assert len(twitches) > 10 and {e.region for e in twitches} <= {"ADM", "AbH", "FDB"}
    assert all(e.unit == "mg" and 0.02 <= e.duration_s <= 0.35 for e in twitches)


def test_walking_alternates_bouts_of_gait_with_standing_still():
    sc = SCENARIOS["walking"]
    assert {"TA", "PER", "GAS"} <= set(sc.montage.emg_regions) and sc.walking and sc.noise_spectrum == "rest-emg"
    r = simulate(sc.with_(montage=SimMontage(emg_regions=("TA", "GAS"), acc_regions=("ADM",), emg_fs_hz=1000, acc_fs_hz=200)),
                 300.0, 3)
    gait = [e for e in r.events("movement") if "gait" in e.flags]
    assert len(gait) >= 4
    for side in ("L", "R"):
        bouts = sorted((e for e in gait if e.side == side), key=lambda e: e.onset_s)
        assert bouts and all(e.region == "*" and e.channel.startswith(f"EMG {side}-") for e in bouts)
        assert all(sc.walk_bout_s[0] - 2 <= e.duration_s <= sc.walk_bout_s[1] + 1 or "truncated" in e.flags for e in bouts)
        assert all(b.onset_s - a.end_s >= sc.walk_pause_s[0] for a, b in zip(bouts, bouts[1:]))
        assert sc.walk_first_s[0] <= bouts[0].onset_s <= sc.walk_first_s[1] + 1.5
    assert not r.events("cramp") and not r.events("activity")


def test_restless_has_weak_activity_and_position_shifts():
    sc = SCENARIOS["restless"]
    r = simulate(sc.with_(montage=SimMontage(emg_fs_hz=1000, acc_fs_hz=200)), 900.0, 2)
    acts, moves = r.events("activity"), r.events("movement")
    assert len(acts) >= 10 and moves and not any("gait" in m.flags for m in moves)
    assert {a.region for a in acts} <= set(sc.montage.emg_regions)
    durations = np.array([a.duration_s for a in acts])
    assert durations.min() < 1.0 and durations.max() > 5.0 and durations.max() <= 30.0  # 0.3 s to tens of seconds
    assert all(a.channel == f"EMG {a.side}-{a.region}" and a.unit == "uV" for a in acts)
    # Per foot, one episode (possibly several muscles at once) at a time.
    for side in ("L", "R"):
        episodes = sorted((a for a in acts if a.side == side), key=lambda a: a.onset_s)
        starts = [a.onset_s for a in episodes]
        assert starts == sorted(starts)


def test_new_knobs_are_validated():
    with pytest.raises(InputError, match="noise_spectrum"):
        Scenario("x", noise_spectrum="pink")
    with pytest.raises(InputError, match="range"):
        Scenario("x", walk_bout_s=(30.0, 10.0))
    with pytest.raises(InputError, match="walking bouts"):
        Scenario("x", walking=True, walk_bout_s=(10.0, 500.0))
    with pytest.raises(InputError, match="activity"):
        Scenario("x", activity_duration_s=(0.05, 1.0))
    assert Scenario("x", ecg_regions=("gas", "ta")).ecg_regions == ("GAS", "TA")
