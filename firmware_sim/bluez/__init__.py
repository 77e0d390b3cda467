"""A stand-in ``org.bluez`` on a private D-Bus, so an unmodified bleak client can stream from the simulator.

No Bluetooth hardware or kernel support exists on the build machines, so the
simulated wearable is exported the way bluetoothd would export a real one
(adapter hci0, a device, its GATT services and characteristics) on a private
dbus-daemon; bleak's real BlueZ backend talks to it through
``DBUS_SYSTEM_BUS_ADDRESS``.

    handle = start_private_bluez(scenario="rest", speed=1.0)
    os.environ.update(handle.env)     # before bleak's first connection
    ...                               # BleSource / BleakScanner as usual
    handle.stop()

The stand-in runs in a background thread with its own event loop; test
hooks (``drop_link``, ``refuse_connects``, ``set_faults``) are thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, Callable, Coroutine, Iterable, Iterator

import numpy as np
from dbus_fast import BusType, RequestNameReply
from dbus_fast.aio import MessageBus

from fascdetect.errors import DeviceError
from fascdetect.model import Block, Channel
from firmware_sim.bluez.daemon import PrivateBus, start_bus
from firmware_sim.bluez.objects import ADAPTER_PATH, Adapter
from firmware_sim.bluez.peripheral import CENTRAL_MTU, Peripheral, Signal, StreamStatus
from firmware_sim.device import Device, DeviceConfig, LinkFaults

log = logging.getLogger(__name__)

__all__ = ["SimulatedBluez", "start_private_bluez", "DeviceConfig", "LinkFaults", "StreamStatus"]


@dataclass(frozen=True)
class Record:
    """The device's own account, for bit-exact checks: quantised samples per group and what went on the air."""

    counts: tuple[np.ndarray, ...]
    delivered: frozenset[tuple[int, int, int]]
    lsb: tuple[np.ndarray, ...]
    status: StreamStatus


