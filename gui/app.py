"""Starting the monitor: the Qt application, the window, and the timed screenshot mode.

``run_monitor`` is what ``fascdetect monitor`` calls. With a screenshot
path it runs headless (``QT_QPA_PLATFORM=offscreen`` unless a platform is
already chosen) for a fixed time, saves the window as PNG (owner-readable
only: it shows health data) and measures the frame rate and CPU use; with a
duration alone the window is shown for that long and measured the same way.
Both print the twitch-to-screen latency (``gui.provisional.LatencyMeter``).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fascdetect.config import DetectorConfig
from fascdetect.errors import InputError
from fascdetect.sources import Source

WINDOW_SIZE = (1500, 950)


@dataclass(frozen=True)
class RunFigures:
    """What a timed run achieved: frames/s, CPU of the UI thread (drawing) and of the whole process, % of one core."""

    seconds: float
    frames_per_s: float
    ui_cpu_pct: float
    process_cpu_pct: float
    points_per_frame: float

    def line(self) -> str:
        return (f"{self.frames_per_s:.1f} frames/s over {self.seconds:.1f} s; drawing (UI thread) "
                f"{self.ui_cpu_pct:.0f}% of one core, whole process {self.process_cpu_pct:.0f}%; "
                f"{self.points_per_frame:.0f} new trace points per frame")


def application():
    """The QApplication (created once), with pyqtgraph's speed-over-beauty options for long sessions."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return pg.mkQApp("fascdetect monitor")


def save_png(widget, path: str | Path) -> Path:
    """The widget as it looks now, as PNG written owner-readable only."""
    from pyqtgraph.Qt import QtCore

    path = Path(path)
    data = QtCore.QByteArray()
    buffer = QtCore.QBuffer(data)
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not widget.grab().save(buffer, "PNG"):
        raise InputError(f"could not render the screenshot for {path}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(bytes(data))
    return path


def measure(window, seconds: float) -> RunFigures:
    """Run the event loop for ``seconds`` and report what the window achieved meanwhile."""
    from pyqtgraph.Qt import QtCore

    app = application()
    frames0 = window.frames.count
    points0 = window.points_drawn
    wall0, ui0, proc0 = time.monotonic(), time.thread_time(), time.process_time()
    loop = QtCore.QEventLoop()
    timer = QtCore.QTimer()
    timer.setSingleShot(True)
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)  # a coarse timer may end a long run 5% early
    timer.timeout.connect(loop.quit)
    timer.start(round(seconds * 1000))
    loop.exec()
    app.processEvents()
    wall = time.monotonic() - wall0
    frames = window.frames.count - frames0
    return RunFigures(wall, frames / wall, 100 * (time.thread_time() - ui0) / wall,
                      100 * (time.process_time() - proc0) / wall, (window.points_drawn - points0) / max(frames, 1))


def run_monitor(spec: str, open_spec: Callable[[str], Source], scenarios: tuple[str, ...],
                config: DetectorConfig | None = None, window_s: float = 10.0,
                screenshot: Path | None = None, duration_s: float | None = None) -> int:
    """Open the window on ``spec``; with ``duration_s``, stop after it and print figures (with ``screenshot``,
    headless, saving the window first; 10 s if no duration is given)."""
    if screenshot is not None and duration_s is None:
        duration_s = 10.0
    window = None
    asked_to_stop = False
    if duration_s is None:
        # Qt's loop does not return to Python for signals on its own; the frame timer does, 30 times a
        # second, so Ctrl-C or a SIGTERM closes the window (and any recording) cleanly, also while it
        # is still being built.
        def stop(*_) -> None:
            nonlocal asked_to_stop
            asked_to_stop = True
            if window is not None:
                window.close()

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
    if screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = application()
    from gui.main_window import MonitorWindow

    window = MonitorWindow(open_spec, scenarios, config, window_s)
    window.resize(*WINDOW_SIZE)
    window.show()
    window.open_source(spec)
    if duration_s is None:
        if not asked_to_stop:
            app.exec()
        window.close()
        window.stop_session()
        return 0
    try:
        figures = measure(window, duration_s)
        path = save_png(window, screenshot) if screenshot is not None else None
        status = window.status.text()
        counts = window.tally.summary(window.session.status().data_s if window.session else 0.0)
    finally:
        window.close()
    print(f"saved {path}; {figures.line()}" if path is not None else figures.line())
    print(window.latency.line())
    print(f"status: {status}")
    print(f"events: {counts['twitches']} twitches, {counts['bursts']} bursts, {counts['cramps']} cramps")
    return 0
