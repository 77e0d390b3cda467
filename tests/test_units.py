"""Motor units behind the twitches (fascdetect.units): properties on explicit signals through the real pipeline."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fascdetect.model import Block
from fascdetect.units import NOT_A_UNIT, sort_blocks
from firmware_sim.physiology import FpShape
from tests.signals import FS_HZ, chunked, emg_channels, noise

CHANNELS = emg_channels(["EMG R-ADM"])
PROPERTY = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Two shapes a reader would call different at a glance: a narrow biphasic potential, positive first,
# and a broad triphasic one, negative in the middle.
BIPHASIC = FpShape(0.0015, 0.0015, 0.0, 1.0)
TRIPHASIC = FpShape(0.0025, 0.003, np.pi / 2, -1.0)


def scene(seed: int, shapes: list[FpShape], amplitudes_uv: list[float], duration_s: float = 80.0,
          drift: float = 0.0, noise_uv: float = 3.0) -> tuple[np.ndarray, list[tuple[float, int]]]:
    """White noise plus discharges every 0.8-2 s of a unit chosen at random; ``drift``: the amplitude goes
    linearly from (1 - drift) to (1 + drift) times its value over the recording."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 1, duration_s, noise_uv)
    truth = []
    t = 3.0 + rng.uniform(0, 0.5)
    while t < duration_s - 1.0:
        k = int(rng.integers(len(shapes)))
        gain = 1.0 - drift + 2 * drift * t / duration_s
        wave = amplitudes_uv[k] * gain * shapes[k].sample(FS_HZ)
        i = int(round(t * FS_HZ))
        x[0, i:i + wave.size] += wave.astype(np.float32)
        truth.append((t, k))
        t += rng.uniform(0.8, 2.0)
    return x, truth


def labelled(events, sorting, truth) -> list[tuple[int, str]]:
    """(true unit, found label) for each true discharge with a twitch within 25 ms."""
    twitches = [e for e in events if e.kind == "twitch"]
    out = []
    for t, k in truth:
        near = [e for e in twitches if abs(e.onset_s - t) <= 0.025]
        if near:
            out.append((k, sorting.label(near[0])))
    return out


@PROPERTY
@given(seed=st.integers(0, 10_000), amp_a=st.floats(60, 250), amp_b=st.floats(60, 250))
def test_two_different_shapes_are_two_units(seed, amp_a, amp_b):
    x, truth = scene(seed, [BIPHASIC, TRIPHASIC], [amp_a, amp_b])
    events, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    pairs = labelled(events, sorting, truth)
    assert len(pairs) >= 0.9 * len(truth)
    assert len(sorting.units) == 2, [(u.name, u.twitches) for u in sorting.units]
    for k in (0, 1):
        found = [f for tk, f in pairs if tk == k]
        main = max(set(found), key=found.count)
        assert main != NOT_A_UNIT and found.count(main) >= 0.9 * len(found)
    assert {f for tk, f in pairs if tk == 0 and f != NOT_A_UNIT}.isdisjoint(
        {f for tk, f in pairs if tk == 1 and f != NOT_A_UNIT})


@PROPERTY
@given(seed=st.integers(0, 10_000), amp=st.floats(60, 250), triphasic=st.booleans())
def test_one_unit_drifting_20_percent_stays_one_unit(seed, amp, triphasic):
    shape = TRIPHASIC if triphasic else BIPHASIC
    x, truth = scene(seed, [shape], [amp], duration_s=120.0, drift=0.2)
    events, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    pairs = labelled(events, sorting, truth)
    assert [u.name for u in sorting.units] == ["R-ADM/1"]
    assert sum(f == "R-ADM/1" for _, f in pairs) >= 0.95 * len(pairs)
    unit = sorting.units[0]
    assert unit.twitches == sum(f == "R-ADM/1" for _, f in pairs)
    # The 20 Hz high-pass adds a small after-phase: a biphasic potential shows 2-3 phases filtered.
    assert unit.phases in ((2, 3) if shape is BIPHASIC else (3, 4))


@PROPERTY
@given(seed=st.integers(0, 10_000), amp=st.floats(60, 250), triphasic=st.booleans(), mains_uv=st.floats(5, 60),
       mains_hz=st.sampled_from([50.0, 60.0]))
