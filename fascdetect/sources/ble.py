"""Live blocks from the wearable over Bluetooth LE (bleak), surviving link loss overnight.

``BleSource`` scans for the device's service UUID (optionally a name or an
address), connects, reads the device description, subscribes to the sample
characteristic and turns packets into Blocks through the sequence tracker:
lost packets become zero-filled samples marked in ``Block.gap``, duplicates
vanish, reordering is undone. When the link drops it reconnects with
exponential backoff and resumes the same stream: sample indices continue,
the outage is a gap whose length comes from the device's frame counter.

The core is asyncio (``aopen``/``ablocks``/``aclose``); ``open``/``blocks``/
``close`` run the same code in a private event-loop thread for the CLI and
the GUI.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import AsyncIterator, Iterator

import numpy as np

from fascdetect import protocol
from fascdetect.errors import DeviceError
from fascdetect.model import Block, Channel
from fascdetect.protocol import Command, DeviceDescription, Opcode, PacketError
from fascdetect.regions import MODALITIES, region_code
from fascdetect.sources.sequence import ClockTracker, Frames, GroupTracker, StreamStats, unwrap

log = logging.getLogger(__name__)

ERROR_IN_PROGRESS = "org.bluez.Error.InProgress"


class LayoutChanged(DeviceError):
    """The device's description changed across a reconnect: the stream cannot be resumed."""


@dataclass(frozen=True)
class BleOptions:
    """How to find the device and how hard to hold on to it."""

    address: str | None = None
    name: str | None = None
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    backoff_first_s: float = 0.2
    backoff_max_s: float = 10.0
    give_up_after_s: float | None = None
    """Stop reconnecting after this long without a link (None: keep trying all night)."""
    block_s: float = 0.1
    """Blocks hold about this many seconds of samples (less when the stream ends)."""
    use_acquire_notify: bool = False
    """Receive notifications through BlueZ's AcquireNotify socket instead of D-Bus signals."""
    emg_fs_hz: float | None = None
    """Ask the device for this EMG rate (SET_RATES) before streaming; None keeps its own."""
    acc_fs_hz: float | None = None
    regions: tuple[str, ...] | None = None
    """Stream only these foot regions (SET_MONTAGE); None: every region the device has."""
    modalities: tuple[str, ...] | None = None
    """Stream only these modalities ("EMG", "ACC"); None: both."""


@dataclass
class Outage:
    """One link loss: when, how long until streaming resumed, and the samples it cost per rate group."""

    started: datetime
    duration_s: float | None = None
    attempts: int = 0
    lost_samples: dict[float, int] = field(default_factory=dict)
    """fs_hz → samples in the gap (known once packets flow again)."""


@dataclass(frozen=True)
class FoundDevice:
    name: str | None
    address: str
    rssi: int
    battery_pct: int | None


def _matches(name: str | None, address: str, adv_uuids: list[str], options: BleOptions) -> bool:
    if protocol.SERVICE_UUID not in [u.lower() for u in adv_uuids]:
        return False
    if options.address and address.upper() != options.address.upper():
        return False
    return not options.name or (name or "") == options.name


_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def _with_target(options: BleOptions, target: str | None) -> BleOptions:
    """Options narrowed to ``target``: an address if it looks like one, else a device name."""
    if not target:
        return options
    key = "address" if _ADDRESS.match(target.strip()) else "name"
    return replace(options, **{key: target.strip()})


def _rates_command(description: DeviceDescription, options: BleOptions) -> Command | None:
    """SET_RATES for the rates the options ask for (one per rate group), or None when they ask for none."""
    wanted = {"EMG": options.emg_fs_hz, "ACC": options.acc_fs_hz}
    if all(fs is None for fs in wanted.values()):
        return None
    rates_mhz = []
    for group in description.groups:
        asked = {wanted[spec.placement.modality] for spec in group.channels} - {None}
        if len(asked) > 1:
            raise DeviceError("EMG and ACC share one rate group on this wearable: give them the same rate")
        rates_mhz.append(round((asked.pop() if asked else group.fs_hz) * 1000))
    return Command(Opcode.SET_RATES, tuple(rates_mhz))


