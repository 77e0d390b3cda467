"""Live traces: the pipeline's filtered signal per channel, scrolling, one plot per foot.

Each channel is reduced to its minimum and maximum per pixel column and the
spans are filled into pixels (``gui.raster``). A column never changes once
its samples are in, so each frame fills only the columns completed since
the last frame and keeps the rest; the picture scrolls by moving, not by
redrawing. The time axis is fixed (seconds before now) and the lanes and
markers slide under it, so the axis is not re-labelled 30 times a second.
Whatever the sampling rate and window, 16 channels at 2 kHz cost about the
same to draw as 16 at 200 Hz. Each lane is scaled to its channel's noise
floor, so a twitch (≥ 3.5× the floor) stands out the same on a quiet and a
noisy electrode.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from fascdetect.model import Channel, Event
from fascdetect.regions import SIDE_NAMES
from gui.provisional import TwitchBook
from gui.raster import ColumnRing, argb, column_pixels
from gui.ring import SampleRing, minmax_decimate
from gui.session import TraceSlot, lane_key  # noqa: F401  (lane_key: imported from here too)

LANE_FILL = 0.46
"""Half the lane height a trace may use before it is clipped (lanes never overlap)."""
FLOOR_MULTIPLE = 15.0
"""A lane's half-height is this many noise floors: noise stays within ~1/4 of it, a twitch fills it."""
MIN_SCALE = {"EMG": 5.0, "ACC": 0.5}
LANE_COLOURS = {"EMG": (20, 20, 20), "ACC": (0, 120, 90)}
KIND_COLOURS = {"twitch": (0, 110, 230), "burst": (230, 130, 0), "cramp": (210, 0, 0), "movement": (120, 120, 120),
                "activity": (140, 80, 190)}
WITHDRAWN_COLOUR = (120, 120, 120)
MAX_MARKERS = 5000
WINDOW_MAX_S = 30.0
"""Events older than the longest window are dropped from the markers."""
MARKER_PX = 9
RESCALE_EVERY_FRAMES = 10
"""Lane scales follow the noise floor, which changes over seconds: checked 3 times a second."""
SCROLL_LAG_MAX_S = 1.0
"""The smooth scroll runs at most this far behind the newest data before it jumps to it."""


class _ClaimingItem(pg.GraphicsObject):
    """An item that claims only the rectangle it has content in (what it claims is repainted when it moves)."""

    def __init__(self) -> None:
        super().__init__()
        self._bounds = QtCore.QRectF()

    def _claim(self, bounds: QtCore.QRectF) -> None:
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds


