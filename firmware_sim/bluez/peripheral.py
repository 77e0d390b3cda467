"""The simulated wearable as BlueZ shows it: advertising, connections, GATT, and the paced sample stream.

One :class:`Peripheral` owns a firmware :class:`~firmware_sim.device.Device`,
the :class:`~firmware_sim.device.Radio` between it and the air, and the
org.bluez objects on the private bus. Streaming starts when a client writes
START and keeps going across link drops (the device keeps sampling while
nobody listens, so the receiver sees an exact gap), until STOP or the end of
a finite scenario.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

from dbus_fast import DBusError, Message
from dbus_fast.aio import MessageBus

from fascdetect import protocol
from fascdetect.errors import InputError
from fascdetect.model import Block, Channel
from fascdetect.protocol import Command, Opcode, PacketError
from firmware_sim.bluez.objects import (
    ADAPTER_PATH, ERROR_FAILED, ERROR_IN_PROGRESS, ERROR_NOT_PERMITTED, ERROR_NOT_SUPPORTED, Device, GattCharacteristic, GattService,
)
from firmware_sim.device import Device as Firmware
from firmware_sim.device import LinkFaults, OutgoingPacket, Radio

log = logging.getLogger(__name__)

RSSI_PERIOD_S = 0.1
"""How often a discovering adapter reports the device's RSSI (bleak's scanner needs these updates)."""
BATCH_PACKETS = 32
"""Notifications sent before waiting for the client's event loop to answer a ping: D-Bus has no flow
control of its own, and dbus-fast drops a connection whose socket buffer overflows."""
LOOKAHEAD_S = 0.5
BATTERY_PERIOD_S = 60.0
ERROR_INVALID_ARGUMENTS = "org.bluez.Error.InvalidArguments"
CENTRAL_MTU = 517
"""The largest ATT_MTU the central's stack offers (BlueZ's default for LE)."""
_HANDLES = {"service": 0x000A, "data": 0x000B, "control": 0x000E, "info": 0x0010, "battery_service": 0x0020, "battery": 0x0021}


Signal = Callable[[dict[str, int]], tuple[tuple[Channel, ...], Iterator[Block]]]
"""The sensors' signal at the given rates (modality → Hz); raises InputError for rates they cannot run at."""


@dataclass
class StreamStatus:
    """What the peripheral did, for tests and the demo's log."""

    sent: int = 0
    """Notifications handed to the client (after radio faults)."""
    dropped_offline: int = 0
    """Packets produced while no client was subscribed."""
    connects: int = 0
    refused: int = 0
    drops: list[tuple[float, float]] = field(default_factory=list)
    """(device time of the drop, outage length) for each link drop."""
    finished: bool = False


