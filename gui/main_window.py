"""The monitor window: widgets composed around one LiveSession, redrawn by a timer.

The timer (``FRAME_HZ``) is the only thing that draws: it takes the events
the worker made final since the last frame, adds them to the Tally (the
same one ``analyze`` reports from) and redraws from the ring buffers. Data
arriving faster or slower never changes how often the screen is drawn.
Twitches of still-open episodes are shown at once as provisional
(``gui.provisional``) and confirmed or withdrawn when their episode is
final; only final events are counted.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Callable

from pyqtgraph.Qt import QtCore, QtWidgets

from fascdetect.config import DetectorConfig
from fascdetect.errors import FascdetectError
from fascdetect.model import Event
from fascdetect.sources import Source
from fascdetect.sources.spec import parse_source_spec
from fascdetect.tally import Tally
from gui.channel_list import ChannelList
from gui.controls import Controls
from gui.counts_table import CountsTable
from gui.cramp_alert import CrampAlert
from gui.foot_map import FootMap
from gui.provisional import LatencyMeter, TwitchBook, twitch_key
from gui.session import LiveSession, region_states
from gui.settings_view import SettingsView
from gui.status_bar import MonitorStatusBar
from gui.timeline import Timeline
from gui.traces import TraceView

log = logging.getLogger(__name__)

FRAME_HZ = 30.0
TABLES_EVERY_FRAMES = 10
"""Text tables change slowly and cost more to update than the traces: refreshed every 10th frame (3 Hz)."""
TRIM_EVERY_S = 60.0
"""How often freed heap memory is handed back to the system (see ``release_freed_memory``)."""
HISTORY_S = 30.0
"""Ring-buffer length: the longest trace window offered."""


def _libc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return None


_MALLOC_TRIM = _libc_trim()


def release_freed_memory() -> None:
    """Give memory freed by Python, numpy and Qt back to the system.

    With a worker thread and a UI thread, glibc's allocator keeps the peak of
    each arena: after a burst of temporary arrays (a long cramp's episode
    re-classified) RSS steps up and stays there, although the memory is
    free. Measured over an 8 h replay at 10×: RSS 216 → 271 MB in steps;
    after a trim it falls back to the live size.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class FrameMeter:
    """Frames drawn per second over the last second."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.count = 0

    def tick(self) -> None:
        now = time.monotonic()
        self.times.append(now)
        self.count += 1
        while self.times and self.times[0] < now - 1.0:
            self.times.popleft()

    @property
    def per_s(self) -> float:
        return float(len(self.times))


class MonitorWindow(QtWidgets.QMainWindow):
    """``open_spec`` turns a source spec into a Source (called on the worker thread)."""

    def __init__(self, open_spec: Callable[[str], Source], scenarios: tuple[str, ...] = (),
                 config: DetectorConfig | None = None, window_s: float = 10.0) -> None:
        super().__init__()
        self.setWindowTitle("fascdetect monitor")
        self.open_spec = open_spec
        self.config = config or DetectorConfig()
        self.session: LiveSession | None = None
        self._shown: LiveSession | None = None
        """The session the widgets are built for; its events are taken only from then on."""
        self.tally = Tally([])
        self.counted_from_s = 0.0
        """Stream time of the last reset: session averages are per minute since then."""
        self.frames = FrameMeter()
        self.points_drawn = 0
        """Trace min/max values computed since the window opened (for the frame-cost figures)."""
        self.book = TwitchBook()
        self._provisional: list[Event] = []
        self._states_from: dict[str, str] | None = None
        self.latency = LatencyMeter()

        self.controls = Controls(scenarios, window_s)
        self.alert = CrampAlert()
        self.foot_map = FootMap()
        self.foot_map.on_painted = self.latency.painted
        self.counts = CountsTable()
        self.settings = SettingsView()
        self.settings.show_config(self.config)
        self.channel_list = ChannelList()
        self.traces = TraceView()
        self.traces.set_window(window_s)
        self.timeline = Timeline()
        self.status = MonitorStatusBar()
        self.setStatusBar(self.status)
        self._layout()

        self.controls.source_requested.connect(self.open_source)
        self.controls.recording_requested.connect(self._recording_requested)
        self.controls.reset_requested.connect(self.reset_counts)
        self.controls.window_changed.connect(self.traces.set_window)
        self.controls.sound_changed.connect(lambda on: setattr(self.alert, "audible", on))
        self.controls.settings_requested.connect(lambda: self.tabs.setCurrentWidget(self.settings))
        self.controls.message.connect(lambda text: self.status.showMessage(text, 15000))
        self.channel_list.hidden_changed.connect(self.traces.set_hidden)

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(round(1000 / FRAME_HZ))
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.trim_timer = QtCore.QTimer(self)
        self.trim_timer.setInterval(round(TRIM_EVERY_S * 1000))
        self.trim_timer.timeout.connect(release_freed_memory)
        self.trim_timer.start()

    def _layout(self) -> None:
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.counts, "Counts")
        self.tabs.addTab(self.settings, "Detector settings")
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self.foot_map)
        top.addWidget(self.tabs)
        top.setSizes([640, 560])
        middle = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        middle.addWidget(self.channel_list)
        middle.addWidget(self.traces)
        middle.setSizes([230, 970])
        rows = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        for widget in (top, middle, self.timeline):
            rows.addWidget(widget)
        rows.setSizes([330, 420, 150])
        central = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.controls)
        column.addWidget(self.alert)
        column.addWidget(rows, 1)
        self.setCentralWidget(central)

    # -- sources -------------------------------------------------------------------
    def open_source(self, spec: str) -> None:
        """Switch to the source ``spec`` names; a malformed spec is reported and the current source kept."""
        try:
            parse_source_spec(spec)
        except FascdetectError as exc:
            self.status.showMessage(str(exc), 10000)
            return
        self.start_session(lambda: self.open_spec(spec), spec)

    def start_session(self, opener: Callable[[], Source], description: str) -> None:
        """Stop the current source (closing its recording) and start ``opener()``'s."""
        self.stop_session()
        self.session = LiveSession(opener, description, self.config, HISTORY_S)
        self.session.opened.connect(self._opened)
        self.session.ended.connect(self._ended)
        self.session.recording_changed.connect(self._recording_changed)
        self.session.twitched.connect(self._twitched)
        self.controls.set_recording(False)
        self.session.start()

    def stop_session(self) -> None:
        if self.session is not None:
            self.session.opened.disconnect(self._opened)
            self.session.ended.disconnect(self._ended)
            self.session.recording_changed.disconnect(self._recording_changed)
            self.session.twitched.disconnect(self._twitched)
            self.session.stop()
            self.session = self._shown = None

    def _opened(self) -> None:
        session = self.session
        if session is None or not session.channels:
            return  # a session replaced before its opening reached us
        regions = [(c.side, c.region) for c in session.channels]
        self.tally = Tally(regions)
        self.counted_from_s = 0.0
        self.foot_map.set_sensed(set(regions))
        self.channel_list.set_channels(session.channels)
        self.traces.set_channels(session.channels, session.traces)
        self.timeline.set_rows(list(self.tally.counts))
        self.alert.clear()
        self.book.clear()
        self._provisional = []
        self._shown = session

    def _ended(self, error: str) -> None:
        """The worker has queued its last events before this arrives: show them all now."""
        self.refresh()
        self.refresh_tables()
        if error:
            self.status.showMessage(f"source ended: {error}", 30000)

    # -- user actions ----------------------------------------------------------------
    def _recording_requested(self, path: str) -> None:
        if self.session is None:
            self.controls.set_recording(False)
        elif path:
            self.session.start_recording(path)
        else:
            self.session.stop_recording()

    def _recording_changed(self, path: str, error: str) -> None:
        self.controls.set_recording(bool(path))
        if error:
            self.status.showMessage(error, 30000)

    def reset_counts(self) -> None:
        self.counted_from_s = self.session.status().data_s if self.session is not None else 0.0
        self.tally = Tally(list(self.tally.counts), origin_s=self.counted_from_s)
        self.foot_map.reset()
        self.timeline.clear_events()
        self.alert.clear()

    # -- drawing ---------------------------------------------------------------------
    def refresh(self) -> None:
        session = self.session
        if session is None:
            return
        status = session.status()
        ongoing: list[Event] = []
        if session is self._shown:
            self._take_snapshot(session)
            ongoing = [e for e in self._provisional if e.kind == "cramp"]
        now_s = status.data_s
        if session is self._shown and self.traces.feet:
            self.points_drawn += self.traces.refresh(now_s, status.noise_floor, self.book, time.monotonic())
            self.foot_map.set_rates({key: self.tally.recent_rate_per_min(*key, now_s) for key in self.tally.counts})
            if status.states is not self._states_from:  # a new snapshot comes with each block, not each frame
                self._states_from = status.states
                self.foot_map.set_states(region_states(status.states, session.channels))
            self.foot_map.set_cramps(ongoing, [])
            self.alert.show_cramps(ongoing, [])
            self.foot_map.refresh()
            self.timeline.refresh(now_s)
            if self.frames.count % TABLES_EVERY_FRAMES == 0:
                self.refresh_tables()
        self.status.show_status(session.description, status, self.frames.per_s)
        self.frames.tick()

    def _take_snapshot(self, session: LiveSession) -> None:
        """Final events into the tally, open episodes into the book; fresh twitches flash the foot map."""
        provisional, events = session.take()
        self._provisional = provisional
        if events:
            self._take_events(events)
        fresh = self.book.update(provisional, events, time.monotonic())
        for i, e in enumerate(fresh):
            self.foot_map.flash(e.side, e.region)
            arrival, published = session.arrivals.get(twitch_key(e), (None, None))
            self.latency.taken(arrival, published, provisional=i >= self.book.fresh_final)

    def _twitched(self) -> None:
        """A twitch is ready: show it on the foot map now instead of at the next frame (up to 33 ms later);
        the traces mark it at that frame."""
        session = self.session
        if session is not None and session is self._shown and self.traces.feet:
            self._take_snapshot(session)
            self.foot_map.refresh()

    def refresh_tables(self) -> None:
        if self.session is not None and self.session is self._shown:
            status = self.session.status()
            self.counts.refresh(self.tally, status.data_s, status.data_s - self.counted_from_s,
                                region_states(status.states, self.session.channels), self.session.unit_cells())
            self.channel_list.refresh(status.noise_floor, status.mains_uv, status.clipped_s, status.states)

    def _take_events(self, events: list[Event]) -> None:
        self.tally.add(events)
        self.traces.add_events(events)
        self.timeline.add_events(events)
        cramps = [e for e in events if e.kind == "cramp"]
        if cramps:
            self.foot_map.set_cramps([], cramps)
            self.alert.show_cramps([], cramps)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.trim_timer.stop()
        self.stop_session()
        super().closeEvent(event)
