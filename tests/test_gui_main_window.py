"""The monitor window on real sources (simulator, bundled recordings), real Qt widgets offscreen.

Ground truth comes from the simulator itself and from ``fascdetect analyze``
on the same file; nothing here is a hard-coded expected output.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

import csv
from pathlib import Path

import numpy as np
import pytest
from pyqtgraph.Qt import QtCore, QtWidgets

from fascdetect.analyze import analyze
from fascdetect.commands._sources import open_cli_source
from fascdetect.io import open_recording
from fascdetect.regions import describe
from fascdetect.sources.replay import ReplaySource
from firmware_sim.generator import Generator
from firmware_sim.scenarios import SCENARIOS, get_scenario
from gui.app import application
from gui.main_window import MonitorWindow

ROOT = Path(__file__).resolve().parents[1]
NIGHT = ROOT / "recordings" / "night-excerpt-3m.edf"


@pytest.fixture
def window(qtbot):
    application()
    win = MonitorWindow(open_cli_source, tuple(SCENARIOS))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.close()


def run_to_end(qtbot, win: MonitorWindow, timeout_s: float = 60.0) -> None:
    """Wait for the source to end and its last events to reach the widgets."""
    qtbot.waitUntil(lambda: win.session is not None and not win.session.running, timeout=round(timeout_s * 1000))
    qtbot.wait(50)  # the worker's `ended` signal, queued to this thread
    win.refresh()
    win.refresh_tables()


def truth_rows(path: Path) -> list[dict[str, str]]:
    with open(path.with_suffix(".truth.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_starts_on_simulator_and_receives_events(qtbot, window):
    window.open_source("sim@20")
    qtbot.waitUntil(lambda: window.session.channels != (), timeout=10_000)
    qtbot.waitUntil(lambda: sum(c.twitches for c in window.tally.counts.values()) >= 3, timeout=30_000)
    status = window.session.status()
    assert status.state == "running" and status.data_s > 2.0
    assert window.points_drawn > 0 and window.frames.count > 0
    assert "sim@20" in window.status.text() and "running" in window.status.text()
    labels = {c.label for c in window.session.channels}
    assert {c.label for foot in window.traces.feet.values() for c in foot.channels} == labels
    assert window.channel_list.items.keys() == labels
    # Signal quality per channel: noise floor for all, mains level for EMG (the simulator adds ~8 µV of 50 Hz).
    qtbot.waitUntil(lambda: window.channel_list.items["EMG L-ADM"].text(2).endswith("µV"), timeout=10_000)
    assert float(window.channel_list.items["EMG L-ADM"].text(2).split()[0]) > 1.0
    assert window.channel_list.items["EMG L-ADM"].text(1).endswith("µV")


def test_counts_and_foot_map_follow_the_twitching_region(qtbot, window):
    """Only the left little-toe abductor twitches: the table and the map say so, in the simulator's numbers."""
    scenario = get_scenario("rest").with_(twitch_rate_per_min={"L-ADM": 40.0}, movement_rate_per_h=0.0,
                                          pop_rate_per_h=0.0)
    generator = Generator(scenario, seed=5, duration_s=60.0)
    window.start_session(lambda: ReplaySource(generator, speed=30.0), "sim one region")
    qtbot.waitUntil(lambda: ("L", "ADM") in window.foot_map.flashed_at, timeout=30_000)
    run_to_end(qtbot, window)

    truth = [e for e in generator.truth if e.kind == "twitch"]
    assert truth and {(e.side, e.region) for e in truth} == {("L", "ADM")}
    detected = int(window.counts.cell_text("L", "ADM", "twitches"))
    assert abs(detected - len(truth)) <= max(2, 0.1 * len(truth)), (detected, len(truth))
    others = sum(c.twitches for key, c in window.tally.counts.items() if key != ("L", "ADM"))
    assert others <= 0.1 * len(truth)

    end_s = window.session.status().data_s
    recent = sum(1 for e in truth if e.onset_s >= end_s - 60.0)
    rates = window.foot_map.rates
    assert max(rates, key=rates.get) == ("L", "ADM")
    assert rates[("L", "ADM")] == pytest.approx(recent, rel=0.15)
    assert float(window.counts.cell_text("L", "ADM", "/min now")) == pytest.approx(rates[("L", "ADM")], abs=0.05)
    assert set(window.foot_map.flashed_at) <= {("L", "ADM")} | {k for k, c in window.tally.counts.items() if c.twitches}


