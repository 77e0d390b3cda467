"""LiveSession: a Source run through the Pipeline on a worker thread.

The worker owns the source, the pipeline and the recording file; it leaves
filtered samples in ring buffers, and after every block the final events
and the pipeline's classification of still-open episodes
(``Pipeline.provisional_events``) as one snapshot; the UI thread takes them
at its own pace (``take``, ``status``). Opening the source happens on the
worker too, because a Bluetooth connection can take seconds.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from pyqtgraph.Qt import QtCore

from fascdetect.config import DetectorConfig
from fascdetect.errors import FascdetectError
from fascdetect.model import Block, Channel, Event
from fascdetect.pipeline import Pipeline
from fascdetect.sources import Source
from fascdetect.units import NOT_A_UNIT, UnitSorter
from gui.provisional import twitch_key
from gui.recording import LiveRecording
from gui.ring import SampleRing

log = logging.getLogger(__name__)

STALL_S = 3.0
"""No block for this long (wall time) is shown as a stalled stream."""
PROVISIONAL_DUTY = 9.0
"""After classifying the open episodes took t, the next classification waits until 9·t has passed (unless
events became final): at most a tenth of the worker's time. Usually that is every block (~0.1 ms each); during
a cramp the open episode holds thousands of discharges and one classification can take 100-200 ms."""
ARRIVALS_KEPT_S = 60.0
"""Block arrival times are kept this long (stream time) to date each twitch's last sample."""


@dataclass(frozen=True)
class TraceSlot:
    """Where one channel's filtered samples live."""

    ring: SampleRing
    row: int
    fs_hz: float


@dataclass
class SessionStatus:
    """What the status bar and quality panel show; a snapshot, safe to read on the UI thread."""

    state: str = "connecting"
    data_s: float = 0.0
    battery_pct: float | None = None
    loss_pct: float = 0.0
    noise_floor: dict[str, float] = field(default_factory=dict)
    mains_hz: list[float] = field(default_factory=list)
    mains_uv: dict[str, float] = field(default_factory=dict)
    clipped_s: dict[str, float] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    """Lane (EMG label or ``ACC side-region``) → rest | active | movement | unusable (``Pipeline.channel_states``;
    empty where the pipeline does not report states)."""
    recording: Path | None = None
    recording_bytes: int = 0
    error: str = ""


