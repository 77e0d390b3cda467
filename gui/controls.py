"""Controls: choose the source, record, reset counts, display window, alert sound.

Every source choice becomes a source spec (``sim:SCENARIO``,
``replay:PATH@SPEED``, ``ble:DEVICE``), the same text ``--source`` takes, so
the window and the command line open sources one way.
"""

from __future__ import annotations

from pathlib import Path

from pyqtgraph.Qt import QtCore, QtWidgets

from fascdetect.sources.spec import SPEC_FORMS
from gui.ble_scan import BleScanner

SPEEDS = ("1", "2", "5", "10", "60", "max")
WINDOWS_S = (2.0, 5.0, 10.0, 20.0, 30.0)
RECORDING_FILTER = "Recordings (*.edf *.bdf *.EDF *.BDF);;All files (*)"


class Controls(QtWidgets.QWidget):
    """A row of controls; what the user asks for leaves as signals."""

    source_requested = QtCore.Signal(str)
    recording_requested = QtCore.Signal(str)
    """A path to record to, or '' to stop recording."""
    reset_requested = QtCore.Signal()
    window_changed = QtCore.Signal(float)
    sound_changed = QtCore.Signal(bool)
    settings_requested = QtCore.Signal()
    message = QtCore.Signal(str)
    """Something to tell the user in the status bar."""

    def __init__(self, scenarios: tuple[str, ...], window_s: float, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)

        self.scenario = QtWidgets.QComboBox()
        self.scenario.addItems(list(scenarios))
        self.scenario.setToolTip("simulated wearable: the scenario it plays")
        simulate = QtWidgets.QPushButton("Simulate")
        simulate.clicked.connect(lambda: self.source_requested.emit(f"sim:{self.scenario.currentText()}"))
        self.speed = QtWidgets.QComboBox()
        self.speed.addItems([f"{s}×" if s != "max" else s for s in SPEEDS])
        self.speed.setToolTip("replay speed (1× is real time)")
        open_file = QtWidgets.QPushButton("Open recording…")
        open_file.clicked.connect(self._open_dialog)
        self.spec = QtWidgets.QLineEdit()
        self.spec.setPlaceholderText("ble:DEVICE  or  sim:night@4  or  replay:PATH@10")
        self.spec.setToolTip(SPEC_FORMS)
        self.spec.returnPressed.connect(self._spec_entered)
        connect = QtWidgets.QPushButton("Connect")
        connect.clicked.connect(self._spec_entered)
        self.scan = QtWidgets.QPushButton("Scan BLE…")
        self.scan.setToolTip("look for wearables nearby and pick one")
        self.scanner = BleScanner()
        self.scan.clicked.connect(self._scan_clicked)
        self.scanner.found.connect(self.offer_devices)
        self.scanner.failed.connect(self._scan_failed)
        self.devices_menu = QtWidgets.QMenu(self)
        self.record = QtWidgets.QPushButton("Record…")
        self.record.setCheckable(True)
        self.record.clicked.connect(self._record_clicked)
        reset = QtWidgets.QPushButton("Reset counts")
        reset.clicked.connect(self.reset_requested)
        self.window = QtWidgets.QComboBox()
        self.window.addItems([f"{w:g} s" for w in WINDOWS_S])
        self.window.setCurrentIndex(min(range(len(WINDOWS_S)), key=lambda i: abs(WINDOWS_S[i] - window_s)))
        self.window.setToolTip("trace window")
        self.window.currentIndexChanged.connect(lambda i: self.window_changed.emit(WINDOWS_S[i]))
        self.sound = QtWidgets.QCheckBox("Cramp sound")
        self.sound.toggled.connect(self.sound_changed)
        settings = QtWidgets.QPushButton("Detector settings")
        settings.clicked.connect(self.settings_requested)

        for widget in (self.scenario, simulate, _separator(), self.speed, open_file, _separator(), self.scan, self.spec,
                       connect, _separator(), self.record, reset, self.window, self.sound, settings):
            row.addWidget(widget)
        self.spec.setMinimumWidth(200)

    def replay_spec(self, path: str | Path) -> str:
        speed = SPEEDS[self.speed.currentIndex()]
        return f"replay:{path}@{speed}"

    def _open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Replay a recording", "", RECORDING_FILTER)
        if path:
            self.source_requested.emit(self.replay_spec(path))

    def _spec_entered(self) -> None:
        text = self.spec.text().strip()
        if text:
            self.source_requested.emit(text)

    def _scan_clicked(self) -> None:
        self.scan.setEnabled(False)
        self.scan.setText("Scanning…")
        self.scanner.start()

    def _scan_failed(self, why: str) -> None:
        self._scan_done()
        self.message.emit(why)

    def _scan_done(self) -> None:
        self.scan.setEnabled(True)
        self.scan.setText("Scan BLE…")

    def offer_devices(self, devices: list) -> None:
        """A menu of the wearables found; picking one connects to it by address."""
        self._scan_done()
        self.devices_menu.clear()
        if not devices:
            self.message.emit("no wearables found (is Bluetooth on, and the wearable charged and near?)")
            return
        for d in devices:
            battery = "" if d.battery_pct is None else f", battery {d.battery_pct}%"
            action = self.devices_menu.addAction(f"{d.name or 'unnamed'}  {d.address}  ({d.rssi} dBm{battery})")
            action.triggered.connect(lambda _=False, address=d.address: self.source_requested.emit(f"ble:{address}"))
        self.devices_menu.popup(self.scan.mapToGlobal(self.scan.rect().bottomLeft()))

    def _record_clicked(self, checked: bool) -> None:
        if not checked:
            self.recording_requested.emit("")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Record to EDF+", "monitor.edf", "EDF+ (*.edf)")
        if path:
            self.recording_requested.emit(path)
        else:
            self.record.setChecked(False)

    def set_recording(self, recording: bool) -> None:
        """Keep the button in step with the session (a failed start unchecks it)."""
        if self.record.isChecked() != recording:
            self.record.setChecked(recording)
        self.record.setText("Stop recording" if recording else "Record…")


def _separator() -> QtWidgets.QFrame:
    line = QtWidgets.QFrame()
    line.setFrameShape(QtWidgets.QFrame.Shape.VLine)
    return line
