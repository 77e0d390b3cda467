"""``fascdetect monitor`` from the command line: the headless screenshot mode and its errors."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyqtgraph.Qt import QtGui

ROOT = Path(__file__).resolve().parents[1]
LATENCY = re.compile(r"^twitch-to-screen latency: median (\d+|–) ms, p99 (\d+|–) ms \(n=(\d+)\)$", re.M)


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fascdetect", "monitor", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})})


def test_screenshot_mode_saves_the_window_and_reports_figures(tmp_path):
    out = tmp_path / "monitor.png"
    done = monitor("--source", "sim:post-exercise@4", "--screenshot", str(out), "--duration", "3s")
    assert done.returncode == 0, done.stderr
    m = re.search(r"([\d.]+) frames/s over ([\d.]+) s; drawing \(UI thread\) (\d+)% of one core", done.stdout)
    assert m, done.stdout
    assert float(m.group(1)) > 5 and float(m.group(2)) >= 2.9
    assert len(LATENCY.findall(done.stdout)) == 1, done.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (1500, 950)
    # A drawn window, not a blank one: many distinct colours (traces, map, table).
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 30


def test_bad_arguments_are_one_line_errors(tmp_path):
    done = monitor("--source", "bluetooth")
    assert done.returncode == 2 and "unknown kind" in done.stderr and "Traceback" not in done.stderr
    done = monitor("--duration", "soon")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    headless = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "fascdetect", "monitor", "--duration", "3s"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=headless)
    assert done.returncode == 2 and "no display" in done.stderr and "Traceback" not in done.stderr
    done = monitor("--window", "500", "--screenshot", str(tmp_path / "x.png"))
    assert done.returncode == 2 and "--window" in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_duration_alone_runs_the_window_and_prints_the_latency_once():
    """``--duration`` without ``--screenshot`` shows the window for that long (offscreen here), then reports."""
    done = monitor("--source", "sim:post-exercise@4", "--duration", "6s")
    assert done.returncode == 0, done.stderr
    found = LATENCY.findall(done.stdout)
    assert len(found) == 1, done.stdout
    median, p99, n = found[0]
    assert int(n) > 0 and float(median) <= float(p99)
    assert "frames/s over" in done.stdout and "saved" not in done.stdout


def test_interactive_monitor_ends_cleanly_on_ctrl_c():
    """Without --screenshot the window runs until closed; SIGINT closes it and the command exits 0."""
    proc = subprocess.Popen([sys.executable, "-m", "fascdetect", "monitor", "--source", "sim@4"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    try:
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