def _montage_command(description: DeviceDescription, options: BleOptions) -> Command | None:
    """SET_MONTAGE enabling the channels of the options' regions and modalities, or None when they choose all."""
    if options.regions is None and options.modalities is None:
        return None
    regions = None if options.regions is None else {region_code(r) for r in options.regions}
    modalities = None if options.modalities is None else {m.upper() for m in options.modalities}
    if modalities is not None and not modalities <= set(MODALITIES):
        raise DeviceError(f"unknown modality in {sorted(modalities)} (known: {', '.join(MODALITIES)})")
    specs = [spec.placement for group in description.groups for spec in group.channels]
    flags = tuple(
        int((regions is None or p.region in regions) and (modalities is None or p.modality in modalities)) for p in specs
    )
    if not any(flags):
        have = ", ".join(p.label() for p in specs)
        raise DeviceError(f"the wearable has no channel in the chosen regions/modalities (it has {have})")
    return Command(Opcode.SET_MONTAGE, flags)


def _battery_from_adv(service_data: dict[str, bytes]) -> int | None:
    value = service_data.get(protocol.BATTERY_SERVICE_UUID)
    return int(value[0]) if value else None


async def scan(timeout_s: float = 5.0, options: BleOptions = BleOptions()) -> list[FoundDevice]:
    """Compatible devices in range, strongest signal first (battery from the advertisement, when sent)."""
    from bleak import BleakScanner
    from bleak.exc import BleakError

    try:
        found = await BleakScanner.discover(timeout=timeout_s, service_uuids=[protocol.SERVICE_UUID], return_adv=True)
    except (BleakError, OSError, EOFError) as exc:
        raise _scan_error(exc) from None
    out = [
        FoundDevice(dev.name, dev.address, adv.rssi, _battery_from_adv(adv.service_data))
        for dev, adv in found.values()
        if _matches(dev.name, dev.address, adv.service_uuids, options)
    ]
    return sorted(out, key=lambda d: -d.rssi)


def _scan_error(exc: BaseException) -> DeviceError:
    return DeviceError(f"cannot scan for Bluetooth devices (is BlueZ running and Bluetooth on?): {exc}")


def _finish_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what bleak left running in this loop (its bus watcher), then close the loop."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