class _Raster(_ClaimingItem):
    """One foot's lanes at one sampling rate, as pixel columns in stream time (x in s, lane k at y = −k)."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(-1)  # under the event markers
        self.key: tuple | None = None
        self.columns: ColumnRing | None = None
        self.image: QtGui.QImage | None = None
        self.per_column = 1
        self.fs_hz = 1.0
        self.top = self.bottom = 0
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.view_s = (-np.inf, np.inf)
        """The stream time in view: the item claims only that part."""

    def reset(self, key: tuple, height_px: int, n_cols: int, per_column: int, fs_hz: float, top: int,
              bottom: int) -> None:
        """New geometry, lanes or scales: start again from an empty picture."""
        self.key = key
        self.columns = ColumnRing(height_px, n_cols)
        self.image = pg.functions.ndarray_to_qimage(self.columns.pixels,
                                                    QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        self.per_column, self.fs_hz, self.top, self.bottom = per_column, fs_hz, top, bottom
        self.prev = None
        self._set_bounds()

    def append(self, ring: SampleRing, rows: list[int], scale: np.ndarray, lanes: list[int], lane_px: int,
               colours: np.ndarray) -> int:
        """Draw the columns completed since the last call; returns the number of min/max values computed."""
        columns = self.columns
        pc = self.per_column
        end_col = ring.end // pc
        first = end_col - columns.n_cols
        contiguous = columns.end_col is not None and columns.end_col >= first
        if contiguous:
            first = columns.end_col
        else:
            columns.clear()
            self.prev = None
        if end_col <= first:
            return 0
        samples, got = ring.window(first * pc, end_col * pc, rows)
        index, values = minmax_decimate(samples, got, pc)
        if not len(index):
            return 0
        lo, hi = values[:, 0::2] / scale, values[:, 1::2] / scale
        first_col = int(index[0]) // pc
        if first_col != first and columns.end_col is not None:  # samples missing in between: start afresh
            columns.clear()
            contiguous = False
        prev = self.prev if contiguous else None
        pixels = column_pixels(lo, hi, None if prev is None else prev[0], None if prev is None else prev[1],
                               lanes, self.bottom - self.top + 1, lane_px, colours, LANE_FILL)
        columns.write(first_col, pixels)
        self.prev = (lo[:, -1], hi[:, -1])
        self._set_bounds()
        return values.size

    def set_view(self, x0_s: float, x1_s: float) -> None:
        self.view_s = (x0_s, x1_s)
        self._set_bounds()

    def _columns_s(self) -> tuple[float, float]:
        end_col = self.columns.end_col
        return ((end_col - self.columns.n_cols) * self.per_column / self.fs_hz,
                end_col * self.per_column / self.fs_hz)

    def _set_bounds(self) -> None:
        columns = self.columns
        bounds = QtCore.QRectF()
        if columns is not None and columns.end_col is not None:
            c0, c1 = self._columns_s()
            x0, x1 = max(c0, self.view_s[0]), min(c1, self.view_s[1])
            if x1 > x0:
                bounds = QtCore.QRectF(x0, -self.bottom - 0.5, x1 - x0, self.bottom - self.top + 1)
        self._claim(bounds)

    def paint(self, p: QtGui.QPainter, *args) -> None:
        columns = self.columns
        if columns is None or columns.end_col is None or self.image is None or self._bounds.isEmpty():
            return
        # Blit in device pixels: the rows are top-down as stored, whatever the view's y direction.
        c0, c1 = self._columns_s()
        per_col_s = (c1 - c0) / columns.n_cols
        x0, x1 = self._bounds.left(), self._bounds.right()
        source = QtCore.QRectF(columns.newest_slice() + (x0 - c0) / per_col_s, 0, (x1 - x0) / per_col_s,
                               columns.pixels.shape[0])
        target = p.transform().mapRect(self._bounds)
        p.save()
        p.resetTransform()
        p.drawImage(target, self.image, source)
        p.restore()


class _Markers(_ClaimingItem):
    """Event markers of one foot in stream time: final events filled, provisional twitches hollow,
    withdrawn twitches grey and fading.

    Markers keep their size in pixels whatever the window, so they are built
    in device pixels; while the view only scrolls (a pure horizontal shift)
    the built paths are moved, not rebuilt. They are rebuilt when events
    change, the view is resized or rescaled, or a withdrawn twitch fades.
    """

    MARGIN_S = 2.0
    """Markers are built this far beyond the view, so scrolling reuses them for a while."""

    def __init__(self) -> None:
        super().__init__()
        self.final = np.zeros((0, 4))
        """onset s, end s, lane, kind index."""
        self.open = np.zeros((0, 2))
        """Provisional twitches: onset s, lane."""
        self.gone = np.zeros((0, 3))
        """Withdrawn twitches: onset s, lane, opacity."""
        self.view_s = (0.0, 0.0)
        self.n_lanes = 0
        self._brushes = [QtGui.QBrush(QtGui.QColor(*c)) for c in KIND_COLOURS.values()]
        self._span_brushes = [QtGui.QBrush(QtGui.QColor(*c, 160)) for c in KIND_COLOURS.values()]
        self._open_pen = QtGui.QPen(QtGui.QColor(*KIND_COLOURS["twitch"]), 1.5)
        self._built: tuple | None = None
        """(scale x, scale y, origin y, x from s, x to s) of the transform the paths were built with."""
        self._origin_x = 0.0
        self._paths: list[tuple[QtGui.QPainterPath, QtGui.QBrush | None, QtGui.QPen | None]] = []

    def set_markers(self, final: np.ndarray, open_: np.ndarray, gone: np.ndarray, n_lanes: int) -> None:
        self.final, self.open, self.gone = final, open_, gone
        self.n_lanes = n_lanes
        self._built = None
        self.set_view(*self.view_s)

    def set_view(self, x0_s: float, x1_s: float) -> None:
        """Claim only the lanes in view (what an item claims is repainted whenever it moves)."""
        self.view_s = (x0_s, x1_s)
        empty = not (len(self.final) or len(self.open) or len(self.gone))
        bounds = QtCore.QRectF() if empty else QtCore.QRectF(x0_s, -self.n_lanes + 0.5, x1_s - x0_s, self.n_lanes)
        self._claim(bounds)

    def paint(self, p: QtGui.QPainter, *args) -> None:
        t = p.transform()
        x0, x1 = self.view_s
        built = self._built
        if (built is None or (built[0], built[1], built[2]) != (t.m11(), t.m22(), t.dy())
                or x0 < built[3] or x1 > built[4]):
            self._build(t, x0 - self.MARGIN_S, x1 + self.MARGIN_S)
        p.save()
        p.resetTransform()
        p.translate(t.dx() - self._origin_x, 0)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        for path, brush, pen in self._paths:
            p.setPen(pen if pen is not None else QtCore.Qt.PenStyle.NoPen)
            p.setBrush(brush if brush is not None else QtCore.Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        p.restore()

    def _build(self, t: QtGui.QTransform, x0: float, x1: float) -> None:
        self._built = (t.m11(), t.m22(), t.dy(), x0, x1)
        self._origin_x = t.dx()
        paths: list[tuple[QtGui.QPainterPath, QtGui.QBrush | None, QtGui.QPen | None]] = []
        final = self.final[(self.final[:, 1] >= x0) & (self.final[:, 0] <= x1)]
        for k in np.unique(final[:, 3]).astype(int):
            mine = final[final[:, 3] == k]
            spans = QtGui.QPainterPath()
            for onset, end, lane, _ in mine[mine[:, 1] - mine[:, 0] > 0.05]:
                a, b = t.map(QtCore.QPointF(onset, -lane - LANE_FILL)), t.map(QtCore.QPointF(end, -lane - LANE_FILL))
                spans.addRect(QtCore.QRectF(a.x(), a.y() - 2, b.x() - a.x(), 4))
            paths.append((spans, self._span_brushes[k], None))
            paths.append((_triangles(t, mine[:, 0], mine[:, 2]), self._brushes[k], None))
        if len(self.open):
            paths.append((_triangles(t, self.open[:, 0], self.open[:, 1]), None, self._open_pen))
        for onset, lane, opacity in self.gone:
            pen = QtGui.QPen(QtGui.QColor(*WITHDRAWN_COLOUR, round(255 * opacity)), 1.5)
            paths.append((_triangles(t, np.array([onset]), np.array([lane])), None, pen))
        self._paths = paths


def _triangles(t: QtGui.QTransform, onsets: np.ndarray, lanes: np.ndarray) -> QtGui.QPainterPath:
    """Triangles pointing down at each onset, their base at the top of their lane (device pixels)."""
    path = QtGui.QPainterPath()
    h = MARKER_PX / 2
    for onset, lane in zip(onsets.tolist(), lanes.tolist()):
        base = t.map(QtCore.QPointF(onset, -lane + LANE_FILL))
        x, y = base.x(), base.y()
        path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(x - h, y), QtCore.QPointF(x + h, y),
                                         QtCore.QPointF(x, y + 2 * h * 0.9), QtCore.QPointF(x - h, y)]))
    return path


class _Group:
    """The visible lanes of one foot at one sampling rate (one ring buffer, one raster)."""

    def __init__(self, ring: SampleRing) -> None:
        self.ring = ring
        self.channels: list[Channel] = []
        self.rows: list[int] = []
        self.top = self.bottom = 0
        self.lanes: list[int] = []
        """Lane of each channel counted from the group's top lane."""
        self.labels: tuple[str, ...] = ()
        self.colours = np.zeros(0, np.uint32)
        self.scale = np.ones((0, 1))

    def add(self, lane: int, channel: Channel, row: int) -> "_Group":
        if not self.channels:
            self.top = lane
        self.channels.append(channel)
        self.rows.append(row)
        self.bottom = lane
        self.lanes = self.lanes + [lane - self.top]
        self.labels = self.labels + (channel.label,)
        self.colours = np.append(self.colours, np.uint32(argb(LANE_COLOURS[channel.modality])))
        return self


