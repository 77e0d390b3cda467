"""Status bar: source, connection, battery, packet loss, mains, recording, frame rate."""

from __future__ import annotations

from pyqtgraph.Qt import QtWidgets

from gui.counts_table import clock
from gui.session import SessionStatus


class MonitorStatusBar(QtWidgets.QStatusBar):
    """One label per fact, so a change in one never reflows the others."""

    FIELDS = ("source", "state", "time", "battery", "loss", "mains", "recording", "frames")

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = {name: QtWidgets.QLabel() for name in self.FIELDS}
        for name in self.FIELDS:
            self.addPermanentWidget(self.labels[name], 1 if name == "source" else 0)

    def show_status(self, source: str, status: SessionStatus, frames_per_s: float) -> None:
        state = status.state if not status.error else f"{status.state}: {status.error}"
        battery = "battery –" if status.battery_pct is None else f"battery {status.battery_pct:.0f}%"
        mains = ("mains " + ", ".join(f"{f:g}" for f in status.mains_hz) + " Hz removed" if status.mains_hz
                 else "mains none seen")
        recording = (f"● REC {status.recording.name} {status.recording_bytes / 1e6:.1f} MB" if status.recording
                     else "not recording")
        texts = {
            "source": source,
            "state": state,
            "time": clock(status.data_s),
            "battery": battery,
            "loss": f"loss {status.loss_pct:.1f}%",
            "mains": mains,
            "recording": recording,
            "frames": f"{frames_per_s:.0f} fps",
        }
        for name, text in texts.items():
            if self.labels[name].text() != text:
                self.labels[name].setText(text)
        self.labels["recording"].setStyleSheet("color: #c00000; font-weight: bold" if status.recording else "")

    def text(self) -> str:
        return "  |  ".join(self.labels[name].text() for name in self.FIELDS)
