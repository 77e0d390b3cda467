"""Live traces: the pipeline's filtered signal per channel, scrolling, one plot per foot.

Every frame reduces each channel to its minimum and maximum per pixel
column and fills those spans into an image (``gui.raster``), whatever the
sampling rate and window, so 16 channels at 2 kHz cost the same to draw as
16 at 200 Hz. Each lane is scaled to its
channel's noise floor, so a twitch (≥ 3.5× the floor) stands out the same
on a quiet and a noisy electrode.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore

from fascdetect.model import Channel, Event
from fascdetect.regions import SIDE_NAMES
from gui.raster import lane_image
from gui.ring import minmax_decimate
from gui.session import TraceSlot

LANE_FILL = 0.46
"""Half the lane height a trace may use before it is clipped (lanes never overlap)."""
FLOOR_MULTIPLE = 15.0
"""A lane's half-height is this many noise floors: noise stays within ~1/4 of it, a twitch fills it."""
MIN_SCALE = {"EMG": 5.0, "ACC": 0.5}
LANE_COLOURS = {"EMG": (20, 20, 20), "ACC": (0, 120, 90)}
KIND_COLOURS = {"twitch": (0, 110, 230), "burst": (230, 130, 0), "cramp": (210, 0, 0), "movement": (120, 120, 120)}
MAX_MARKERS = 5000
WINDOW_MAX_S = 30.0
"""Events older than the longest window are dropped from the markers."""


def lane_key(channel: Channel) -> str:
    """The noise-floor key of a channel: its label for EMG, ``ACC side-region`` for an accelerometer axis."""
    return channel.label if channel.modality == "EMG" else f"ACC {channel.side}-{channel.region}"


class _FootPlot:
    """One foot: a lane per visible channel (one image per rate group) and event markers."""

    def __init__(self, plot: pg.PlotItem, side: str) -> None:
        self.plot = plot
        self.side = side
        self.channels: list[Channel] = []
        self.scales: dict[str, float] = {}
        self.images: dict[float, pg.ImageItem] = {}
        """Sampling rate → the image of that rate group's lanes."""
        self.markers = pg.ScatterPlotItem(size=9, symbol="t", pen=None)
        self.spans = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen((210, 0, 0, 160), width=4))
        for item in (self.markers, self.spans):
            plot.addItem(item)
        plot.setTitle(f"{SIDE_NAMES[side]} foot", size="9pt")
        plot.setMouseEnabled(x=False, y=False)
        plot.disableAutoRange()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.getAxis("bottom").setLabel("s")

    def set_channels(self, channels: list[Channel]) -> None:
        self.channels = channels
        for image in self.images.values():
            image.clear()
        self.plot.setYRange(-len(channels) + 0.5, 0.5, padding=0)
        self._label_lanes()

    def image(self, fs_hz: float) -> pg.ImageItem:
        if fs_hz not in self.images:
            self.images[fs_hz] = pg.ImageItem(axisOrder="row-major")
            self.images[fs_hz].setZValue(-1)  # under the event markers
            self.plot.addItem(self.images[fs_hz])
        return self.images[fs_hz]

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


class TraceView(pg.GraphicsLayoutWidget):
    """Scrolling filtered signals of both feet; ``refresh(now_s)`` draws one frame."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.window_s = 10.0
        self.feet: dict[str, _FootPlot] = {}
        self.slots: dict[str, TraceSlot] = {}
        self.all_channels: list[Channel] = []
        self.hidden: set[str] = set()
        self.events: deque[Event] = deque(maxlen=MAX_MARKERS)
        self._markers_stale = False

    def set_channels(self, channels: tuple[Channel, ...], slots: dict[str, TraceSlot]) -> None:
        self.clear()
        self.feet = {}
        self.slots = slots
        self.all_channels = list(channels)
        self.events.clear()
        sides = sorted({c.side for c in channels})
        for col, side in enumerate(sides):
            foot = _FootPlot(self.addPlot(row=0, col=col), side)
            axis = foot.plot.getAxis("left")
            axis.setWidth(125)
            axis.setStyle(textFillLimits=[(0, 1.0)])  # one label per lane, however many lanes
            self.feet[side] = foot
        self._assign()

    def set_hidden(self, labels: set[str]) -> None:
        self.hidden = set(labels)
        self._assign()

    def set_window(self, window_s: float) -> None:
        self.window_s = window_s

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

    def refresh(self, now_s: float, noise_floor: dict[str, float]) -> int:
        """Draw the window ending at stream time ``now_s``; returns the number of points drawn."""
        points = 0
        for foot in self.feet.values():
            foot.plot.setXRange(now_s - self.window_s, now_s, padding=0)
            width_px = max(50, int(foot.plot.getViewBox().width()))
            points += self._draw_foot(foot, width_px, noise_floor)
            if self._markers_stale:
                self._draw_events(foot)
        self._markers_stale = False
        return points

    def _draw_foot(self, foot: _FootPlot, width_px: int, noise_floor: dict[str, float]) -> int:
        groups: dict[float, list[tuple[int, Channel, TraceSlot]]] = {}
        for lane, c in enumerate(foot.channels):
            slot = self.slots[c.label]
            groups.setdefault(slot.fs_hz, []).append((lane, c, slot))
        drawn = []
        for fs, members in groups.items():
            ring = members[0][2].ring
            rows = [m[2].row for m in members]
            samples, first = ring.window(ring.end - math.ceil(self.window_s * fs), ring.end, rows)
            index, values = minmax_decimate(samples, first, math.ceil(self.window_s * fs / width_px))
            drawn.append((fs, members, index, values))
        foot.rescale(noise_floor, lambda: {c.label: float(np.abs(v).max()) for _, members, index, values in drawn
                                           if len(index) for (_, c, _), v in zip(members, values)})
        lane_px = max(4, round(foot.plot.getViewBox().height() / max(len(foot.channels), 1)))
        points = 0
        for fs, members, index, values in drawn:
            image = foot.image(fs)
            if not len(index):
                image.clear()
                continue
            scale = np.array([foot.scales.get(c.label, MIN_SCALE[c.modality]) for _, c, _ in members])[:, None]
            top, bottom = members[0][0], members[-1][0]
            pixels = lane_image(values[:, 0::2] / scale, values[:, 1::2] / scale, [m[0] - top for m in members],
                                bottom - top + 1, lane_px, [LANE_COLOURS[c.modality] for _, c, _ in members], LANE_FILL)
            image.setImage(pixels, autoLevels=False)
            x0, x1 = index[0] / fs, (index[-1] + 1) / fs
            image.setRect(QtCore.QRectF(x0, -bottom - 0.5, x1 - x0, bottom - top + 1))
            points += values.size
        return points

    def _draw_events(self, foot: _FootPlot) -> None:
        """Markers in stream time: they scroll with the view, so they are redrawn only when events or lanes change."""
        spots, spans = [], []
        for e in self.events:
            if e.side != foot.side:
                continue
            lane = foot.lane_of(e.channel)
            if lane is None:
                continue
            spots.append({"pos": (e.onset_s, -lane + LANE_FILL), "brush": pg.mkBrush(KIND_COLOURS[e.kind])})
            if e.duration_s > 0.05:
                spans.append((e.onset_s, -lane - LANE_FILL))
                spans.append((e.end_s, -lane - LANE_FILL))
        foot.markers.setData(spots)
        arr = np.array(spans, dtype=float).reshape(-1, 2)
        foot.spans.setData(arr[:, 0], arr[:, 1])