def test_a_units_duration_and_phases_are_not_the_mains_filters_ringing(seed, amp, triphasic, mains_uv, mains_hz):
    """Mains hum with harmonics is removed by band-stops that ring after every potential; the unit's duration
    and phases describe the potential, not the ringing: within 6 ms and one phase of the same unit without hum
    (the band-stops reshape the potential a little; their ringing added 10-20 ms and 3-5 phases)."""
    shape = TRIPHASIC if triphasic else BIPHASIC
    described = []
    for hum in (0.0, mains_uv):
        x, _ = scene(seed, [shape], [amp], duration_s=60.0)
        t = np.arange(x.shape[1]) / FS_HZ
        x[0] += (hum * (np.sin(2 * np.pi * mains_hz * t) + 0.4 * np.sin(6 * np.pi * mains_hz * t + 1.0)
                        + 0.2 * np.sin(10 * np.pi * mains_hz * t + 2.0))).astype(np.float32)
        _, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
        assert len(sorting.units) == 1, [(u.name, u.twitches) for u in sorting.units]
        described.append(sorting.units[0])
    clean, hummed = described
    assert abs(hummed.phases - clean.phases) <= 1, (clean.phases, hummed.phases)
    assert abs(hummed.duration_ms - clean.duration_ms) <= 6.0, (clean.duration_ms, hummed.duration_ms)


@PROPERTY
@given(seed=st.integers(0, 10_000), amp=st.floats(60, 160), triphasic=st.booleans())
def test_one_shape_at_two_sizes_firing_at_random_is_two_units(seed, amp, triphasic):
    """Size belongs to a unit's identity: 1.5 times larger and mixed in time is another unit, not drift."""
    shape = TRIPHASIC if triphasic else BIPHASIC
    x, truth = scene(seed, [shape, shape], [amp, 1.5 * amp], duration_s=120.0)
    events, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    pairs = labelled(events, sorting, truth)
    assert len(sorting.units) == 2, [(u.name, u.twitches) for u in sorting.units]
    mains = []
    for k in (0, 1):
        found = [f for tk, f in pairs if tk == k]
        main = max(set(found), key=found.count)
        assert main != NOT_A_UNIT and found.count(main) >= 0.9 * len(found)
        mains.append(main)
    assert mains[0] != mains[1]


@PROPERTY
@given(seed=st.integers(0, 10_000), amp=st.floats(60, 250))
def test_a_unit_aligned_on_either_of_two_phases_stays_one_unit(seed, amp):
    """A broad triphasic potential whose two largest phases are nearly equal once filtered: twitches align on
    either, the two halves merge at their lag, and every twitch must still fit the merged template (before the
    template was searched around both alignments, about half of them ended up unassigned)."""
    x, truth = scene(seed, [FpShape(0.002, 0.003, 1.3, -1.0)], [amp], duration_s=80.0)
    events, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    pairs = labelled(events, sorting, truth)
    assert [u.name for u in sorting.units] == ["R-ADM/1"]
    assert sum(f == "R-ADM/1" for _, f in pairs) >= 0.95 * len(pairs)


@PROPERTY
@given(seed=st.integers(0, 10_000),
       sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=8).filter(lambda s: sum(s) >= 4000),
       cramp=st.booleans())
def test_assignment_does_not_depend_on_chunking(seed, sizes, cramp):
    """Whole or in any blocks, the same units and labels. With a 6 s cramp on a second channel, the foot's
    episodes stay open for seconds, and the twitches around it must still find their samples in the ring."""
    x, _ = scene(seed, [BIPHASIC, TRIPHASIC], [90.0, 140.0], duration_s=40.0)
    channels = CHANNELS
    if cramp:
        channels = emg_channels(["EMG R-ADM", "EMG R-AbH"])
        rng = np.random.default_rng(seed)
        second = noise(rng, 1, 40.0)
        second[0, 30_000:42_000] += rng.normal(0, 60, 12_000).astype(np.float32)
        x = np.vstack([x, second])
    whole_events, whole = sort_blocks([Block(channels, FS_HZ, 0, x)], channels)
    part_events, parts = sort_blocks(chunked(channels, x, sizes), channels)
    assert whole_events == part_events
    assert whole.labels == parts.labels
    assert whole.units == parts.units
    assert len(whole.units) == 2
    assert not cramp or any(e.kind == "cramp" for e in whole_events)


def test_quiet_channel_gives_no_units_not_none():
    x = noise(np.random.default_rng(0), 1, 20.0)
    events, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    assert sorting.units == [] and sorting.summary() == []


def test_a_unit_seen_twice_is_unassigned():
    x, truth = scene(3, [BIPHASIC], [150.0], duration_s=6.0)
    assert len(truth) == 2
    events, sorting = sort_blocks([Block(CHANNELS, FS_HZ, 0, x)], CHANNELS)
    assert [sorting.label(e) for e in events if e.kind == "twitch"] == [NOT_A_UNIT, NOT_A_UNIT]
    assert sorting.units == []