class _FootPlot:
    """One foot: a lane per visible channel (one raster per rate group) and event markers."""

    def __init__(self, plot: pg.PlotItem, side: str) -> None:
        self.plot = plot
        self.side = side
        self.channels: list[Channel] = []
        self.groups: dict[float, _Group] = {}
        """Sampling rate → the visible lanes at that rate."""
        self.scales: dict[str, float] = {}
        self.scroller = pg.ItemGroup()
        """Holds everything in stream time; moved each frame so that 'now' is at x = 0."""
        plot.addItem(self.scroller)
        self.rasters: dict[float, _Raster] = {}
        """Sampling rate → that rate group's lanes."""
        self.markers = _Markers()
        self.markers.setParentItem(self.scroller)
        plot.setTitle(f"{SIDE_NAMES[side]} foot", size="9pt")
        plot.setMouseEnabled(x=False, y=False)
        plot.disableAutoRange()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.getAxis("bottom").setLabel("s before now")

    def set_channels(self, channels: list[Channel]) -> None:
        self.channels = channels
        for raster in self.rasters.values():
            raster.key = None
        # A little padding keeps the lanes (repainted every frame) off the axes and title.
        self.plot.setYRange(-len(channels) + 0.5, 0.5, padding=0.02)
        self._label_lanes()

    def raster(self, fs_hz: float) -> _Raster:
        if fs_hz not in self.rasters:
            self.rasters[fs_hz] = _Raster()
            self.rasters[fs_hz].setParentItem(self.scroller)
        return self.rasters[fs_hz]

    def lane_of(self, label: str) -> int | None:
        for i, c in enumerate(self.channels):
            if c.label == label:
                return i
        return None

    def _label_lanes(self) -> None:
        ticks = []
        for i, c in enumerate(self.channels):
            scale = self.scales.get(c.label)
            unit = "µV" if c.unit == "uV" else c.unit
            text = c.label.split(" ", 1)[1] + (f" ±{scale:.2g} {unit}" if scale else "")
            ticks.append((-i, text))
        self.plot.getAxis("left").setTicks([ticks, []])

    def rescale(self, noise_floor: dict[str, float], peaks: Callable[[], dict[str, float]]) -> None:
        """Follow each channel's noise floor, ignoring changes under 30% so lanes do not jitter.

        Until the pipeline has measured a floor (its first seconds), the lane fits the signal shown.
        """
        changed = False
        shown: dict[str, float] | None = None
        for c in self.channels:
            floor = noise_floor.get(lane_key(c), 0.0)
            if math.isfinite(floor) and floor > 0:
                target = max(FLOOR_MULTIPLE * floor, MIN_SCALE[c.modality])
            else:
                shown = peaks() if shown is None else shown
                target = max(shown.get(c.label, 0.0), MIN_SCALE[c.modality])
            old = self.scales.get(c.label)
            if old is None or abs(target / old - 1) > 0.3:
                self.scales[c.label] = target
                changed = True
        if changed:
            self._label_lanes()


