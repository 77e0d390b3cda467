"""Motor units across nights: stored in a real SQLite history, matched by template, shown in the report."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import pytest

from fascdetect.analyze import analyze
from fascdetect.history import nights as N
from fascdetect.history.report import render
from fascdetect.history.store import SCHEMA_VERSION, History
from fascdetect.scoring import _match
from fascdetect.units.match import SAME_UNIT_DISTANCE, match_units, template_distance
from firmware_sim.generator import Generator
from firmware_sim.scenarios import SimMontage, get_scenario

PERSON, STRANGER = 5, 8  # unit seeds: the same person's units on nights 1-2, someone else's on night 3


def _night(day: int, seed: int, unit_seed: int):
    sc = get_scenario("rest").with_(
        montage=SimMontage(sides=("R",), emg_regions=("ADM",), acc_regions=()), motor_units_per_region=3,
        twitch_rate_per_min={"ADM": 15.0}, movement_rate_per_h=0.0, start=datetime(2026, 1, day, 23, 0))
    g = Generator(sc, seed, duration_s=240.0, unit_seed=unit_seed)
    result = analyze(g)
    # Which true unit each found unit is (by most of its twitches), to judge the matching.
    tw = [e for e in result.events if e.kind == "twitch"]
    truth = [t for t in g.truth if t.kind == "twitch"]
    votes: dict[str, Counter] = {}
    for i, j in _match(tw, truth, 0.025, same_region=True):
        votes.setdefault(result.motor_units.label(tw[i]), Counter())[truth[j].motor_unit] += 1
    return result, {k: v.most_common(1)[0][0] for k, v in votes.items() if k != "unassigned"}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    db = tmp_path_factory.mktemp("h") / "history.sqlite3"
    truths = {}
    with History(db) as h:
        for i, (day, seed, unit_seed) in enumerate([(5, 1, PERSON), (6, 2, PERSON), (7, 3, STRANGER)]):
            result, truth = _night(day, seed, unit_seed)
            stored = h.add(result, f"sha-night-{i}", db.parent / f"night{i}.edf")
            truths[stored.id] = {name: (unit_seed, true) for name, true in truth.items()}
    return db, truths


def test_units_are_stored_with_their_templates(history):
    db, truths = history
    with History(db) as h:
        assert h.schema_version == SCHEMA_VERSION
        units = h.motor_units()
    assert {u["recording_id"] for u in units} == set(truths)
    assert all(u["side"] == "R" and u["region"] == "ADM" and u["twitches"] >= 3 for u in units)
    assert all(len(u["template"]["uv"]) > 20 and u["template"]["fs_hz"] == 2000.0 for u in units)
    # Every recording found the simulated units (3 each, within one).
    for rid in truths:
        assert 2 <= sum(u["recording_id"] == rid for u in units) <= 4


def test_same_person_units_match_across_nights_and_a_strangers_do_not(history):
    db, truths = history
    with History(db) as h:
        units = h.motor_units()
    tracks = match_units(units)
    for t in tracks:
        # One track, one true unit: never two different simulated units taken for one.
        assert len({truths[u["recording_id"]].get(u["name"]) for u in t.seen}) == 1, [u["name"] for u in t.seen]
    ids = sorted(truths)
    night12 = [t for t in tracks if {u["recording_id"] for u in t.seen} == {ids[0], ids[1]}]
    assert len(night12) >= 2  # the person's units recur
    assert all(ids[2] not in {u["recording_id"] for u in t.seen} or len(t.seen) == 1 for t in tracks)
    # The threshold sits between the same unit on two nights and different units.
    same = [template_distance(t.seen[0]["template"], t.seen[1]["template"]) for t in night12]
    assert max(same) < SAME_UNIT_DISTANCE / 2
    third = [u for u in units if u["recording_id"] == ids[2]]
    assert min(template_distance(a["template"], b["template"]) for a in third
               for b in units if b["recording_id"] != ids[2]) > SAME_UNIT_DISTANCE


def test_report_shows_recurring_and_new_units(history):
    db, _ = history
    with History(db) as h:
        period = N.load_period(h)
    html = render(period)
    assert 'id="motor-units"' in html
    assert "2 of 3 nights" in html
    assert "first appeared on the night of 2026-01-07" in html


def test_cli_nights_of_one_simulated_person_show_recurring_units(tmp_path, capsys):
    """simulate --nights (one person: the same units every night) -> history add -> report, through the CLI."""
    from fascdetect.cli import main

    sim, db, out = tmp_path / "sim", tmp_path / "h.sqlite3", tmp_path / "report.html"
    assert main(["simulate", "--nights", "3", "--start", "2026-03-02", "--out", str(sim), "--duration", "3m",
                 "--sides", "R", "--emg-regions", "ADM", "--acc-regions", "", "--no-progress"]) == 0
    assert main(["history", "add", "--no-progress", "--db", str(db), *sorted(map(str, sim.glob("*.edf")))]) == 0
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    capsys.readouterr()
    html = out.read_text()
    assert 'id="motor-units"' in html
    assert re.search(r"<td>[23] of 3 nights</td>", html), html[html.index('id="motor-units"'):][:3000]
