"""The simulated wearable's firmware: quantise, packetise and time-stamp signals exactly as the device would.

Input is Blocks of physical samples (from :mod:`firmware_sim.generator` or a
test). Output is the byte packets of :mod:`fascdetect.protocol`, each with
the host time it is due, so the stand-in BlueZ can pace them by connection
interval. The device keeps its own record of every quantised sample it
produced, so tests can check what a receiver got bit for bit. Link faults
(loss, bursts, duplicates, reordering) live in :class:`Radio`, between the
device and the air.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fascdetect import protocol
from fascdetect.errors import InputError
from fascdetect.model import Block, Channel
from fascdetect.protocol import ChannelSpec, DeviceDescription, RateGroup
from fascdetect.regions import Placement

EMG_GAIN = 12.0
"""Front-end gain of a typical biopotential ADC (e.g. an ADS1299 at gain 12); informative only."""
ACC_GAIN = 1.0


@dataclass(frozen=True)
class DeviceConfig:
    """How the simulated wearable behaves on the air."""

    name: str = "FascSense-sim"
    address: str = "F5:A5:00:00:00:01"
    firmware: str = "1.2.0"
    payload_bytes: int = protocol.MAX_PAYLOAD_BYTES
    """Largest notification payload the firmware's BLE stack offers (its ATT_MTU − 3: 244 with data-length
    extension, 20 legacy); a connection uses min(this, the central's ATT_MTU − 3), see Device.set_payload_bytes."""
    conn_interval_s: float = 0.0075
    packets_per_interval: int = 6
    """Notifications the link layer fits in one connection event (≈ 800 packets/s at 7.5 ms)."""
    clock_drift_ppm: float = 25.0
    """Device crystal error: positive means the device clock runs fast against the host's."""
    battery_pct: float = 100.0
    battery_drain_pct_per_h: float = 4.0
    battery_low_pct: float = 15.0


@dataclass(frozen=True)
class OutgoingPacket:
    """An encoded notification and the device time (s) at which its last sample was taken."""

    due_device_s: float
    group: int
    frame: int
    ch_lo: int
    data: bytes


class Device:
    """Packetises Blocks of the given channels; one instance is one stream (frame counters from 0).

    ``enabled`` is the montage: the placements that stream (None: all). The
    device still takes whole Blocks of every rate group it samples and drops
    the disabled rows; a rate group with nothing enabled disappears from the
    description.
    """

    def __init__(self, channels: tuple[Channel, ...], config: DeviceConfig = DeviceConfig(),
                 enabled: frozenset[Placement] | None = None) -> None:
        if not channels:
            raise InputError("a device needs at least one channel")
        self.config = config
        self.channels = channels
        """Every channel the sensors sample, streamed or not."""
        rates = list(dict.fromkeys(ch.fs_hz for ch in channels))
        self._inputs = tuple(tuple(ch for ch in channels if ch.fs_hz == fs) for fs in rates)
        streamed = [tuple(ch for ch in g if enabled is None or ch.placement in enabled) for g in self._inputs]
        if not any(streamed):
            raise InputError("the montage enables none of the device's channels")
        self.groups: tuple[tuple[Channel, ...], ...] = tuple(g for g in streamed if g)
        self._routes = [
            (self.groups.index(s), np.array([g.index(ch) for ch in s])) if s else None
            for g, s in zip(self._inputs, streamed)
        ]
        """Per input rate group: (stream group, rows of the input Block that stream), or None."""
        self.description = DeviceDescription(
            config.firmware,
            tuple(RateGroup(g[0].fs_hz, tuple(_spec(ch) for ch in g)) for g in self.groups),
        )
        self.description_bytes = protocol.encode_description(self.description)
        self._lsb = [self.description.lsb(i) for i in range(len(self.groups))]
        self.set_payload_bytes(config.payload_bytes)
        self._frames = [0] * len(self.groups)
        """Frames produced per group (the next frame index)."""
        self._sent_frames = [0] * len(self.groups)
        self._seq = [0] * len(self.groups)
        self._pending: list[list[np.ndarray]] = [[] for _ in self.groups]
        self._record: list[list[np.ndarray]] = [[] for _ in self.groups]
        self._started = False

    def set_payload_bytes(self, payload_bytes: int) -> None:
        """Size packets built from now on to ``payload_bytes`` (the connection's ATT_MTU − 3, from the BLE stack)."""
        self._layout = [protocol.packet_layout(len(g), payload_bytes) for g in self.groups]
        self.payload_bytes = payload_bytes

    def group_of(self, block: Block) -> int | None:
        """The stream group ``block`` feeds (None when the montage disables all its channels)."""
        route = self._route(block)
        return None if route is None else route[0]

    def _route(self, block: Block) -> tuple[int, np.ndarray] | None:
        for g, route in zip(self._inputs, self._routes):
            if block.channels == g:
                return route
        raise InputError(f"block channels {[c.label for c in block.channels]} are not a rate group of this device")

    def feed(self, block: Block) -> list[OutgoingPacket]:
        """Sample ``block`` and return the packets that are complete (a short tail waits for more)."""
        route = self._route(block)
        if route is None:
            return []
        gi, rows = route
        if block.start != self._frames[gi]:
            raise InputError(f"group {gi}: block starts at sample {block.start}, the device is at {self._frames[gi]}")
        counts = protocol.quantise(block.data[rows], self._lsb[gi]).T.copy()
        self._record[gi].append(counts)
        self._pending[gi].append(counts)
        self._frames[gi] += counts.shape[0]
        return self._packets(gi, final=False)

    def finish(self) -> list[OutgoingPacket]:
        """Packets for whatever frames are left (end of stream)."""
        return [p for gi in range(len(self.groups)) for p in self._packets(gi, final=True)]

    def record(self, group: int) -> np.ndarray:
        """Every quantised sample produced for ``group`` so far, frames × channels int16."""
        parts = self._record[group]
        if len(parts) > 1:
            self._record[group] = parts = [np.concatenate(parts)]
        return parts[0] if parts else np.zeros((0, len(self.groups[group])), np.int16)

    def host_time_s(self, device_s: float) -> float:
        """Host-clock time of a device time (the crystal runs ``clock_drift_ppm`` fast)."""
        return device_s / (1 + self.config.clock_drift_ppm * 1e-6)

    def battery_pct(self, device_s: float) -> int:
        c = self.config
        return int(max(0.0, c.battery_pct - c.battery_drain_pct_per_h * device_s / 3600))

    def _packets(self, gi: int, final: bool) -> list[OutgoingPacket]:
        pending = self._pending[gi]
        if not pending:
            return []
        counts = np.concatenate(pending) if len(pending) > 1 else pending[0]
        _, per = self._layout[gi]
        n = counts.shape[0] if final else counts.shape[0] - counts.shape[0] % per
        self._pending[gi] = [counts[n:]] if n < counts.shape[0] else []
        if n == 0:
            return []
        first = self._sent_frames[gi]
        fs = self.groups[gi][0].fs_hz
        frames = first + np.arange(n)
        stamps_us = np.rint(frames * (1e6 / fs)).astype(np.int64)
        flags = 0 if self._started else protocol.FLAG_STREAM_START
        if self.battery_pct(first / fs) < self.config.battery_low_pct:
            flags |= protocol.FLAG_BATTERY_LOW
        self._started = True
        packets = protocol.packetise(gi, counts[:n], first, self._seq[gi], stamps_us, self.payload_bytes, flags)
        self._seq[gi] += len(packets)
        self._sent_frames[gi] += n
        return [
            OutgoingPacket((p.frame + p.n_frames) / fs, gi, p.frame, p.ch_lo, protocol.encode_packet(p))
            for p in packets
        ]


def _spec(ch: Channel) -> ChannelSpec:
    """Scale so that the channel's physical range spans the int16 ADC range."""
    full_scale = max(abs(ch.physical_min), abs(ch.physical_max))
    if not np.isfinite(full_scale) or full_scale <= 0:
        raise InputError(f"channel {ch.label} needs a finite physical range for the device's ADC")
    lsb = float(np.float32(full_scale / protocol.SAMPLE_MAX))
    return ChannelSpec(ch.placement, lsb, EMG_GAIN if ch.modality == "EMG" else ACC_GAIN)


@dataclass(frozen=True)
class LinkFaults:
    """What the radio does to packets. Probabilities are per packet; bursts follow a Gilbert–Elliott model."""

    loss: float = 0.0
    burst_enter: float = 0.0
    """Probability per packet that the link enters a bad spell, in which every packet is lost."""
    burst_exit: float = 0.25
    """Probability per packet that a bad spell ends (mean burst 1/burst_exit packets)."""
    duplicate: float = 0.0
    reorder: float = 0.0
    """Probability a packet is held back and sent after the next one."""
    disconnect_at_s: tuple[float, ...] = ()
    """Device times (s) at which the link drops."""
    outage_s: float = 1.0
    """How long (device time) the device stays unreachable after a drop."""
    refuse_connects: int = 0
    """Connection attempts refused before one is accepted."""
    seed: int = 0


@dataclass
class Radio:
    """Applies LinkFaults to outgoing packets and remembers what really went on the air."""

    faults: LinkFaults = field(default_factory=LinkFaults)
    delivered: set[tuple[int, int, int]] = field(default_factory=set)
    """(group, frame, first channel) of every packet handed to the air at least once."""
    lost: int = 0

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.faults.seed)
        self._bad = False
        self._held: deque[OutgoingPacket] = deque()

    def transmit(self, packet: OutgoingPacket) -> list[OutgoingPacket]:
        """The packets that reach the air when the firmware sends ``packet`` (zero, one or more)."""
        f, rng = self.faults, self._rng
        if f.burst_enter or self._bad:
            self._bad = (rng.random() >= f.burst_exit) if self._bad else (rng.random() < f.burst_enter)
        if self._bad or rng.random() < f.loss:
            self.lost += 1
            return self._release([])
        out = [packet, packet] if rng.random() < f.duplicate else [packet]
        if rng.random() < f.reorder and not self._held:
            self._held.append(packet)
            return []
        return self._release(out)

    def discard_held(self) -> None:
        """The link dropped: a packet held back for reordering never reaches the air."""
        self._held.clear()

    def drain(self) -> list[OutgoingPacket]:
        """Packets held back for reordering (before a disconnect or at the end)."""
        return self._release([])

    def _release(self, out: list[OutgoingPacket]) -> list[OutgoingPacket]:
        out = out + list(self._held)
        self._held.clear()
        for p in out:
            self.delivered.add((p.group, p.frame, p.ch_lo))
        return out
