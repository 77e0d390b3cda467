"""The monitor on a real X server (Xvfb): the window opens and what the screen shows is grabbed.

The offscreen tests render into memory; this one goes through xcb, an X
server and its framebuffer, as a desktop would. CI installs Debian's
``xvfb`` package; without the binary the test is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRAB = """
import sys
from pyqtgraph.Qt import QtGui
app = QtGui.QGuiApplication([])
screen = app.primaryScreen()
image = screen.grabWindow(0).toImage()
colours = {image.pixel(x, y) for x in range(0, image.width(), 9) for y in range(0, image.height(), 9)}
image.save(sys.argv[1])
print(image.width(), image.height(), len(colours))
"""


@pytest.fixture
def x_display():
    """A private Xvfb on a display number it picks itself (-displayfd), stopped afterwards."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian package 'xvfb'); this test needs a real X server")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            server.wait(10)
            pytest.fail(f"Xvfb did not start: {server.stderr.read().decode(errors='replace')}")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_window_opens_on_an_x_server_and_the_screen_shows_it(x_display, tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    shot = tmp_path / "window.png"
    monitor = subprocess.Popen([sys.executable, "-m", "fascdetect", "monitor", "--source", "sim:post-exercise@4",
                                "--screenshot", str(shot), "--duration", "8s"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        screen = tmp_path / "screen.png"
        deadline = time.monotonic() + 40
        width = height = colours = 0
        while time.monotonic() < deadline and monitor.poll() is None:
            grab = subprocess.run([sys.executable, "-c", GRAB, str(screen)], env=env, capture_output=True, text=True,
                                  timeout=30)
            assert grab.returncode == 0, grab.stderr
            width, height, colours = map(int, grab.stdout.split())
            if colours > 30:
                break
            time.sleep(0.5)
        out, err = monitor.communicate(timeout=60)
    finally:
        if monitor.poll() is None:
            monitor.kill()
    assert monitor.returncode == 0, err
    assert "frames/s" in out
    assert (width, height) == (1600, 1000)
    assert colours > 30, "the X screen stayed blank: the window was not drawn"
    assert screen.stat().st_size > 10_000 and shot.exists()
