"""Cramp alert: a red banner while a cramp builds or after one, optionally with a beep.

A cramp is what the person most wants to catch early, so the banner stays
until it is dismissed even after the cramp has ended.
"""

from __future__ import annotations

from pyqtgraph.Qt import QtCore, QtWidgets

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
        self._alerted: set[tuple[str, str, int]] = set()
        self._shown: set[tuple[str, str, int]] = set()
        self._dismissed: set[tuple[str, str, int]] = set()
        self.hide()

    def show_cramps(self, ongoing: list[Event], ended: list[Event]) -> None:
        """Cramps building now (provisional) and cramps the pipeline has just made final.

        A cramp is known by side, region and onset second, so its building and
        final forms are one alert, and a dismissed cramp does not come back.
        """
        ongoing = [e for e in ongoing if _key(e) not in self._dismissed]
        ended = [e for e in ended if _key(e) not in self._dismissed]
        if not ongoing and not ended:
            return
        parts = [f"CRAMP: {describe(e.side, e.region)}, {e.duration_s:.0f} s and going on" for e in ongoing]
        parts += [f"Cramp ended: {describe(e.side, e.region)}, {e.duration_s:.0f} s" for e in ended]
        self.label.setText("   •   ".join(parts))
        self._shown = {_key(e) for e in ongoing + ended}
        fresh = self._shown - self._alerted
        if fresh and self.audible:
            QtWidgets.QApplication.beep()
        self._alerted |= fresh
        self.active = True
        self.show()

    def clear(self) -> None:
        self._dismissed |= self._shown
        self.active = False
        self.hide()


def _key(e: Event) -> tuple[str, str, int]:
    return e.side, e.region, round(e.onset_s)
