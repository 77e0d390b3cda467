"""Cramp alert: a red banner while a cramp builds or after one, optionally with a beep.

A cramp is what the person most wants to catch early, so the banner stays
until it is dismissed even after the cramp has ended.
"""

from __future__ import annotations

from pyqtgraph.Qt import QtWidgets

from fascdetect.model import Event
from fascdetect.regions import describe


class CrampAlert(QtWidgets.QFrame):
    """Hidden until ``show_cramps`` sees a cramp; ``audible`` beeps once per new cramp."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("CrampAlert { background: #c00000; } QLabel { color: white; font-weight: bold; }")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        self.label = QtWidgets.QLabel()
        self.dismiss = QtWidgets.QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.clear)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss)
        self.audible = False
        self.active = False
        self.entries: dict[tuple[str, str, int], str] = {}
        """Cramps shown since the last dismissal: key → its line."""
        self._alerted: set[tuple[str, str, int]] = set()
        self._dismissed: set[tuple[str, str, int]] = set()
        self.hide()

    def show_cramps(self, ongoing: list[Event], ended: list[Event]) -> None:
        """Cramps building now (provisional) and cramps the pipeline has just made final.

        A cramp is known by side, region and onset second, so its building and
        final forms are one line, and a dismissed cramp does not come back.
        """
        changed = False
        for e in ongoing + ended:
            key = _key(e)
            if key in self._dismissed:
                continue
            going = e in ongoing
            line = (f"CRAMP: {describe(e.side, e.region)}, {e.duration_s:.0f} s and going on" if going
                    else f"Cramp ended: {describe(e.side, e.region)}, {e.duration_s:.0f} s")
            if not going or not self.entries.get(key, "").startswith("Cramp ended"):
                changed |= self.entries.get(key) != line
                self.entries[key] = line
        if not changed:
            return
        self.label.setText("   •   ".join(self.entries.values()))
        fresh = set(self.entries) - self._alerted
        if fresh and self.audible:
            QtWidgets.QApplication.beep()
        self._alerted |= fresh
        self.active = True
        self.show()

    def clear(self) -> None:
        self._dismissed |= set(self.entries)
        self.entries = {}
        self.active = False
        self.hide()


def _key(e: Event) -> tuple[str, str, int]:
    return e.side, e.region, round(e.onset_s)
