"""Counts table: per side and region, what the Tally holds, as the CLI summary shows it."""

from __future__ import annotations

from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from fascdetect.regions import describe
from fascdetect.tally import Tally

COLUMNS = ("side", "region", "state", "twitches", "/min now", "/min avg", "motor units", "bursts", "cramps",
           "longest cramp s", "last event")
UNITS = COLUMNS.index("motor units")
GREY = QtGui.QColor(150, 150, 150)


def clock(seconds: float | None) -> str:
    """h:mm:ss of stream time, or a dash."""
    if seconds is None:
        return "–"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


class CountsTable(QtWidgets.QTableWidget):
    """One row per (side, region) of the tally; ``refresh`` rewrites the cells that changed."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        # Columns fit their contents when the rows change, not on every cell update (that re-measures
        # every cell of the table each time a count changes).
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Interactive)
        self.setWordWrap(False)
        self.keys: list[tuple[str, str]] = []

    def refresh(self, tally: Tally, now_s: float, counted_s: float,
                states: dict[tuple[str, str], str] | None = None,
                units: dict[tuple[str, str], str] | None = None) -> None:
        """``now_s``: stream time (for the recent rate); ``counted_s``: how long the tally has counted;
        ``states``: (side, region) → rest | active | movement | unusable (a row not at rest is greyed);
        ``units``: (side, region) → provisional motor units and the last to fire (``LiveSession.unit_cells``)."""
        states = states or {}
        units = units or {}
        keys = list(tally.counts)
        resize = keys != self.keys
        if resize:
            self.keys = keys
            self.clearContents()
            self.setRowCount(len(keys))
        summary = {(r["side"], r["region"]): r for r in tally.summary(counted_s)["regions"]}
        widen = False
        for row, key in enumerate(keys):
            c = tally.counts[key]
            state = states.get(key, "")
            values = (c.side, c.region, state, str(c.twitches), f"{tally.recent_rate_per_min(*key, now_s):.1f}",
                      f"{summary[key]['twitches_per_min']:.2f}", units.get(key, ""), str(c.bursts), str(c.cramps),
                      f"{c.cramp_longest_s:.1f}", clock(c.last_event_s))
            for col, text in enumerate(values):
                item = self.item(row, col)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    align = QtCore.Qt.AlignmentFlag.AlignLeft if col < 2 else QtCore.Qt.AlignmentFlag.AlignRight
                    item.setTextAlignment(align | QtCore.Qt.AlignmentFlag.AlignVCenter)
                    item.setToolTip(describe(*key))
                    self.setItem(row, col, item)
                if item.text() != text:
                    # The units cell grows as units appear: widen its column then, not on every count.
                    widen |= col == UNITS and len(text) > len(item.text())
                    item.setText(text)
                grey = state not in ("", "rest")
                if (item.foreground().color() == GREY) != grey:
                    item.setForeground(GREY if grey else self.palette().color(QtGui.QPalette.ColorRole.Text))
        if resize:
            self.resizeColumnsToContents()
        elif widen:
            self.resizeColumnToContents(UNITS)

    def cell_text(self, side: str, region: str, column: str) -> str:
        """The text shown for one region and column (what a user reads; used by tests)."""
        return self.item(self.keys.index((side, region)), COLUMNS.index(column)).text()
