"""A private dbus-daemon, so the stand-in BlueZ never touches the machine's real system bus.

The daemon runs in the foreground as our child (its PID is known, and it is
ended by that PID), listens on a socket in a fresh temporary directory, and
allows everything: it only ever carries the simulator and the test process.
A ``bluetoothctl`` shim that reports a BlueZ version goes in the same
directory, because bleak refuses BlueZ older than 5.55 and asks
``bluetoothctl --version``.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fascdetect.errors import DeviceError

log = logging.getLogger(__name__)

BLUEZ_VERSION = "5.72"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>fascdetect-sim</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
  <!-- streaming notifications faster than real time queues a lot for a slow reader -->
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">33554432</limit>
  <limit name="reply_timeout">60000</limit>
</busconfig>
"""


@dataclass
class PrivateBus:
    """A running private dbus-daemon: its address, PID and a directory holding the bluetoothctl shim."""

    address: str
    pid: int
    directory: Path
    _process: subprocess.Popen

    @property
    def env(self) -> dict[str, str]:
        """Environment for a process that should see the stand-in BlueZ as the system's."""
        return {
            "DBUS_SYSTEM_BUS_ADDRESS": self.address,
            "PATH": f"{self.directory}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def stop(self) -> None:
        if self._process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self._process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child: ask Linux to end the daemon when the process that started it dies, even by SIGKILL."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_bus() -> PrivateBus:
    """Start a private dbus-daemon; DeviceError says what to install when it is missing."""
    exe = shutil.which("dbus-daemon")
    if exe is None:
        raise DeviceError("dbus-daemon is not installed (Debian: apt-get install dbus-daemon); the simulated BLE device needs it")
    directory = Path(tempfile.mkdtemp(prefix="fascdetect-bluez-"))
    socket_path = directory / "bus"
    config = directory / "bus.conf"
    config.write_text(_CONFIG.format(socket=socket_path), encoding="utf-8")
    shim = directory / "bluetoothctl"
    shim.write_text(f"#!/bin/sh\necho {BLUEZ_VERSION}\n", encoding="utf-8")
    shim.chmod(0o700)
    process = subprocess.Popen(
        [exe, f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=_die_with_parent,
    )
    assert process.stdout is not None
    address = process.stdout.readline().strip()
    if not address:
        process.kill()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)
        raise DeviceError("the private dbus-daemon did not start")
    deadline = time.monotonic() + 5
    while not socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    log.info("private dbus-daemon pid %d at %s", process.pid, address)
    bus = PrivateBus(address, process.pid, directory, process)
    atexit.register(bus.stop)
    return bus