class SimulatedBluez:
    """Handle on a running private bus + stand-in BlueZ; ``env`` is what a client process needs."""

    def __init__(self, bus: PrivateBus, loop: asyncio.AbstractEventLoop, thread: threading.Thread, peripheral: Peripheral, bluez_bus: MessageBus) -> None:
        self._bus = bus
        self._loop = loop
        self._thread = thread
        self._bluez_bus = bluez_bus
        self.peripheral = peripheral
        self.address = peripheral.firmware.config.address
        self.name = peripheral.firmware.config.name

    @property
    def env(self) -> dict[str, str]:
        """``DBUS_SYSTEM_BUS_ADDRESS`` and a ``PATH`` with the bluetoothctl shim first."""
        return self._bus.env

    @property
    def daemon_pid(self) -> int:
        return self._bus.pid

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _call(self, fn: Callable[[], Any]) -> Any:
        async def wrapper() -> Any:
            return fn()

        return self._run(wrapper())

    def drop_link(self, outage_s: float = 1.0) -> None:
        """Take the device out of range now for ``outage_s`` of device time."""
        self._run(self.peripheral.drop_link(outage_s))

    def refuse_connects(self, n: int = 1) -> None:
        """Refuse the next ``n`` connection attempts with org.bluez.Error.InProgress."""
        self._call(lambda: self.peripheral.refuse_connects(n))

    def set_faults(self, faults: LinkFaults) -> None:
        self._call(lambda: self.peripheral.set_faults(faults))

    def wait_finished(self, timeout: float) -> bool:
        """Block until a finite stream has been sent completely."""
        try:
            self._run(asyncio.wait_for(self.peripheral.finished.wait(), timeout), timeout + 1)
        except TimeoutError:
            return False
        return True

    def record(self) -> Record:
        """A consistent snapshot of the device's record (taken in the stand-in's loop)."""

        def snap() -> Record:
            fw = self.peripheral.firmware
            n = len(fw.groups)
            return Record(
                tuple(fw.record(g).copy() for g in range(n)),
                frozenset(self.peripheral.radio.delivered),
                tuple(fw.description.lsb(g) for g in range(n)),
                StreamStatus(**vars(self.peripheral.status)),
            )

        return self._call(snap)

    def stop(self) -> None:
        """Close the stand-in, stop its thread and end the private dbus-daemon by its PID."""
        if self._thread.is_alive():
            try:
                self._run(self._shutdown(), timeout=10)
            except Exception:  # a dead loop is stopped below all the same
                log.debug("stand-in shutdown failed", exc_info=True)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._bus.stop()

    async def _shutdown(self) -> None:
        await self.peripheral.close()
        self._bluez_bus.disconnect()

    def __enter__(self) -> "SimulatedBluez":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_private_bluez(
    scenario: str = "rest",
    *,
    seed: int = 0,
    duration_s: float | None = None,
    montage: Any = None,
    blocks: Iterable[Block] | None = None,
    channels: tuple[Channel, ...] | None = None,
    config: DeviceConfig = DeviceConfig(),
    faults: LinkFaults = LinkFaults(),
    speed: float = 1.0,
    central_mtu: int = CENTRAL_MTU,
) -> SimulatedBluez:
    """Start a private dbus-daemon and a stand-in BlueZ exporting one simulated wearable.

    The signal comes from ``firmware_sim.generator.Generator(scenario, seed,
    duration_s=..., montage=...)``, or from ``blocks`` of ``channels`` when
    given. ``speed`` is simulated seconds per real second (0: as fast as the
    client reads). ``central_mtu`` is the largest ATT_MTU this stand-in BlueZ
    offers (23: a legacy link); each connection uses the smaller of it and the
    device's. With the generator, SET_RATES regenerates the same scenario
    at the new rates; with fixed ``blocks`` it is refused. Call it from a long-lived thread: Linux ends the daemon when
    the thread that started it exits (so a crashed demo leaves nothing behind).
    """
    signal: Signal | None = None
    if blocks is None:
        signal = _generator_signal(scenario, seed, duration_s, montage)
        channels, blocks = signal({})
    elif channels is None:
        raise DeviceError("start_private_bluez: give the channels of the blocks")
    bus = start_bus()
    loop = asyncio.new_event_loop()
    ready: Future = Future()

    async def setup() -> tuple[Peripheral, MessageBus]:
        message_bus = await MessageBus(bus_address=bus.address, bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
        reply = await message_bus.request_name("org.bluez")
        if reply != RequestNameReply.PRIMARY_OWNER:
            raise DeviceError(f"could not own org.bluez on the private bus ({reply})")
        peripheral = Peripheral(message_bus, Device(channels, config), iter(blocks), faults, speed, signal=signal, central_mtu=central_mtu)
        adapter = Adapter(peripheral.on_discovery)
        message_bus.export(ADAPTER_PATH, adapter)
        return peripheral, message_bus

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            ready.set_result(loop.run_until_complete(setup()))
        except BaseException as exc:  # reported to the caller through the future
            ready.set_exception(exc)
            return
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name="stand-in-bluez", daemon=True)
    thread.start()
    try:
        peripheral, message_bus = ready.result(timeout=15)
    except BaseException:
        bus.stop()
        raise
    log.info("stand-in BlueZ: %s (%s) on %s", config.name, config.address, bus.address)
    return SimulatedBluez(bus, loop, thread, peripheral, message_bus)


def _generator_signal(scenario: str, seed: int, duration_s: float | None, montage: Any) -> Signal:
    """The simulator's signal at given rates (modality → Hz; missing ones keep the montage's)."""
    from firmware_sim.generator import Generator
    from firmware_sim.scenarios import get_scenario

    base = montage if montage is not None else get_scenario(scenario).montage

    def signal(rates: dict[str, int]) -> tuple[tuple[Channel, ...], Iterator[Block]]:
        chosen = replace(base, emg_fs_hz=rates.get("EMG", base.emg_fs_hz), acc_fs_hz=rates.get("ACC", base.acc_fs_hz))
        gen = Generator(scenario, seed, duration_s=duration_s, montage=chosen)
        return gen.channels, gen.blocks(gen.tick_s * max(1, round(0.25 / gen.tick_s)))

    return signal
