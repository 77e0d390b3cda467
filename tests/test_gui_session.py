"""LiveSession and the building-cramp view, on the bundled night excerpt (cramps at known times)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv
from pathlib import Path

import pytest

from fascdetect.io import open_recording
from fascdetect.pipeline import Pipeline
from fascdetect.sources.replay import ReplaySource
from gui.session import LiveSession, provisional_cramps

NIGHT = Path(__file__).resolve().parents[1] / "recordings" / "night-excerpt-3m.edf"


def truth_cramps() -> list[dict[str, str]]:
    with open(NIGHT.with_suffix(".truth.tsv"), newline="") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] == "cramp"]


def test_a_cramp_is_shown_while_it_builds_and_before_it_is_final():
    """Mid-cramp the pipeline has reported nothing, yet the building view shows it, growing."""
    cramp = truth_cramps()[0]
    onset_s, duration_s = float(cramp["onset"]), float(cramp["duration"])
    source = ReplaySource(open_recording(NIGHT), speed=None)
    pipeline = Pipeline(source.channels)
    final, seen = [], []
    for block in source.blocks():
        final += [e for e in pipeline.feed(block).events if e.kind == "cramp"]
        t = block.end / block.fs_hz
        if block.fs_hz == source.channels[0].fs_hz and onset_s + 5 <= t <= onset_s + duration_s - 1 and t % 2 < 0.1:
            building = [e for e in provisional_cramps(pipeline)
                        if (e.side, e.region) == (cramp["side"], cramp["region"])]
            assert not [e for e in final if e.region == cramp["region"] and e.side == cramp["side"]]
            assert len(building) == 1, f"no building cramp at {t:.1f} s"
            seen.append((t, building[0]))
    source.close()
    assert len(seen) >= 3
    for t, e in seen:
        assert e.onset_s == pytest.approx(onset_s, abs=0.5)
        assert e.duration_s == pytest.approx(t - onset_s, abs=1.5)
    final_here = [e for e in final if (e.side, e.region) == (cramp["side"], cramp["region"])]
    assert len(final_here) == 1 and final_here[0].onset_s == pytest.approx(seen[0][1].onset_s, abs=0.01)


def test_session_delivers_all_events_and_ends(qtbot):
    session = LiveSession(lambda: ReplaySource(open_recording(NIGHT), speed=None), "night")
    with qtbot.waitSignal(session.ended, timeout=120_000) as ended:  # 3 min of signal flat out, on a shared machine
        session.start()
    assert ended.args == [""]
    events = session.drain_events()
    assert sorted(e.region for e in events if e.kind == "cramp") == sorted(r["region"] for r in truth_cramps())
    assert session.status().state == "ended" and session.provisional == []
    traces = session.traces
    assert set(traces) == {c.label for c in session.channels}
    ring = next(iter(traces.values())).ring
    assert ring.end == round(180 * next(iter(traces.values())).fs_hz)


def test_an_unopenable_source_ends_with_the_reason(qtbot):
    session = LiveSession(lambda: open_recording("/nonexistent/x.edf"), "missing")
    with qtbot.waitSignal(session.ended, timeout=10_000) as ended:
        session.start()
    assert "nonexistent" in ended.args[0]
    assert session.status().state == "error"