class BleSource:
    """A Source reading the wearable live. ``BleSource(target)`` connects before it returns; ``await BleSource.aopen(target)`` is the same inside an event loop."""

    duration_s: float | None = None
    skipped: tuple[tuple[str, str], ...] = ()

    def __init__(self, target: str | None = None, options: BleOptions | None = None) -> None:
        """Connect now and start streaming, with the event loop in a background thread (for the CLI and GUI).

        ``target`` is a device address (``AA:BB:CC:DD:EE:FF``) or name; None
        takes the first compatible device found. Raises DeviceError when no
        device can be found or connected within the options' time-outs.
        """
        self._setup(_with_target(options or BleOptions(), target))
        opened: queue.Queue = queue.Queue()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # handed to the opening thread
                opened.put(exc)
                _finish_loop(loop)
                return
            opened.put(None)
            loop.run_until_complete(self._pump())
            _finish_loop(loop)

        self._loop = loop
        self._sync_queue = queue.Queue()
        self._thread = threading.Thread(target=run, name="ble-source", daemon=True)
        self._thread.start()
        failure = opened.get()
        if failure is not None:
            self._thread.join()
            raise failure

    def _setup(self, options: BleOptions) -> None:
        self.options = options
        self.description: DeviceDescription | None = None
        self.channels: tuple[Channel, ...] = ()
        self.start: datetime = datetime.now()
        self.stats = StreamStats()
        self.clock = ClockTracker()
        self.outages: list[Outage] = []
        self.battery_pct: int | None = None
        self.device_name: str | None = None
        self.address: str | None = None
        self.mtu_size: int | None = None
        """ATT_MTU of the current connection (the device sizes packets to it minus 3)."""
        self._groups: tuple[tuple[Channel, ...], ...] = ()
        self._trackers: list[GroupTracker] = []
        self._held: list[list[Frames]] = []
        self._bases: list[int] | None = None
        """Per rate group, the device frame that is sample 0 of this recording (0 unless we joined a running stream)."""
        self._last_end: list[int | None] = []
        self._queue: asyncio.Queue[Block | None] | None = None
        self._closing: asyncio.Event | None = None
        self._runner: asyncio.Task | None = None
        self._failure: DeviceError | None = None
        self._ble_device = None
        self._client = None
        self._link_lost = asyncio.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_queue: queue.Queue[Block | None | BaseException] | None = None

    # ------------------------------------------------------------------ async
    @classmethod
    async def aopen(cls, target: str | None = None, options: BleOptions | None = None) -> "BleSource":
        """Find, connect, read the description and start streaming in the running loop; channels are known on return."""
        source = cls.__new__(cls)
        source._setup(_with_target(options or BleOptions(), target))
        await source._start()
        return source

    async def ablocks(self) -> AsyncIterator[Block]:
        """Blocks in time order within each rate group, until close.

        If the link could not be restored within ``give_up_after_s``, every
        block received is yielded first, then DeviceError is raised.
        """
        assert self._queue is not None, "open the source first"
        while True:
            block = await self._queue.get()
            if block is None:
                if self._failure is not None:
                    raise self._failure
                return
            yield block

    async def aclose(self) -> None:
        """Stop streaming, disconnect, and end ``ablocks`` after the last held samples."""
        if self._closing is None or self._closing.is_set():
            return
        self._closing.set()
        if self._runner is not None:
            await self._runner

    @property
    def drift_ppm(self) -> float | None:
        """Device clock error against this computer's clock (positive: the device runs slow)."""
        return self.clock.drift_ppm

    def wall_time(self, fs_hz: float, index: int) -> datetime | None:
        """When sample ``index`` (at ``fs_hz``) was taken, on this computer's clock, corrected for device-clock drift.

        None until a few packets have arrived. Sample indices alone assume the
        nominal rate; over a night a crystal error of 50 ppm is 1.4 s, which
        matters when events are compared with other clocks.
        """
        if self._bases is None:
            return None
        g = next(i for i, group in enumerate(self._groups) if group[0].fs_hz == fs_hz)
        device_us = round((index + self._bases[g]) * 1e6 / fs_hz)
        host_s = self.clock.host_time_s(device_us % protocol.TIMESTAMP_MODULO)
        if host_s is None:
            return None
        return datetime.now() - timedelta(seconds=time.monotonic() - host_s)

    # ------------------------------------------------------------------- sync
    def blocks(self) -> Iterator[Block]:
        """Blocks until close() (or the link is given up); Ctrl-C closes the source cleanly."""
        if self._sync_queue is None:
            raise DeviceError("BleSource.blocks() is for a source made with BleSource(...); use ablocks() after aopen()")
        try:
            while True:
                try:
                    item = self._sync_queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the device, disconnect and end ``blocks()`` (safe from any thread, and more than once)."""
        if self._loop is None or self._thread is None or self._closing is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._closing.set)
        except RuntimeError:  # the loop has finished already
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    async def _pump(self) -> None:
        assert self._sync_queue is not None
        try:
            async for block in self.ablocks():
                self._sync_queue.put(block)
        except BaseException as exc:  # surfaced in blocks()
            self._sync_queue.put(exc)
        self._sync_queue.put(None)

    # --------------------------------------------------------------- the link
    async def _start(self) -> None:
        self._queue = asyncio.Queue()
        self._closing = asyncio.Event()
        deadline = time.monotonic() + self.options.scan_timeout_s + self.options.connect_timeout_s
        await self._connect(deadline=deadline)
        self._runner = asyncio.ensure_future(self._hold_link())

    async def _find(self):
        from bleak import BleakScanner
        from bleak.exc import BleakError

        opts = self.options

        def wanted(dev, adv) -> bool:
            return _matches(dev.name, dev.address, adv.service_uuids, opts)

        try:
            device = await BleakScanner.find_device_by_filter(wanted, timeout=opts.scan_timeout_s, service_uuids=[protocol.SERVICE_UUID])
        except (BleakError, OSError, EOFError) as exc:
            raise _scan_error(exc) from None
        if device is None:
            what = opts.address or opts.name or "any"
            raise DeviceError(f"no fascdetect wearable found ({what}) within {opts.scan_timeout_s:g} s: is it on, charged and in range?")
        return device

    async def _connect(self, deadline: float | None) -> int:
        """Connect with exponential backoff until ``deadline`` (monotonic); returns the attempts used."""
        from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError

        delay = self.options.backoff_first_s
        attempts = 0
        while True:
            attempts += 1
            try:
                if self._ble_device is None:
                    self._ble_device = await self._find()
                await self._connect_once()
                return attempts
            except (BleakError, TimeoutError, OSError, EOFError, DeviceError) as exc:
                # Not finding the device is final when first connecting (the user is waiting);
                # after a link loss it is expected (out of range) and retried.
                if isinstance(exc, DeviceError) and (self.description is None or isinstance(exc, LayoutChanged)):
                    raise
                if isinstance(exc, BleakDeviceNotFoundError):
                    self._ble_device = None
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise DeviceError(f"could not connect to the wearable: {exc}") from None
                if self._closing is not None and self._closing.is_set():
                    raise
                in_progress = isinstance(exc, BleakDBusError) and exc.dbus_error == ERROR_IN_PROGRESS
                log.info("connection attempt %d failed (%s); retrying in %.2f s", attempts, exc, 0.05 if in_progress else delay)
                await self._sleep_unless_closing(0.05 if in_progress else delay)
                if not in_progress:
                    delay = min(delay * 2, self.options.backoff_max_s) * random.uniform(0.8, 1.2)

    async def _connect_once(self) -> None:
        from bleak import BleakClient

        self._link_lost = asyncio.Event()
        lost = self._link_lost
        client = BleakClient(self._ble_device, disconnected_callback=lambda _c: lost.set(), timeout=self.options.connect_timeout_s)
        await client.connect()
        try:
            description = protocol.decode_description(await client.read_gatt_char(protocol.INFO_CHAR_UUID))
            if self.description is None:  # the device keeps its settings while it streams, across link drops
                description = await self._configure(client, description)
            self._adopt(description)
            self.device_name = client.name
            self.address = client.address
            # BlueZ's per-characteristic MTU property (bleak's client.mtu_size is a fixed 23 on BlueZ)
            self.mtu_size = client.services.get_characteristic(protocol.DATA_CHAR_UUID).max_write_without_response_size + 3
            try:
                self.battery_pct = int((await client.read_gatt_char(protocol.BATTERY_LEVEL_CHAR_UUID))[0])
                await client.start_notify(protocol.BATTERY_LEVEL_CHAR_UUID, self._on_battery)
            except Exception as exc:  # battery is informative; a device without it still streams
                log.info("no battery level: %s", exc)
            bluez = {"use_start_notify": not self.options.use_acquire_notify}
            await client.start_notify(protocol.DATA_CHAR_UUID, self._on_packet, bluez=bluez)
            await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.encode_command(Command(Opcode.START)), response=True)
        except BaseException:
            await client.disconnect()
            raise
        self._client = client
        log.info("streaming from %s (%s), firmware %s, ATT_MTU %d", self.device_name, self.address, description.firmware, self.mtu_size)

    async def _configure(self, client, description: DeviceDescription) -> DeviceDescription:
        """Send the rates, then the montage, of the options; returns the description the device then gives."""
        rates = _rates_command(description, self.options)
        if rates is not None:
            description = await self._set(client, rates)
        montage = _montage_command(description, self.options)
        if montage is not None:
            description = await self._set(client, montage)
        return description

    async def _set(self, client, command: Command) -> DeviceDescription:
        """Write a settings command and read back the description it produced."""
        try:
            await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.encode_command(command), response=True)
        except Exception as exc:  # bleak reports the device's refusal (BleakDBusError) with its reason
            raise DeviceError(f"the wearable refused {command.opcode.name}: {exc}") from None
        return protocol.decode_description(await client.read_gatt_char(protocol.INFO_CHAR_UUID))

    def _adopt(self, description: DeviceDescription) -> None:
        if self.description is None:
            self.description = description
            self._groups = description.channels()
            self.channels = tuple(ch for g in self._groups for ch in g)
            self._trackers = [GroupTracker(i, len(g), self.stats) for i, g in enumerate(self._groups)]
            self._held = [[] for _ in self._groups]
            self._last_end = [None] * len(self._groups)
        elif description != self.description:
            raise LayoutChanged("the wearable came back with a different channel layout; start a new recording")

    async def _hold_link(self) -> None:
        """Reconnect after every link loss until closed or given up; then flush and end the block stream."""
        assert self._closing is not None and self._queue is not None
        try:
            while True:
                lost = asyncio.ensure_future(self._link_lost.wait())
                closing = asyncio.ensure_future(self._closing.wait())
                await asyncio.wait({lost, closing}, return_when=asyncio.FIRST_COMPLETED)
                lost.cancel()
                closing.cancel()
                if self._closing.is_set():
                    break
                outage = Outage(datetime.now())
                self.outages.append(outage)
                t0 = time.monotonic()
                log.warning("link to %s lost; reconnecting", self.address)
                self._client = None
                give_up = self.options.give_up_after_s
                try:
                    outage.attempts = await self._connect(None if give_up is None else t0 + give_up)
                except DeviceError as exc:
                    log.error("giving up on the wearable: %s", exc)
                    self._failure = DeviceError(f"lost the wearable and could not reconnect within {give_up:g} s: {exc}")
                    break
                except Exception:
                    if self._closing.is_set():
                        break
                    raise
                outage.duration_s = time.monotonic() - t0
                log.warning("link back after %.1f s (%d attempts)", outage.duration_s, outage.attempts)
        finally:
            await self._stop_device()
            self._flush()
            self._queue.put_nowait(None)

    async def _stop_device(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.encode_command(Command(Opcode.STOP)), response=True)
        except Exception as exc:  # the link may be gone already; disconnecting is what matters
            log.info("could not send STOP: %s", exc)
        await client.disconnect()

    async def _sleep_unless_closing(self, seconds: float) -> None:
        if self._closing is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    # ---------------------------------------------------------------- packets
    def _on_battery(self, _char, data: bytearray) -> None:
        if data:
            self.battery_pct = int(data[0])

    def _on_packet(self, _char, data: bytearray) -> None:
        try:
            packet = protocol.decode_packet(data)
        except PacketError as exc:
            self.stats.drops[exc.reason] += 1
            log.warning("dropped packet (%s)", exc)
            return
        if packet.group >= len(self._trackers):
            self.stats.drops["group"] += 1
            log.warning("dropped packet for rate group %d; the device describes %d", packet.group, len(self._trackers))
            return
        now = time.monotonic()
        if packet.group == 0:
            self.clock.add(packet.timestamp_us, now)
        self._note_resume(packet)
        for frames in self._trackers[packet.group].push(packet):
            self._hold(frames)

    def _note_resume(self, packet: protocol.SamplePacket) -> None:
        """Fill in the gap size of the latest outage from the first packet after it."""
        g = packet.group
        if self.outages and self._groups[g][0].fs_hz not in self.outages[-1].lost_samples and self._last_end[g] is not None:
            frame = unwrap(packet.frame, self._last_end[g], protocol.FRAME_MODULO)
            self.outages[-1].lost_samples[self._groups[g][0].fs_hz] = max(0, frame - self._last_end[g])
        else:
            self._last_end[g] = max(self._last_end[g] or 0, packet.frame + packet.n_frames)

    def _hold(self, frames: Frames) -> None:
        """Collect frames into blocks of about ``block_s``."""
        g = frames.group
        if self._bases is None:
            first_s = frames.start / self._groups[g][0].fs_hz
            self._bases = [round(first_s * group[0].fs_hz) for group in self._groups]
            self.start = datetime.now() - timedelta(seconds=len(frames.counts) / self._groups[g][0].fs_hz)
        held = self._held[g]
        held.append(frames)
        fs = self._groups[g][0].fs_hz
        if sum(len(f.counts) for f in held) >= fs * self.options.block_s:
            self._emit(g)

    def _emit(self, g: int) -> None:
        held, self._held[g] = self._held[g], []
        if not held:
            return
        counts = np.concatenate([f.counts for f in held])
        gap = None
        if any(f.gap is not None for f in held):
            gap = np.concatenate([np.zeros(len(f.counts), bool) if f.gap is None else f.gap for f in held])
        group = self._groups[g]
        assert self._queue is not None and self._bases is not None
        start = held[0].start - self._bases[g]
        if start < 0:  # joined a running stream: this group's first frames predate sample 0
            counts, gap, start = counts[-start:], None if gap is None else gap[-start:], 0
            if not len(counts):
                return
        data = protocol.to_physical(counts.T, self.description.lsb(g))
        self._queue.put_nowait(Block(group, group[0].fs_hz, start, data, gap))

    def _flush(self) -> None:
        for g, tracker in enumerate(self._trackers):
            for frames in tracker.flush():
                self._hold(frames)
            self._emit(g)
