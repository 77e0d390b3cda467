"""Event timeline: a raster of every event of the session, one row per side and region.

Hours of twitches stay cheap to draw: each kind is drawn as line items of
short ticks (twitches) or bars (bursts, cramps, movement), each item holding
``CHUNK_EVENTS`` events in the order they came. New events change only the
newest item of their kind: the older ones are neither rebuilt nor, while the
view only grows, repainted (each item claims only its own span of time), so
the work per new event does not grow with the session.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from fascdetect.model import Event
from gui.traces import KIND_COLOURS

TICK_HALF = 0.35
CHUNK_EVENTS = 512
"""Events per line item. Re-sending the whole session's points to a single item on every new event cost
2.5 ms per update at 300 events and 9 ms at 7000 (offscreen, 1500 px wide)."""


class _Chunk:
    """Segment end points of up to ``CHUNK_EVENTS`` events and the line item that draws them."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        self.item = item
        self.xy = np.zeros((2 * CHUNK_EVENTS, 2))
        self.n = 0
        self.dirty = False

    @property
    def full(self) -> bool:
        return self.n == len(self.xy)

    def add(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.xy[self.n:self.n + 2] = ((x0, y0), (x1, y1))
        self.n += 2
        self.dirty = True

    def draw(self) -> None:
        if self.dirty:
            xy = self.xy[:self.n]
            self.item.setData(xy[:, 0], xy[:, 1])
            self.dirty = False


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
        self._pens = {kind: pg.mkPen(colour, width=1 if kind == "twitch" else 5) for kind, colour in KIND_COLOURS.items()}
        self._chunks: dict[str, list[_Chunk]] = {kind: [] for kind in KIND_COLOURS}
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
        for chunks in self._chunks.values():
            for chunk in chunks:
                self.removeItem(chunk.item)
        self._chunks = {kind: [] for kind in KIND_COLOURS}

    def drawn(self) -> dict[str, int]:
        """Events per kind in the raster (what a user sees)."""
        return {kind: sum(c.n for c in chunks) // 2 for kind, chunks in self._chunks.items()}

    def _open_chunk(self, kind: str) -> _Chunk:
        chunks = self._chunks[kind]
        if not chunks or chunks[-1].full:
            item = self.plot([], [], connect="pairs", pen=self._pens[kind])
            item.setZValue(list(KIND_COLOURS).index(kind))  # bars over ticks, whichever item came first
            chunks.append(_Chunk(item))
        return chunks[-1]

    def add_events(self, events: list[Event]) -> None:
        for e in events:
            row = self.rows.get((e.side, e.region))
            if row is None:
                continue
            y = -row
            chunk = self._open_chunk(e.kind)
            if e.kind == "twitch":
                chunk.add(e.onset_s, y - TICK_HALF, e.onset_s, y + TICK_HALF)
            else:  # at least a second long, so a short burst is visible over hours
                chunk.add(e.onset_s, y, max(e.end_s, e.onset_s + 1.0), y)
            self._dirty = True

    def refresh(self, now_s: float) -> None:
        """Draw the events that arrived (only the items they went to), and keep the whole session in view."""
        if self._dirty:
            for chunks in self._chunks.values():
                for chunk in chunks:
                    chunk.draw()
            self._dirty = False
        if now_s - self.end_s > max(1.0, 0.01 * now_s):
            self.end_s = now_s
            self.setXRange(0, max(now_s, 60.0), padding=0.01)
