"""Scanning for wearables from the window, without blocking it.

``fascdetect.sources.ble.scan`` is a coroutine that listens for seconds;
it runs on its own thread with its own event loop, and the result comes
back to the UI thread as a signal.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from pyqtgraph.Qt import QtCore

from fascdetect.errors import FascdetectError

log = logging.getLogger(__name__)


class BleScanner(QtCore.QObject):
    """``start()`` scans once; ``found`` carries the FoundDevice list, ``failed`` a message for the user."""

    found = QtCore.Signal(list)
    failed = QtCore.Signal(str)

    def __init__(self, timeout_s: float = 5.0) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self._thread: threading.Thread | None = None

    @property
    def scanning(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.scanning:
            return
        self._thread = threading.Thread(target=self._scan, name="fascdetect-ble-scan", daemon=True)
        self._thread.start()

    def _scan(self) -> None:
        try:
            from fascdetect.sources.ble import scan

            devices = asyncio.run(scan(self.timeout_s))
        except FascdetectError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # bleak raises its own errors when there is no adapter or no BlueZ
            log.info("BLE scan failed", exc_info=True)
            self.failed.emit(f"Bluetooth scan failed: {exc}")
        else:
            self.found.emit(devices)
