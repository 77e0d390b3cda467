"""Foot map: both feet with the catalogue regions, coloured by current twitch rate.

Each foot twice, as you look down at your own feet: its top with the front
of the shin, and its sole with the calf (seen through the foot); left foot
on the left, big toes towards the middle. Each region flashes at a twitch; a cramp keeps a
red outline and its running duration. A region whose muscle is not at rest
(voluntary activity, movement, or an unusable signal) is greyed with its
state: twitches are not counted there meanwhile.
"""

from __future__ import annotations

import time
from typing import Callable

from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from fascdetect.foot_geometry import OUTLINE, SHAPES
from fascdetect.model import Event
from fascdetect.regions import SIDE_NAMES

RATE_FULL_SCALE_PER_MIN = 30.0
"""Rates at or above this are drawn in the hottest colour (well above benign rates of a few per minute)."""
FLASH_S = 0.6
CRAMP_HOLD_S = 300.0
"""A cramp that ended stays outlined this long (wall time), so a glance after it still shows it."""

STATE_GREY = QtGui.QColor(205, 205, 205)
STATE_WORDS = {"active": "active", "movement": "moving", "unusable": "no signal"}
"""What a greyed region says instead of its rate."""

VIEWS = ("top", "sole")
VIEW_TITLES = {"top": "top, shin", "sole": "sole, calf"}

def rate_colour(rate_per_min: float) -> QtGui.QColor:
    """Pale yellow at zero through orange to dark red at RATE_FULL_SCALE_PER_MIN."""
    f = max(0.0, min(1.0, rate_per_min / RATE_FULL_SCALE_PER_MIN))
    stops = ((0.0, (255, 247, 200)), (0.4, (253, 160, 60)), (1.0, (170, 20, 20)))
    for (f0, c0), (f1, c1) in zip(stops, stops[1:]):
        if f <= f1:
            k = (f - f0) / (f1 - f0)
            return QtGui.QColor(*(round(a + k * (b - a)) for a, b in zip(c0, c1)))
    return QtGui.QColor(*stops[-1][1])