def test_analyze_file_with_each_foot_in_its_own_process(tmp_path, capsys):
    """A real EDF+ from the simulator: motor units in JSON and TSV, the same in one process or two, and
    scored against the truth sidecar's motor_unit column."""
    import csv
    import json

    from fascdetect.analyze import analyze_path
    from fascdetect.cli import main
    from fascdetect.scoring import score_units
    from firmware_sim.truth import read_tsv

    edf = tmp_path / "post-exercise.edf"
    assert main(["simulate", "--scenario", "post-exercise", "--duration", "3m", "--seed", "4", "--out", str(edf),
                 "--emg-regions", "AbH,FDB,ADM", "--no-progress"]) == 0
    capsys.readouterr()
    two = analyze_path(edf, workers=2)
    one = analyze_path(edf, workers=1)
    doc = two.to_json()
    assert doc == one.to_json()
    twitches = [e for e in doc["events"] if e["kind"] == "twitch"]
    assert twitches and all(e["motor_unit"] == "unassigned" or e["motor_unit"].startswith(f"{e['side']}-{e['region']}/")
                            for e in twitches)
    assert all("motor_unit" not in e for e in doc["events"] if e["kind"] != "twitch")
    units = doc["summary"]["motor_units"]
    assert {u["side"] for u in units} == {"L", "R"}
    for u in units:
        assert u["twitches"] == sum(e["motor_unit"] == u["name"] for e in twitches) >= 3
        rest = next(r["rest_s"] for r in doc["summary"]["regions"]
                    if (r["side"], r["region"]) == (u["side"], u["region"]))
        assert u["twitches_per_min"] == round(u["twitches"] / (rest / 60), 3)
        assert u["first_s"] <= u["last_s"] and u["phases"] >= 2 and 0 <= u["doublet_fraction"] <= 1
        assert len(u["template"]["uv"]) == round(0.035 * u["template"]["fs_hz"])
    tsv = tmp_path / "events.tsv"
    two.write_tsv(tsv)
    rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
    assert [r["motor_unit"] for r in rows if r["trial_type"] == "twitch"] == [e["motor_unit"] for e in twitches]
    truth = read_tsv(edf.with_suffix(".truth.tsv"))
    assert all(t.motor_unit for t in truth if t.kind == "twitch")
    s = score_units(two.events, [two.motor_units.label(e) or "" for e in two.events], truth)
    assert s.purity >= 0.9 and s.completeness >= 0.8, s.to_json()
    json.dumps(doc)


def test_sorter_settings_are_shown_and_set_from_the_command_line(tmp_path, capsys):
    """``--show-config`` lists SortConfig under ``motor_units``; ``--set motor_units.NAME=VALUE`` changes the sorting
    (and no event); a wrong name or value is a one-line error naming the choices."""
    import json
    from dataclasses import asdict

    from fascdetect.cli import main
    from fascdetect.config import DetectorConfig
    from fascdetect.units import SortConfig

    assert main(["analyze", str(tmp_path / "unread.edf"), "--show-config",
                 "--set", "motor_units.min_twitches=5", "--set", "motor_units.max_drift=1.5"]) == 0
    shown = json.loads(capsys.readouterr().out)["motor_units"]
    assert shown == {**asdict(SortConfig()), "min_twitches": 5, "max_drift": 1.5}
    assert DetectorConfig().with_overrides(["motor_units.shape_tolerance=0.25"]).motor_units == \
        SortConfig(shape_tolerance=0.25)

    edf = tmp_path / "fdb.edf"
    assert main(["simulate", "--scenario", "post-exercise", "--duration", "1m", "--seed", "2", "--out", str(edf),
                 "--emg-regions", "FDB", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(edf), "--json", "--workers", "1"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(["analyze", str(edf), "--json", "--workers", "1", "--set", "motor_units.min_twitches=1000"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert default["summary"]["motor_units"] and not strict["summary"]["motor_units"]
    assert all(e["motor_unit"] == NOT_A_UNIT for e in strict["events"] if e["kind"] == "twitch")
    assert [{k: v for k, v in e.items() if k != "motor_unit"} for e in strict["events"]] == \
        [{k: v for k, v in e.items() if k != "motor_unit"} for e in default["events"]]

    assert main(["analyze", str(edf), "--set", "motor_units.maxdrift=1.5"]) == 2
    assert "motor_units.max_drift" in capsys.readouterr().err
    assert main(["analyze", str(edf), "--set", "motor_units.max_drift=0.5"]) == 2
    assert "max_drift" in capsys.readouterr().err
