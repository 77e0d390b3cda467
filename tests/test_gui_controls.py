"""Controls: scanning for a wearable and connecting to it, through real bleak and the stand-in BlueZ.

No radio here: the simulated wearable is exported by a stand-in BlueZ on a
private dbus-daemon (``firmware_sim.bluez``), which bleak's real BlueZ
backend talks to; the monitor sees what it would see from a device.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fascdetect.commands._sources import open_cli_source
from firmware_sim.bluez import start_private_bluez
from firmware_sim.scenarios import SimMontage
from gui.app import application
from gui.main_window import MonitorWindow

ROOT = Path(__file__).resolve().parents[1]
MONTAGE = SimMontage(emg_regions=("AbH", "ADM"), acc_regions=("ADM",), acc_fs_hz=100)

needs_dbus = pytest.mark.skipif(
    shutil.which("dbus-daemon") is None,
    reason="dbus-daemon is not installed (Debian package 'dbus'); the stand-in BlueZ needs it")


@pytest.fixture
def radio(monkeypatch):
    handle = start_private_bluez("post-exercise", seed=3, montage=MONTAGE, speed=4.0)
    for key, value in handle.env.items():
        monkeypatch.setenv(key, value)
    yield handle
    handle.stop()


@needs_dbus
def test_scan_lists_the_wearable_and_picking_it_streams(qtbot, radio):
    application()
    window = MonitorWindow(open_cli_source, ())
    qtbot.addWidget(window)
    window.show()
    window.controls.scanner.timeout_s = 2.0
    with qtbot.waitSignal(window.controls.scanner.found, timeout=20_000) as found:
        window.controls.scan.click()
    devices = found.args[0]
    assert len(devices) == 1
    actions = window.controls.devices_menu.actions()
    assert len(actions) == 1 and devices[0].address in actions[0].text()
    window.controls.devices_menu.hide()
    with qtbot.waitSignal(window.controls.source_requested) as requested:
        actions[0].trigger()
    assert requested.args == [f"ble:{devices[0].address}"]
    qtbot.waitUntil(lambda: window.session is not None and bool(window.session.channels), timeout=30_000)
    assert {c.label for c in window.session.channels} == {c.label for c in MONTAGE.channels()}
    qtbot.waitUntil(lambda: sum(c.twitches for c in window.tally.counts.values()) > 0, timeout=60_000)
    status = window.session.status()
    assert status.state == "connected" and status.battery_pct is not None
    assert re.search(r"battery \d+%", window.status.text())
    window.close()


def test_a_failed_scan_is_a_message_not_a_crash(qtbot, monkeypatch):
    """Without any BlueZ on the bus address given, the scan fails and says so."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    application()
    window = MonitorWindow(open_cli_source, ())
    qtbot.addWidget(window)
    window.controls.scanner.timeout_s = 1.0
    with qtbot.waitSignal(window.controls.scanner.failed, timeout=20_000) as failed:
        window.controls.scan.click()
    assert failed.args[0]
    assert window.controls.scan.isEnabled()
    assert window.status.currentMessage() == failed.args[0]
    window.close()


@needs_dbus
def test_monitor_on_the_simulated_radio_from_the_command_line(tmp_path):
    out = tmp_path / "ble.png"
    done = subprocess.run([sys.executable, "-m", "fascdetect", "monitor", "--source", "sim-ble:post-exercise",
                           "--screenshot", str(out), "--duration", "6s"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    status = re.search(r"^status: (.*)$", done.stdout, re.M).group(1)
    assert status.startswith("ble") and "connected" in status and re.search(r"battery \d+%", status)
    assert out.exists()