class FootMap(QtWidgets.QWidget):
    """Draws ``rates`` per (side, region); ``flash`` and ``set_cramps`` mark events.

    Regions without a sensor are drawn hatched grey: no data, not zero.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(360, 300)
        self.sensed: set[tuple[str, str]] = set()
        self.rates: dict[tuple[str, str], float] = {}
        self.states: dict[tuple[str, str], str] = {}
        """(side, region) → rest | active | movement | unusable (empty: the pipeline reports no states)."""
        self.cramps: dict[tuple[str, str], tuple[float, bool]] = {}
        """(side, region) → (duration s, still building)."""
        self.flashed_at: dict[tuple[str, str], float] = {}
        """(side, region) → wall time (monotonic) of its latest twitch."""
        self._cramp_seen: dict[tuple[str, str], float] = {}
        self._final_onset: dict[tuple[str, str], float] = {}
        self._shown: tuple = ()
        self._flashed = False
        self.region_rects: dict[tuple[str, str], QtCore.QRectF] = {}
        """Where each region was drawn at the last repaint (widget pixels)."""
        self.on_painted: Callable[[float], None] | None = None
        """Called with the wall time (monotonic) after each repaint: what the latency figure is measured to."""

    def set_sensed(self, regions: set[tuple[str, str]]) -> None:
        self.sensed = set(regions)
        self.reset()

    def set_rates(self, rates: dict[tuple[str, str], float]) -> None:
        self.rates = dict(rates)

    def set_states(self, states: dict[tuple[str, str], str]) -> None:
        self.states = states

    def flash(self, side: str, region: str) -> None:
        """A twitch now: the region's outline flashes (restarted if it is already flashing)."""
        self.flashed_at[(side, region)] = time.monotonic()
        self._flashed = True

    def set_cramps(self, ongoing: list[Event], ended: list[Event]) -> None:
        """Cramps building now (provisional, duration so far) and cramps the pipeline made final.

        A final cramp is never overridden by a building one with the same onset
        (the provisional view may lag the final event by a frame).
        """
        now = time.monotonic()
        for e in ended:
            key = (e.side, e.region)
            self.cramps[key] = (e.duration_s, False)
            self._final_onset[key] = e.onset_s
            self._cramp_seen[key] = now
        building = set()
        for e in ongoing:
            key = (e.side, e.region)
            if abs(self._final_onset.get(key, -1e9) - e.onset_s) < 1.0:
                continue
            building.add(key)
            self.cramps[key] = (e.duration_s, True)
            self._cramp_seen[key] = now
        for key, seen in list(self._cramp_seen.items()):
            duration_s, going = self.cramps[key]
            if going and key not in building:
                self.cramps[key] = (duration_s, False)
            elif not going and now - seen > CRAMP_HOLD_S:
                del self.cramps[key], self._cramp_seen[key]

    def refresh(self) -> None:
        """Repaint only when what is drawn changed (rates as shown, flashes, cramp seconds): painting
        the map every frame would cost more than all the traces."""
        shown = (tuple(sorted((k, round(v)) for k, v in self.rates.items())), frozenset(self.flashing()),
                 tuple(sorted((k, round(d), going) for k, (d, going) in self.cramps.items())),
                 tuple(sorted(self.states.items())))
        if shown != self._shown or self._flashed:
            self._shown = shown
            self._flashed = False
            self.update()

    def reset(self) -> None:
        self.rates, self.cramps, self.states = {}, {}, {}
        self.flashed_at.clear()
        self._cramp_seen.clear()
        self._final_onset.clear()
        self.update()

    def flashing(self) -> set[tuple[str, str]]:
        now = time.monotonic()
        return {k for k, t in self.flashed_at.items() if now - t < FLASH_S}

    # -- drawing ------------------------------------------------------------------
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().color(QtGui.QPalette.ColorRole.Base))
        legend_h = 22
        w, h = self.width(), self.height() - legend_h
        cell_w = w / 4
        panels = [(side, view) for side in ("L", "R") for view in VIEWS]
        for col, (side, view) in enumerate(panels):
            self._draw_foot(p, QtCore.QRectF(col * cell_w, 0, cell_w, h), side, view)
        p.setPen(QtGui.QPen(QtGui.QColor(160, 160, 160), 1))
        p.drawLine(QtCore.QPointF(w / 2, 4), QtCore.QPointF(w / 2, h - 4))
        self._draw_legend(p, QtCore.QRectF(8, h + 2, w - 16, legend_h - 6))
        p.end()
        if self.on_painted is not None:
            self.on_painted(time.monotonic())

    def _draw_foot(self, p: QtGui.QPainter, cell: QtCore.QRectF, side: str, view: str) -> None:
        p.setPen(self.palette().color(QtGui.QPalette.ColorRole.Text))
        p.drawText(cell.adjusted(2, 2, -2, 0), QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignHCenter,
                   f"{SIDE_NAMES[side]} {VIEW_TITLES[view]}")
        # The foot occupies y 0..1, the leg below it to 1.3; drawn a little wider than a real foot
        # (2:1 rather than 2.6:1) so the region labels fit.
        area = cell.adjusted(8, 22, -8, -4)
        scale = min(area.height() / 1.3, area.width() * 2.0)
        foot_w, foot_h = scale / 2.0, scale
        left = area.center().x() - foot_w / 2
        top = area.top()
        mirror = side == "L"  # left foot: medial edge on the right, towards the middle

        def to_px(x: float, y: float) -> QtCore.QPointF:
            return QtCore.QPointF(left + (1 - x if mirror else x) * foot_w, top + y * foot_h)

        outline = QtGui.QPolygonF([to_px(x, y) for x, y in OUTLINE])
        p.setPen(QtGui.QPen(QtGui.QColor(120, 110, 100), 1.5))
        p.setBrush(QtGui.QColor(238, 228, 215))
        p.drawPolygon(outline)
        flashing = self.flashing()
        for code, (shape_view, cx, cy, sw, sh) in SHAPES.items():
            if shape_view != view:
                continue
            key = (side, code)
            centre = to_px(cx, cy)
            rect = QtCore.QRectF(centre.x() - sw * foot_w / 2, centre.y() - sh * foot_h / 2, sw * foot_w, sh * foot_h)
            self.region_rects[key] = rect
            self._draw_region(p, rect, key, key in flashing)

    def _draw_region(self, p: QtGui.QPainter, rect: QtCore.QRectF, key: tuple[str, str], flashing: bool) -> None:
        side, code = key
        state = self.states.get(key, "rest")
        if key in self.sensed and state != "rest":
            p.setBrush(STATE_GREY)
            text = f"{code}\n{STATE_WORDS.get(state, state)}"
        elif key in self.sensed:
            rate = self.rates.get(key, 0.0)
            p.setBrush(rate_colour(rate))
            text = f"{code}\n{rate:.0f}/min"
        else:
            p.setBrush(QtGui.QBrush(QtGui.QColor(180, 180, 180), QtCore.Qt.BrushStyle.BDiagPattern))
            text = code
        cramp = self.cramps.get(key)
        if cramp is not None:
            pen = QtGui.QPen(QtGui.QColor(220, 0, 0), 4 if cramp[1] else 3)
            if not cramp[1]:
                pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        elif flashing:
            pen = QtGui.QPen(QtGui.QColor(0, 120, 255), 4)
        else:
            pen = QtGui.QPen(QtGui.QColor(90, 80, 70), 1)
        p.setPen(pen)
        p.drawEllipse(rect)
        p.setPen(QtGui.QColor(30, 30, 30) if key in self.sensed else QtGui.QColor(130, 130, 130))
        font = p.font()
        font.setPointSizeF(7.5)
        p.setFont(font)
        if QtGui.QFontMetrics(font).height() * 2 > rect.height():
            text = text.replace("\n", " ") if rect.width() > 60 else code
        p.drawText(rect.adjusted(-10, 0, 10, 0), QtCore.Qt.AlignmentFlag.AlignCenter, text)
        if cramp is not None:
            p.setPen(QtGui.QColor(200, 0, 0))
            font.setBold(True)
            p.setFont(font)
            label = f"cramp {cramp[0]:.0f} s" + ("…" if cramp[1] else "")
            p.drawText(QtCore.QRectF(rect.left() - 30, rect.bottom(), rect.width() + 60, 14),
                       QtCore.Qt.AlignmentFlag.AlignHCenter, label)
            font.setBold(False)
            p.setFont(font)

    def _draw_legend(self, p: QtGui.QPainter, rect: QtCore.QRectF) -> None:
        bar = QtCore.QRectF(rect.left() + 150, rect.top() + 3, min(160.0, rect.width() - 330), rect.height() - 6)
        p.setPen(self.palette().color(QtGui.QPalette.ColorRole.Text))
        p.drawText(QtCore.QRectF(rect.left(), rect.top(), 145, rect.height()),
                   QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignRight,
                   "twitches/min (last 60 s)")
        steps = 24
        for i in range(steps):
            p.fillRect(QtCore.QRectF(bar.left() + i * bar.width() / steps, bar.top(), bar.width() / steps + 1,
                                     bar.height()), rate_colour(RATE_FULL_SCALE_PER_MIN * i / (steps - 1)))
        p.drawText(QtCore.QRectF(bar.right() + 4, rect.top(), 180, rect.height()),
                   QtCore.Qt.AlignmentFlag.AlignVCenter, f"{RATE_FULL_SCALE_PER_MIN:.0f}+   hatched: no sensor")