def test_cramp_raises_the_alert(qtbot, window):
    window.open_source(f"replay:{NIGHT}@max")
    run_to_end(qtbot, window)
    cramps = [r for r in truth_rows(NIGHT) if r["kind"] == "cramp"]
    assert cramps, "the bundled night excerpt is meant to hold cramps"
    assert window.alert.active and window.alert.isVisible()
    text = window.alert.label.text()
    for r in cramps:
        assert describe(r["side"], r["region"]) in text
        duration_s, ongoing = window.foot_map.cramps[(r["side"], r["region"])]
        assert not ongoing and duration_s == pytest.approx(float(r["duration"]), abs=2.0)
    window.alert.dismiss.click()
    assert not window.alert.isVisible()


def test_replay_gives_the_same_counts_as_analyze(qtbot, window):
    window.open_source(f"replay:{NIGHT}@max")
    run_to_end(qtbot, window)
    expected = analyze(open_recording(NIGHT))
    duration_s = expected.duration_s
    assert window.session.status().data_s == pytest.approx(duration_s)
    assert window.tally.summary(duration_s) == expected.tally.summary(duration_s)
    kinds = [e.kind for e in expected.events]
    assert window.timeline.drawn() == {kind: kinds.count(kind) for kind in window.timeline.drawn()}
    for key, c in expected.tally.counts.items():
        assert window.counts.cell_text(*key, "twitches") == str(c.twitches)
        assert window.counts.cell_text(*key, "cramps") == str(c.cramps)


def test_record_from_the_monitor_writes_what_the_simulator_made(qtbot, window, tmp_path):
    scenario = get_scenario("rest")
    window.start_session(lambda: ReplaySource(Generator(scenario, seed=2), speed=10.0), "sim")
    qtbot.waitUntil(lambda: window.session.status().data_s > 3.0, timeout=20_000)
    path = tmp_path / "from-monitor.edf"
    with qtbot.waitSignal(window.session.recording_changed, timeout=10_000):
        window.session.start_recording(path)
    assert window.controls.record.isChecked()
    qtbot.waitUntil(lambda: "REC from-monitor.edf" in window.status.text(), timeout=5_000)
    qtbot.wait(1500)
    with qtbot.waitSignal(window.session.recording_changed, timeout=10_000):
        window.session.stop_recording()
    assert not window.controls.record.isChecked()
    assert path.stat().st_mode & 0o777 == 0o600

    recorded = open_recording(path)
    t0_s = (recorded.start - scenario.start).total_seconds()
    assert t0_s == int(t0_s) and t0_s >= 3.0
    assert [c.label for c in recorded.channels] == [c.label for c in Generator(scenario).channels]
    assert recorded.duration_s >= 5.0
    fresh = Generator(scenario, seed=2, duration_s=t0_s + recorded.duration_s)
    want = {b.fs_hz: b for b in fresh.read(t0_s + recorded.duration_s).blocks}
    for block in recorded.blocks():
        ref = want[block.fs_hz]
        lo = round(t0_s * block.fs_hz) + block.start
        expected = ref.data[:, lo:lo + block.n]
        steps = np.array([(c.physical_max - c.physical_min) / 65535 for c in block.channels])[:, None]
        assert np.all(np.abs(block.data - expected) <= 1.01 * steps)
    recorded.close()