class SmoothClock:
    """Stream time to show, moving every frame although data arrive in blocks.

    Data come in jumps (50 ms blocks from the simulator, packets from a
    wearable); drawing 'now' as the newest sample would scroll in jerks. The
    shown time glides from where it was to the newest sample over the
    interval the last jump took, so it trails the data by at most one block
    and the newest columns are always filled.
    """

    def __init__(self) -> None:
        self.shown_s: float | None = None
        self._data_s = 0.0
        self._from_s = 0.0
        self._from_wall = 0.0
        self._interval_s = 0.1
        self._last_jump_wall: float | None = None

    def __call__(self, data_s: float, wall_s: float) -> float:
        if self.shown_s is None or data_s < self._data_s or data_s - self.shown_s > SCROLL_LAG_MAX_S:
            self.shown_s = self._from_s = self._data_s = data_s
            self._from_wall = wall_s
            self._last_jump_wall = wall_s
            return data_s
        if data_s != self._data_s:
            if self._last_jump_wall is not None:
                self._interval_s = min(max(wall_s - self._last_jump_wall, 0.005), 0.5)
            self._last_jump_wall = wall_s
            self._from_s, self._from_wall, self._data_s = self.shown_s, wall_s, data_s
        k = min(1.0, (wall_s - self._from_wall) / self._interval_s)
        self.shown_s = self._from_s + k * (self._data_s - self._from_s)
        return self.shown_s


