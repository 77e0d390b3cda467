"""Channel list: show/hide each trace, and see each channel's signal quality.

Quality is what the pipeline measured: the running noise floor (a dry or
loose electrode raises it), the mains interference on each EMG channel
before it was removed (poor contact picks up more), and clipped time
(samples at the ADC rails, which the detector ignores).
"""

from __future__ import annotations

from pyqtgraph.Qt import QtCore, QtWidgets

from fascdetect.model import Channel
from gui.traces import lane_key


class ChannelList(QtWidgets.QTreeWidget):
    """Checkable channels grouped by foot; ``hidden_changed`` carries the unchecked labels."""

    hidden_changed = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(5)
        self.setHeaderLabels(["channel", "noise floor", "mains", "clipped", "state"])
        self.setRootIsDecorated(True)
        self.items: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self.channels: dict[str, Channel] = {}
        self.itemChanged.connect(self._changed)

    def set_channels(self, channels: tuple[Channel, ...]) -> None:
        self.blockSignals(True)
        self.clear()
        self.items, self.channels = {}, {c.label: c for c in channels}
        for side in sorted({c.side for c in channels}):
            group = QtWidgets.QTreeWidgetItem(self, ["left foot" if side == "L" else "right foot"])
            group.setExpanded(True)
            for c in channels:
                if c.side != side:
                    continue
                item = QtWidgets.QTreeWidgetItem(group, [c.label, "–", "", "", ""])
                item.setCheckState(0, QtCore.Qt.CheckState.Checked)
                self.items[c.label] = item
        self.resizeColumnToContents(0)
        self.blockSignals(False)

    def hidden(self) -> set[str]:
        return {label for label, item in self.items.items() if item.checkState(0) != QtCore.Qt.CheckState.Checked}

    def set_visible(self, label: str, visible: bool) -> None:
        state = QtCore.Qt.CheckState.Checked if visible else QtCore.Qt.CheckState.Unchecked
        self.items[label].setCheckState(0, state)

    def _changed(self, item: QtWidgets.QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self.hidden_changed.emit(self.hidden())

    def refresh(self, noise_floor: dict[str, float], mains_uv: dict[str, float], clipped_s: dict[str, float],
                states: dict[str, str] | None = None) -> None:
        states = states or {}
        self.blockSignals(True)
        for label, item in self.items.items():
            c = self.channels[label]
            floor = noise_floor.get(lane_key(c))
            unit = "µV" if c.unit == "uV" else c.unit
            item.setText(1, "–" if floor is None else f"{floor:.2f} {unit}")
            mains = mains_uv.get(label)
            item.setText(2, "" if mains is None else f"{mains:.1f} µV")
            clip = clipped_s.get(label, 0.0)
            item.setText(3, f"{clip:.1f} s" if clip else "")
            item.setText(4, states.get(lane_key(c), ""))
        self.blockSignals(False)
