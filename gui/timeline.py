"""Event timeline: a raster of every event of the session, one row per side and region.

Hours of twitches stay cheap to draw: each kind is one line item of short
ticks (twitches) or bars (bursts, cramps, movement), rebuilt only when new
events arrive, not every frame.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from fascdetect.model import Event
from gui.traces import KIND_COLOURS

TICK_HALF = 0.35


class _Growing:
    """Segment end points in a buffer that doubles when full (amortised O(1) per event)."""

    def __init__(self) -> None:
        self.xy = np.zeros((256, 2))
        self.n = 0

    def add(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if self.n + 2 > len(self.xy):
            self.xy = np.concatenate([self.xy, np.zeros_like(self.xy)])
        self.xy[self.n:self.n + 2] = ((x0, y0), (x1, y1))
        self.n += 2

    def view(self) -> np.ndarray:
        return self.xy[:self.n]


class HoursAxis(pg.AxisItem):
    """Stream time as h:mm (or m:ss under ten minutes)."""

    def tickStrings(self, values, scale, spacing):
        span = max(values, default=0) - min(values, default=0)
        out = []
        for v in values:
            v = max(v, 0)
            if span >= 600:
                out.append(f"{int(v // 3600)}:{int(v % 3600 // 60):02d}")
            else:
                out.append(f"{int(v // 60)}:{int(v % 60):02d}")
        return out


class Timeline(pg.PlotWidget):
    """Rows: each (side, region) with a sensor, then movement per foot."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, axisItems={"bottom": HoursAxis("bottom")})
        self.setBackground("w")
        self.setMouseEnabled(x=True, y=False)
        self.hideButtons()
        self.rows: dict[tuple[str, str], int] = {}
        self.items = {kind: self.plot([], [], connect="pairs", pen=pg.mkPen(colour, width=1 if kind == "twitch" else 5))
                      for kind, colour in KIND_COLOURS.items()}
        self._points = {kind: _Growing() for kind in KIND_COLOURS}
        self._dirty = False
        self.end_s = 0.0

    def set_rows(self, keys: list[tuple[str, str]]) -> None:
        sides = sorted({side for side, _ in keys})
        ordered = list(keys) + [(side, "*") for side in sides]
        self.rows = {key: i for i, key in enumerate(ordered)}
        labels = [(-i, f"{side}-{region}" if region != "*" else f"{side} moving")
                  for (side, region), i in self.rows.items()]
        self.getAxis("left").setTicks([labels, []])
        self.setYRange(-len(ordered) + 0.5, 0.5, padding=0)
        self.setXRange(0, 60.0, padding=0.01)
        self.end_s = 0.0
        self.clear_events()

    def clear_events(self) -> None:
        self._points = {kind: _Growing() for kind in KIND_COLOURS}
        self._dirty = True

    def drawn(self) -> dict[str, int]:
        """Events per kind in the raster (what a user sees)."""
        return {kind: points.n // 2 for kind, points in self._points.items()}

    def add_events(self, events: list[Event]) -> None:
        for e in events:
            row = self.rows.get((e.side, e.region))
            if row is None:
                continue
            y = -row
            if e.kind == "twitch":
                self._points[e.kind].add(e.onset_s, y - TICK_HALF, e.onset_s, y + TICK_HALF)
            else:  # at least a second long, so a short burst is visible over hours
                self._points[e.kind].add(e.onset_s, y, max(e.end_s, e.onset_s + 1.0), y)
            self._dirty = True

    def refresh(self, now_s: float) -> None:
        """Rebuild the ticks if events arrived, and keep the whole session in view."""
        if self._dirty:
            for kind, points in self._points.items():
                xy = points.view()
                self.items[kind].setData(xy[:, 0], xy[:, 1])
            self._dirty = False
        if now_s - self.end_s > max(1.0, 0.01 * now_s):
            self.end_s = now_s
            self.setXRange(0, max(now_s, 60.0), padding=0.01)