class TraceView(pg.GraphicsLayoutWidget):
    """Scrolling filtered signals of both feet; ``refresh(now_s)`` draws one frame."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        # Only the plot areas change each frame; nothing here is antialiased, so Qt need not widen
        # what it repaints by 2 px (which would take the axes and titles along every frame).
        self.setOptimizationFlag(QtWidgets.QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.window_s = 10.0
        self.feet: dict[str, _FootPlot] = {}
        self.slots: dict[str, TraceSlot] = {}
        self.all_channels: list[Channel] = []
        self.hidden: set[str] = set()
        self.events: deque[Event] = deque(maxlen=MAX_MARKERS)
        self.clock = SmoothClock()
        self._markers_stale = False
        self._book_version = -1
        self._frame = 0

    def set_channels(self, channels: tuple[Channel, ...], slots: dict[str, TraceSlot]) -> None:
        self.clear()
        self.feet = {}
        self.slots = slots
        self.all_channels = list(channels)
        self.events.clear()
        self.clock = SmoothClock()
        sides = sorted({c.side for c in channels})
        for col, side in enumerate(sides):
            foot = _FootPlot(self.addPlot(row=0, col=col), side)
            axis = foot.plot.getAxis("left")
            axis.setWidth(125)
            axis.setStyle(textFillLimits=[(0, 1.0)])  # one label per lane, however many lanes
            # Ticks outside the plot: inward ticks put the axes inside the scrolling area, repainted every frame.
            for name in ("left", "bottom"):
                foot.plot.getAxis(name).setStyle(tickLength=5)
            foot.plot.setXRange(-self.window_s, 0, padding=0)
            self.feet[side] = foot
        self._assign()

    def set_hidden(self, labels: set[str]) -> None:
        self.hidden = set(labels)
        self._assign()

    def set_window(self, window_s: float) -> None:
        self.window_s = window_s
        for foot in self.feet.values():
            foot.plot.setXRange(-window_s, 0, padding=0)

    def add_events(self, events: list[Event]) -> None:
        now_s = max((e.end_s for e in events), default=0.0)
        self.events.extend(events)
        while self.events and self.events[0].end_s < now_s - WINDOW_MAX_S:
            self.events.popleft()
        self._markers_stale = True

    def _assign(self) -> None:
        self._markers_stale = True
        for side, foot in self.feet.items():
            # EMG lanes first, then accelerometer axes, in the source's order.
            lanes = [c for c in self.all_channels if c.side == side and c.label not in self.hidden]
            foot.set_channels(sorted(lanes, key=lambda c: c.modality != "EMG"))
            foot.groups = {}
            for lane, c in enumerate(foot.channels):
                slot = self.slots[c.label]
                foot.groups.setdefault(slot.fs_hz, _Group(slot.ring)).add(lane, c, slot.row)

    def refresh(self, now_s: float, noise_floor: dict[str, float], book: TwitchBook | None = None,
                wall_s: float = 0.0) -> int:
        """Draw the window ending at stream time ``now_s`` (the newest data); returns the number of new
        min/max values computed. ``book``: provisional and withdrawn twitches to mark."""
        shown_s = self.clock(now_s, wall_s)
        self._frame += 1
        points = 0
        markers_changed = self._markers_stale or (book is not None and (book.fading or
                                                                        book.version != self._book_version))
        if book is not None:
            self._book_version = book.version
        for foot in self.feet.values():
            foot.scroller.setPos(-shown_s, 0)
            view = foot.plot.getViewBox()
            width_px, height_px = max(50, int(view.width())), max(20, int(view.height()))
            points += self._draw_foot(foot, width_px, height_px, noise_floor)
            inset_s = 2 * self.window_s / width_px  # off the left axis's edge pixel, and off the right edge
            view_s = (shown_s - self.window_s + inset_s, shown_s - inset_s)
            for raster in foot.rasters.values():
                raster.set_view(*view_s)
            if markers_changed:
                foot.markers.view_s = view_s
                self._draw_events(foot, book, wall_s)
            else:
                foot.markers.set_view(*view_s)
        self._markers_stale = False
        return points

    def _draw_foot(self, foot: _FootPlot, width_px: int, height_px: int, noise_floor: dict[str, float]) -> int:
        groups = foot.groups
        if self._frame % RESCALE_EVERY_FRAMES == 0 or len(foot.scales) < len(foot.channels):
            foot.rescale(noise_floor, lambda: self._peaks(groups))
        lane_px = max(4, round(height_px / max(len(foot.channels), 1)))
        points = 0
        for fs, group in groups.items():
            raster = foot.raster(fs)
            per_column = math.ceil(self.window_s * fs / width_px)
            n_cols = math.ceil((self.window_s + SCROLL_LAG_MAX_S) * fs / per_column) + 1
            scales = tuple(foot.scales.get(c.label, MIN_SCALE[c.modality]) for c in group.channels)
            key = (per_column, n_cols, lane_px, group.top, group.bottom, group.labels, scales)
            if raster.key != key:
                raster.reset(key, (group.bottom - group.top + 1) * lane_px, n_cols, per_column, fs, group.top,
                             group.bottom)
                group.scale = np.array(scales)[:, None]
            points += raster.append(group.ring, group.rows, group.scale, group.lanes, lane_px, group.colours)
        for fs, raster in foot.rasters.items():
            if fs not in groups and raster.columns is not None:
                raster.columns.clear()
                raster.key = None
                raster.update()
        return points

    def _peaks(self, groups: dict[float, "_Group"]) -> dict[str, float]:
        """Largest absolute sample per channel over the window (only until the noise floors are known)."""
        out = {}
        for fs, group in groups.items():
            ring = group.ring
            samples, _ = ring.window(ring.end - math.ceil(self.window_s * fs), ring.end, group.rows)
            if samples.shape[1]:
                out.update({c.label: float(v) for c, v in zip(group.channels, np.abs(samples).max(axis=1))})
        return out

    def _draw_events(self, foot: _FootPlot, book: TwitchBook | None, wall_s: float) -> None:
        """Markers in stream time: they scroll with the lanes, so they are rebuilt only when events,
        provisional twitches or lanes change (and while a withdrawn twitch fades)."""
        lanes = {c.label: i for i, c in enumerate(foot.channels)}
        kinds = {k: i for i, k in enumerate(KIND_COLOURS)}
        final = [(e.onset_s, e.end_s, lanes[e.channel], kinds.get(e.kind, 0)) for e in self.events
                 if e.side == foot.side and e.channel in lanes]
        open_, gone = [], []
        if book is not None:
            open_ = [(e.onset_s, lanes[e.channel]) for e in book.provisional.values()
                     if e.side == foot.side and e.channel in lanes]
            gone = [(w.event.onset_s, lanes[w.event.channel], w.opacity(wall_s)) for w in book.withdrawn.values()
                    if w.event.side == foot.side and w.event.channel in lanes]
        foot.markers.set_markers(np.array(final, float).reshape(-1, 4), np.array(open_, float).reshape(-1, 2),
                                 np.array(gone, float).reshape(-1, 3), len(foot.channels))