class Peripheral:
    """Exports the device on ``bus`` and runs its stream in the bus's event loop."""

    def __init__(
        self,
        bus: MessageBus,
        firmware: Firmware,
        blocks: Iterator[Block],
        faults: LinkFaults = LinkFaults(),
        speed: float = 1.0,
        chunk_s: float = 0.25,
        signal: Signal | None = None,
        central_mtu: int = CENTRAL_MTU,
    ) -> None:
        self.bus = bus
        self.firmware = firmware
        self.radio = Radio(faults)
        self.speed = speed
        """Simulated seconds per real second; 0 streams as fast as the client takes it."""
        self.status = StreamStatus()
        self.finished = asyncio.Event()
        self._blocks = blocks
        self._chunk_s = chunk_s
        self._signal = signal
        """Regenerates the signal for SET_RATES (None: fixed blocks, rates cannot change)."""
        self._started = False
        self.central_mtu = central_mtu
        cfg = firmware.config
        self.path = f"{ADAPTER_PATH}/dev_{cfg.address.replace(':', '_')}"
        self.device = Device(cfg.address, cfg.name, [protocol.SERVICE_UUID, protocol.BATTERY_SERVICE_UUID], self._connect, self.disconnect)
        self.device.service_data = {protocol.BATTERY_SERVICE_UUID: bytes([firmware.battery_pct(0.0)])}
        self._gatt = self._build_gatt(cfg.payload_bytes + 3)
        self._refusals = faults.refuse_connects
        self._drops = deque(sorted(faults.disconnect_at_s))
        self._outage_until_s = -1.0
        self._queue: deque[OutgoingPacket] = deque()
        self._device_s = 0.0
        self._stream_task: asyncio.Task | None = None
        self._rssi_task: asyncio.Task | None = None
        self._exhausted = False
        self._next_battery_s = BATTERY_PERIOD_S
        bus.add_message_handler(self._note_subscriber)
        bus.export(self.path, self.device)

    @property
    def streaming(self) -> bool:
        """True between START and STOP (or the end of a finite scenario)."""
        return self._stream_task is not None and not self._stream_task.done()

    # ----------------------------------------------------------- GATT objects
    def _build_gatt(self, mtu: int) -> list[tuple[str, object]]:
        def char_path(service: str, key: str) -> str:
            return f"{service}/char{_HANDLES[key]:04x}"

        svc = f"{self.path}/service{_HANDLES['service']:04x}"
        bat = f"{self.path}/service{_HANDLES['battery_service']:04x}"
        self.data_char = GattCharacteristic(protocol.DATA_CHAR_UUID, svc, ["notify"], mtu)
        self.control_char = GattCharacteristic(protocol.CONTROL_CHAR_UUID, svc, ["write"], mtu, on_write=self._on_command)
        self.info_char = GattCharacteristic(protocol.INFO_CHAR_UUID, svc, ["read"], mtu, self.firmware.description_bytes)
        self.battery_char = GattCharacteristic(protocol.BATTERY_LEVEL_CHAR_UUID, bat, ["read", "notify"], mtu, bytes([self.firmware.battery_pct(0.0)]))
        return [
            (svc, GattService(protocol.SERVICE_UUID, self.path)),
            (char_path(svc, "data"), self.data_char),
            (char_path(svc, "control"), self.control_char),
            (char_path(svc, "info"), self.info_char),
            (bat, GattService(protocol.BATTERY_SERVICE_UUID, self.path)),
            (char_path(bat, "battery"), self.battery_char),
        ]

    def _note_subscriber(self, msg: Message) -> None:
        if msg.member in ("StartNotify", "AcquireNotify") and msg.path and msg.path.startswith(self.path):
            for path, obj in self._gatt:
                if path == msg.path and isinstance(obj, GattCharacteristic):
                    obj.subscriber = msg.sender

    # ------------------------------------------------------------ connections
    async def _connect(self) -> None:
        if self.device.connected:
            return
        if self._refusals > 0:
            self._refusals -= 1
            self.status.refused += 1
            raise DBusError(ERROR_IN_PROGRESS, "Operation already in progress")
        if self._device_s < self._outage_until_s:
            await asyncio.sleep(0.05)
            self.status.refused += 1
            raise DBusError(ERROR_FAILED, "le-connection-abort-by-remote")
        self._exchange_mtu()
        for path, obj in self._gatt:
            self.bus.export(path, obj)
        self.device.set(connected=True)
        self.device.set(services_resolved=True)
        self.status.connects += 1
        log.info("%s connected", self.device.address)

    def _exchange_mtu(self) -> None:
        """ATT Exchange MTU: the link uses the smaller offer; the firmware sizes packets to it, as a real stack tells it."""
        mtu = min(self.central_mtu, self.firmware.config.payload_bytes + 3)
        for _, obj in self._gatt:
            if isinstance(obj, GattCharacteristic):
                obj.mtu = mtu
        self.firmware.set_payload_bytes(mtu - 3)
        log.info("%s: ATT_MTU %d", self.device.address, mtu)

    async def disconnect(self) -> None:
        """Tear the link down (client's Disconnect, or a fault)."""
        if not self.device.connected:
            return
        for char in (self.data_char, self.battery_char):
            char.release()
        self.radio.discard_held()
        self.device.set(services_resolved=False)
        for path, _ in reversed(self._gatt):
            self.bus.unexport(path)
        self.device.set(connected=False)
        log.info("%s disconnected", self.device.address)

    async def drop_link(self, outage_s: float) -> None:
        """The wearable goes out of range for ``outage_s`` of device time."""
        self._outage_until_s = self._device_s + outage_s
        self.status.drops.append((self._device_s, outage_s))
        log.info("link dropped at device time %.3f s for %.3f s", self._device_s, outage_s)
        await self.disconnect()

    def refuse_connects(self, n: int) -> None:
        self._refusals += n

    def set_faults(self, faults: LinkFaults) -> None:
        """Change the radio's loss/duplicate/reorder behaviour from now on."""
        delivered = self.radio.delivered
        self.radio = Radio(faults, delivered=delivered)

    # -------------------------------------------------------------- discovery
    def on_discovery(self, on: bool) -> None:
        if on and self._rssi_task is None:
            self._rssi_task = asyncio.ensure_future(self._advertise())
        elif not on and self._rssi_task is not None:
            self._rssi_task.cancel()
            self._rssi_task = None

    async def _advertise(self) -> None:
        rng = random.Random(self.device.address)
        while True:
            self.device.set(rssi=-55 - rng.randrange(20))
            await asyncio.sleep(RSSI_PERIOD_S)

    # -------------------------------------------------------------- commands
    def _on_command(self, data: bytes) -> None:
        try:
            command = protocol.decode_command(data)
        except PacketError as exc:
            raise DBusError(ERROR_INVALID_ARGUMENTS, str(exc)) from None
        if command.opcode == Opcode.START:
            self._started = True
            if self._stream_task is None:
                self._stream_task = asyncio.ensure_future(self._stream())
        elif command.opcode == Opcode.STOP:
            if self._stream_task is not None:
                self._stream_task.cancel()
                self._stream_task = None
        else:
            self._reconfigure(command)

    def _reconfigure(self, command: Command) -> None:
        """SET_RATES / SET_MONTAGE: rebuild the firmware for the new layout and describe it."""
        name = command.opcode.name
        if self._started:
            raise DBusError(ERROR_NOT_PERMITTED, f"{name} is taken only before the first START")
        groups = self.firmware.groups
        channels = [ch for g in groups for ch in g]
        enabled = frozenset(ch.placement for ch in channels)
        blocks = self._blocks
        try:
            if command.opcode == Opcode.SET_MONTAGE:
                if len(command.args) != len(channels):
                    raise InputError(f"{name} gives {len(command.args)} flags, the device describes {len(channels)} channels")
                enabled = frozenset(ch.placement for ch, on in zip(channels, command.args) if on)
                firmware = Firmware(self.firmware.channels, self.firmware.config, enabled)
            else:
                if self._signal is None:
                    raise DBusError(ERROR_NOT_SUPPORTED, "this simulated device streams fixed blocks and cannot change rates")
                if len(command.args) != len(groups):
                    raise InputError(f"{name} gives {len(command.args)} rates, the device streams {len(groups)} rate groups")
                rates = {ch.modality: int(ch.fs_hz) for ch in self.firmware.channels}
                for group, rate_mhz in zip(groups, command.args):
                    if rate_mhz % 1000:
                        raise InputError(f"{rate_mhz / 1000:g} Hz: the simulated sensors sample at whole Hz")
                    rates.update((ch.modality, rate_mhz // 1000) for ch in group)
                sensors, blocks = self._signal(rates)
                firmware = Firmware(sensors, self.firmware.config, enabled)
        except InputError as exc:
            raise DBusError(ERROR_INVALID_ARGUMENTS, str(exc)) from None
        firmware.set_payload_bytes(self.firmware.payload_bytes)
        self.firmware, self._blocks = firmware, blocks
        self.info_char.value = firmware.description_bytes
        log.info("%s: the device now streams %s", name, [(g[0].fs_hz, len(g)) for g in firmware.groups])

    # -------------------------------------------------------------- streaming
    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        interval_s = self.firmware.config.conn_interval_s
        per_interval = self.firmware.config.packets_per_interval
        next_interval_s = 0.0
        try:
            while not (self._exhausted and not self._queue):
                now_s = (loop.time() - t0) * self.speed if self.speed else float("inf")
                self._produce(now_s)
                budget = 0
                if self.speed:
                    while next_interval_s <= now_s and budget < 10_000:
                        budget += per_interval
                        next_interval_s += interval_s
                else:
                    budget = BATCH_PACKETS
                sent = 0
                while self._queue and budget and self._due(self._queue[0]) <= now_s:
                    await self._send(self._queue.popleft())
                    budget -= 1
                    sent += 1
                    if sent % BATCH_PACKETS == 0:
                        await self._wait_for_client()
                if sent:
                    await self._wait_for_client()
                if self.speed:
                    await asyncio.sleep(max(interval_s / self.speed, 0.002))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated stream failed")
            raise
        self.status.finished = True
        self.finished.set()
        log.info("stream finished: %s", self.status)

    def _due(self, packet: OutgoingPacket) -> float:
        return self.firmware.host_time_s(packet.due_device_s)

    def _produce(self, now_s: float) -> None:
        """Feed the firmware until its queue covers the next LOOKAHEAD_S of host time."""
        horizon = now_s + LOOKAHEAD_S if self.speed else 0.0
        while not self._exhausted and (not self._queue or self._due(self._queue[-1]) <= horizon):
            block = next(self._blocks, None)
            if block is None:
                self._queue.extend(self.firmware.finish())
                self._exhausted = True
            else:
                self._queue.extend(self.firmware.feed(block))

    async def _send(self, packet: OutgoingPacket) -> None:
        self._device_s = max(self._device_s, packet.due_device_s)
        while self._drops and self._device_s >= self._drops[0]:
            self._drops.popleft()
            await self.drop_link(self.radio.faults.outage_s)
        if self._device_s >= self._next_battery_s:
            await self._update_battery()
        if not (self.device.connected and self.data_char.subscribed):
            self.status.dropped_offline += 1
            return
        for out in self.radio.transmit(packet):
            await self.data_char.notify(out.data)
            self.status.sent += 1

    async def _update_battery(self) -> None:
        pct = self.firmware.battery_pct(self._device_s)
        self._next_battery_s += BATTERY_PERIOD_S
        self.device.service_data = {protocol.BATTERY_SERVICE_UUID: bytes([pct])}
        if self.device.connected and self.battery_char.subscribed:
            await self.battery_char.notify(bytes([pct]))
        else:
            self.battery_char.value = bytes([pct])

    async def _wait_for_client(self) -> None:
        """Round trip to the subscriber (or the bus) so notifications never pile up unread."""
        await self.data_char.drained()
        target = self.data_char.subscriber or "org.freedesktop.DBus"
        path = "/" if self.data_char.subscriber else "/org/freedesktop/DBus"
        await self.bus.call(Message(destination=target, path=path, interface="org.freedesktop.DBus.Peer", member="Ping"))

    async def close(self) -> None:
        for task in (self._stream_task, self._rssi_task):
            if task is not None:
                task.cancel()
        await self.disconnect()
