"""The monitor's counts table shows each region's provisional motor units and the one that fired last."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re

from fascdetect.cli import main
from fascdetect.io import open_recording
from fascdetect.sources.replay import ReplaySource
from fascdetect.tally import Tally
from gui.app import application
from gui.counts_table import CountsTable
from gui.session import LiveSession


def test_the_counts_table_shows_units_and_the_last_to_fire(qtbot):
    application()
    table = CountsTable()
    qtbot.addWidget(table)
    table.refresh(Tally([("R", "ADM"), ("R", "AbH")]), 60.0, 60.0, None, {("R", "ADM"): "2 · last R-ADM/~1"})
    assert table.cell_text("R", "ADM", "motor units") == "2 · last R-ADM/~1"
    assert table.cell_text("R", "AbH", "motor units") == ""


def test_a_live_session_sorts_units_as_twitches_arrive(qtbot, tmp_path, capsys):
    edf = tmp_path / "arch.edf"
    assert main(["simulate", "--scenario", "post-exercise", "--duration", "2m", "--seed", "4", "--out", str(edf),
                 "--sides", "R", "--emg-regions", "AbH,FDB", "--acc-regions", "", "--no-progress"]) == 0
    capsys.readouterr()
    session = LiveSession(lambda: ReplaySource(open_recording(edf), speed=None), "arch")
    with qtbot.waitSignal(session.ended, timeout=120_000) as ended:
        session.start()
    assert ended.args == [""]
    cells = session.unit_cells()
    assert set(cells) == {("R", "AbH"), ("R", "FDB")}
    for (side, region), text in cells.items():
        m = re.fullmatch(rf"(\d+) · last ({side}-{region}/~\d+|twitch unassigned)", text)
        assert m and int(m.group(1)) >= 1, text