class LiveSession(QtCore.QObject):
    """Runs ``open_source()`` through a Pipeline until the source ends or ``stop()``.

    ``history_s`` sizes the ring buffers (the longest display window).
    Signals are emitted from the worker and delivered on the UI thread.
    """

    opened = QtCore.Signal()
    """Channels are known (``channels``, ``traces`` are set)."""
    ended = QtCore.Signal(str)
    """The stream ended: empty string, or the error message for the user."""
    recording_changed = QtCore.Signal(str, str)
    """(path now recorded to, or ''; why a recording could not start, or '')."""
    twitched = QtCore.Signal()
    """A snapshot holds a twitch not handed over before: the window takes it now rather than at its next frame."""

    def __init__(self, open_source: Callable[[], Source], description: str, config: DetectorConfig | None = None,
                 history_s: float = 30.0) -> None:
        super().__init__()
        self.open_source = open_source
        self.description = description
        self.config = config or DetectorConfig()
        self.history_s = history_s
        self.channels: tuple[Channel, ...] = ()
        self.traces: dict[str, TraceSlot] = {}
        self.provisional: list[Event] = []
        """Events of the episodes not final yet, as the pipeline classifies them after the latest block
        (they may still change); replaced together with the final events under ``_lock``."""
        self.arrivals: dict[tuple, tuple[float, float]] = {}
        """Twitch key (``gui.provisional.twitch_key``) → wall times (monotonic) its last sample arrived and the
        worker first handed it to the window (the difference is the pipeline's part of the latency)."""
        self._lock = threading.Lock()
        self._handed: set[tuple] = set()
        """Keys of the twitches handed to the window so far (recent ones)."""
        self._block_arrivals: dict[float, deque[tuple[int, float]]] = {}
        self._stream_start_s: float | None = None
        self._lane_fs: dict[str, float] = {}
        self._events: deque[Event] = deque()
        self._status = SessionStatus()
        self._commands: queue.SimpleQueue[tuple[str, Path | None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._source: Source | None = None
        self._thread = threading.Thread(target=self._run, name="fascdetect-monitor-worker", daemon=True)
        self._recording: LiveRecording | None = None
        self._gap_samples = 0
        self._samples = 0
        self._last_block_wall = 0.0
        self.units: UnitSorter | None = None
        """Putative motor units, provisional while streaming (issue 13; the worker feeds it)."""

    # -- UI thread --------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the worker to end (the recording is closed, the pipeline flushed) and wait for it."""
        self._stop.set()
        if self._source is not None:
            self._source.close()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def drain_events(self) -> list[Event]:
        """Final events since the last call, in the order the pipeline made them."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
        return out

    def unit_cells(self) -> dict[tuple[str, str], str]:
        """(side, region) → '2 · last R-ADM/~1': provisional motor units so far and the one that fired last
        ('0 · last twitch unassigned' while its twitches belong to no unit yet)."""
        units = self.units
        if units is None:
            return {}
        last = {key: "twitch unassigned" if label == NOT_A_UNIT else label for key, label in units.last_fired.items()}
        return {key: f"{n} · last {last[key]}" if key in last else str(n) for key, n in units.live_units().items()}

    def take(self) -> tuple[list[Event], list[Event]]:
        """(open episodes' events as they stand, final events since the last call), from one pipeline state:
        an episode is in exactly one of the two, so a twitch never seems to vanish between them."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
            return self.provisional, out

    def status(self) -> SessionStatus:
        """The worker's latest snapshot, with the link state and battery read live from the source
        (during a link outage no blocks arrive to update the snapshot)."""
        status = self._status
        source = self._source
        if status.state in ("ended", "error") or source is None:
            return status
        state = link_state(source)
        quiet_s = time.monotonic() - self._last_block_wall
        if state != "reconnecting" and self._last_block_wall and quiet_s > STALL_S:
            state = f"no data for {quiet_s:.0f} s"
        return replace(status, state=state, battery_pct=getattr(source, "battery_pct", None))

    def start_recording(self, path: str | Path) -> None:
        """Record to EDF+ at ``path`` from the next whole second of stream time.

        The file is created by the worker, which reports the outcome with ``recording_changed``.
        """
        self._commands.put(("record", Path(path)))

    def stop_recording(self) -> None:
        self._commands.put(("stop-recording", None))

    # -- worker -----------------------------------------------------------------
    def _run(self) -> None:
        error = ""
        try:
            self._source = source = self.open_source()
            if self._stop.is_set():
                source.close()
                return
            pipeline = Pipeline(source.channels, self.config)
            self.units = UnitSorter(source.channels, detector=pipeline.config)
            self._prepare(source.channels)
            self._status.state = "running"
            self._emit(self.opened)
            self._stream(source, pipeline)
        except FascdetectError as exc:
            error = str(exc)
            log.warning("monitor source %s: %s", self.description, exc)
        except Exception as exc:  # a bug: keep the traceback in the log, tell the user, keep the window alive
            error = f"internal error ({type(exc).__name__}: {exc}); see the log"
            log.exception("monitor worker failed on %s", self.description)
        finally:
            if self._source is not None:
                self._source.close()
            self._close_recording()
            self._status.state = "error" if error else "ended"
            self._status.error = error
            self._emit(self.ended, error)

    def _prepare(self, channels: tuple[Channel, ...]) -> None:
        self.channels = channels
        for c in channels:
            self._lane_fs[c.label] = self._lane_fs[lane_key(c)] = c.fs_hz
            self._block_arrivals.setdefault(c.fs_hz, deque())
        by_rate: dict[float, list[Channel]] = {}
        for c in channels:
            by_rate.setdefault(c.fs_hz, []).append(c)
        for fs, group in by_rate.items():
            ring = SampleRing(len(group), max(1, math.ceil(self.history_s * fs)))
            for row, c in enumerate(group):
                self.traces[c.label] = TraceSlot(ring, row, fs)

    def _stream(self, source: Source, pipeline: Pipeline) -> None:
        next_provisional = 0.0
        try:
            for block in source.blocks():
                arrived = time.monotonic()
                if self._stop.is_set():
                    break
                self._note_arrival(block, arrived)
                self._handle_commands(source, block)
                if self._recording is not None:
                    self._recording.write(block)
                step = pipeline.feed(block)
                if self.units is not None:
                    self.units.feed(block, step.filtered, step.events, pipeline.earliest_open_s)
                provisional = None
                # Final events always come with a fresh classification, so the two never overlap.
                if step.events or time.monotonic() >= next_provisional:
                    t0 = time.perf_counter()
                    provisional = pipeline.provisional_events()
                    next_provisional = time.monotonic() + PROVISIONAL_DUTY * (time.perf_counter() - t0)
                self._publish(block, step.filtered, step.events, provisional)
                self._update_status(source, pipeline, block)
        finally:
            self._publish(None, None, pipeline.flush(), [])

    def _note_arrival(self, block: Block, wall_s: float) -> None:
        if self._stream_start_s is None:
            self._stream_start_s = block.start / block.fs_hz
        arrivals = self._block_arrivals[block.fs_hz]
        arrivals.append((block.end, wall_s))
        while arrivals and arrivals[0][0] < block.end - ARRIVALS_KEPT_S * block.fs_hz:
            arrivals.popleft()

    def _arrival_of(self, e: Event) -> float | None:
        """Wall time at which the block holding the event's last sample arrived."""
        fs = self._lane_fs.get(e.channel)
        if fs is None:
            return None
        last = round(e.end_s * fs) - 1
        found = None
        for end, wall_s in reversed(self._block_arrivals[fs]):
            if end <= last:
                break
            found = wall_s
        return found

    def _publish(self, block: Block | None, filtered: Block | None, events: list[Event],
                 provisional: list[Event] | None) -> None:
        """Ring buffers, then final events and open episodes as one snapshot (``provisional`` None: unchanged)."""
        now = time.monotonic()
        fresh = False
        for e in events + (provisional or []):
            if e.kind == "twitch":
                key = twitch_key(e)
                if key not in self._handed:
                    fresh = True
                    self._handed.add(key)
                    arrival = self._arrival_of(e)
                    # The first seconds are held back while the pipeline probes for mains (a start-up
                    # cost, not the display's): twitches in them are not timed.
                    if arrival is not None and e.end_s - self._stream_start_s >= self.config.mains_probe_s:
                        self.arrivals[key] = (arrival, now)
        if len(self.arrivals) > 4096:
            cutoff = now - ARRIVALS_KEPT_S
            self.arrivals = {k: t for k, t in self.arrivals.items() if t[0] >= cutoff}
        if len(self._handed) > 4096:
            newest_s = max(onset_s for _, _, onset_s in self._handed)
            self._handed = {k for k in self._handed if k[2] >= newest_s - ARRIVALS_KEPT_S}
        if filtered is not None:
            rows_by_ring: dict[int, tuple[SampleRing, list[int]]] = {}
            for i, c in enumerate(filtered.channels):
                slot = self.traces[c.label]
                rows_by_ring.setdefault(id(slot.ring), (slot.ring, []))[1].append(i)
            for ring, rows in rows_by_ring.values():
                ring.write(filtered.data[rows], filtered.start)
        if events and self._recording is not None:
            self._recording.add_events(events)
        with self._lock:
            self._events.extend(events)
            if provisional is not None:
                self.provisional = provisional
        if fresh and block is not None:
            self._emit(self.twitched)

    def _update_status(self, source: Source, pipeline: Pipeline, block: Block) -> None:
        if block.fs_hz == self.channels[0].fs_hz:
            self._samples += block.n
            self._gap_samples += 0 if block.gap is None else int(block.gap.sum())
        rec = self._recording
        self._last_block_wall = time.monotonic()
        self._status = SessionStatus(
            state="running",
            data_s=max(self._status.data_s, block.end / block.fs_hz),
            loss_pct=100.0 * self._gap_samples / max(self._samples, 1),
            noise_floor=pipeline.noise_floor(),
            mains_uv=pipeline.mains_levels(),
            mains_hz=pipeline.mains_hz(),
            clipped_s={label: r.samples / self.traces[label].fs_hz for label, r in pipeline.clip_reports().items()},
            states=self._states(pipeline),
            recording=None if rec is None else rec.path,
            recording_bytes=0 if rec is None else rec.size_bytes,
            error=self._status.error,
        )

    def _states(self, pipeline: Pipeline) -> dict[str, str]:
        channel_states = getattr(pipeline, "channel_states", None)  # a pipeline without rest states shows none
        return channel_states(self.provisional) if channel_states is not None else {}

    def _handle_commands(self, source: Source, block: Block) -> None:
        while not self._commands.empty():
            command, path = self._commands.get()
            self._close_recording()
            if command == "record" and path is not None:
                try:
                    self._recording = LiveRecording.from_block(path, source.channels, source.start, block)
                except FascdetectError as exc:
                    self._emit(self.recording_changed, "", f"cannot record to {path}: {exc}")
                else:
                    self._emit(self.recording_changed, str(self._recording.path), "")

    def _emit(self, signal: QtCore.SignalInstance, *args: object) -> None:
        """Emit, unless the application has already deleted this object (a window closed
        without stopping its session, at interpreter exit); the worker then just ends."""
        try:
            signal.emit(*args)
        except RuntimeError:
            log.debug("session deleted before its worker ended; %s not delivered", signal)

    def _close_recording(self) -> None:
        if self._recording is not None:
            self._recording.close()
            log.info("recording closed: %s", self._recording.path)
            self._recording = None
            self._emit(self.recording_changed, "", "")


def lane_key(channel: Channel) -> str:
    """The pipeline's lane of a channel: its label for EMG, ``ACC side-region`` for an accelerometer axis
    (the key of noise floors, channel states and accelerometer events)."""
    return channel.label if channel.modality == "EMG" else f"ACC {channel.side}-{channel.region}"


STATE_ORDER = ("rest", "active", "movement", "unusable")


def region_states(states: dict[str, str], channels: tuple[Channel, ...] | list[Channel]) -> dict[tuple[str, str], str]:
    """(side, region) → its state: rest if any lane that counts its twitches (its EMG, else its accelerometer)
    is at rest, else the first of active, movement, unusable among them."""
    lanes: dict[tuple[str, str], set[str]] = {}
    for c in channels:
        lanes.setdefault((c.side, c.region), set()).add(lane_key(c))
    out = {}
    for key, keys in lanes.items():
        emg = {k for k in keys if not k.startswith("ACC ")}
        found = [states[k] for k in sorted(emg or keys) if k in states]
        if found:
            out[key] = min(found, key=lambda s: STATE_ORDER.index(s) if s in STATE_ORDER else len(STATE_ORDER))
    return out


def link_state(source: Source) -> str:
    """'connected' or 'reconnecting' for a wearable that keeps a list of link ``outages`` (BleSource),
    'running' for sources without a link (replay, simulator)."""
    outages = getattr(source, "outages", None)
    if outages is None:
        return "running"
    return "reconnecting" if outages and outages[-1].duration_s is None else "connected"


def provisional_cramps(pipeline: Pipeline) -> list[Event]:
    """Cramps still building: the pipeline reports a cramp only after it ends, too late for a live display."""
    return [e for e in pipeline.provisional_events() if e.kind == "cramp"]