def test_hiding_a_channel_removes_its_lane(qtbot, window):
    window.open_source("sim@5")
    qtbot.waitUntil(lambda: bool(window.traces.feet), timeout=10_000)
    window.channel_list.set_visible("EMG L-ADM", False)
    left = {c.label for c in window.traces.feet["L"].channels}
    assert "EMG L-ADM" not in left and "EMG L-AbH" in left
    window.channel_list.set_visible("EMG L-ADM", True)
    assert "EMG L-ADM" in {c.label for c in window.traces.feet["L"].channels}


def test_a_bad_source_is_reported_and_the_current_one_kept(qtbot, window):
    window.open_source("sim@20")
    qtbot.waitUntil(lambda: bool(window.session.channels), timeout=10_000)
    running = window.session
    window.open_source("bogus:thing")
    assert window.session is running
    assert "unknown kind" in window.status.currentMessage()
    window.open_source("replay:/nonexistent/night.edf")
    qtbot.waitUntil(lambda: not window.session.running, timeout=10_000)
    assert window.session.status().state == "error"
    assert "nonexistent" in window.session.status().error


def test_detector_settings_are_shown(window):
    from dataclasses import fields

    assert window.settings.topLevelItemCount() == len(fields(window.config))
    assert window.settings.value_text("threshold_on") == f"{window.config.threshold_on:g}"
    # The sorter's settings are a branch, one row each, named as --set takes them.
    units = window.config.motor_units
    branch = window.settings.findItems("motor_units", QtCore.Qt.MatchFlag.MatchExactly, 0)[0]
    assert branch.childCount() == len(fields(units))
    assert window.settings.value_text("motor_units.min_twitches") == f"{units.min_twitches}"
    rows = QtWidgets.QTreeWidgetItemIterator(window.settings)
    missing = []
    while rows.value():
        if not rows.value().text(2):
            missing.append(rows.value().text(0))
        rows += 1
    assert not missing, f"settings without a reason: {missing}"


def test_changed_settings_are_marked(qtbot):
    from fascdetect.config import DetectorConfig
    from gui.settings_view import SettingsView

    view = SettingsView()
    qtbot.addWidget(view)
    view.show_config(DetectorConfig().with_overrides(["threshold_on=5", "motor_units.min_twitches=4"]))
    assert view.value_text("threshold_on") == "5 (set)"
    assert view.value_text("motor_units.min_twitches") == "4 (set)"
    assert not view.value_text("threshold_off").endswith("(set)")


def test_reset_counts_starts_the_tally_again(qtbot, window):
    scenario = get_scenario("post-exercise").with_(movement_rate_per_h=0.0, cramp_rate_per_h=0.0)
    window.start_session(lambda: ReplaySource(Generator(scenario, seed=4), speed=20.0), "sim")
    qtbot.waitUntil(lambda: sum(c.twitches for c in window.tally.counts.values()) >= 5, timeout=30_000)
    window.reset_counts()
    assert sum(c.twitches for c in window.tally.counts.values()) == 0
    assert window.timeline.drawn()["twitch"] == 0
    reset_at = window.counted_from_s
    assert reset_at > 0
    qtbot.waitUntil(lambda: sum(c.twitches for c in window.tally.counts.values()) >= 10, timeout=30_000)
    window.session.stop()  # stream time stands still: the table and this check read the same moment
    window.refresh_tables()
    counted_s = window.session.status().data_s - reset_at
    busiest = max(window.tally.counts.values(), key=lambda c: c.twitches)
    shown = float(window.counts.cell_text(busiest.side, busiest.region, "/min avg"))
    # Per minute of rest since the reset: the time counted, less that region's activity (and its margins).
    rest_min = window.tally.rest_s(busiest.side, busiest.region, counted_s) / 60
    assert 0 < rest_min <= counted_s / 60
    assert shown == pytest.approx(busiest.twitches / rest_min, rel=0.05, abs=0.02)
