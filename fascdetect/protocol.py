"""The BLE wire format of the wearable, defined once: UUIDs, device description, commands, sample packets.

The firmware simulator encodes with these functions and the BLE source
decodes with them, so the two can never disagree. Everything is
little-endian; byte tables are in docs/ble-protocol.md.

Decoding is strict because a radio link delivers garbage now and then: any
packet that is short, inconsistent or of an unknown version raises
:class:`PacketError` carrying a short machine-readable ``reason``, which the
caller counts and logs before dropping the packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from fascdetect.errors import DeviceError, SignalError
from fascdetect.model import Channel
from fascdetect.regions import AXES, MODALITIES, REGIONS, SIDES, Placement

# A random 128-bit base; the 16-bit slot at bytes 2..3 tells the attributes apart.
SERVICE_UUID = "f5a50001-6d2b-4b8e-9c3a-2f1e8d7c6b5a"
DATA_CHAR_UUID = "f5a50002-6d2b-4b8e-9c3a-2f1e8d7c6b5a"
"""Notify: sample packets."""
CONTROL_CHAR_UUID = "f5a50003-6d2b-4b8e-9c3a-2f1e8d7c6b5a"
"""Write (with response): commands."""
INFO_CHAR_UUID = "f5a50004-6d2b-4b8e-9c3a-2f1e8d7c6b5a"
"""Read: the device description."""
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_CHAR_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
"""Read/notify: one byte, percent (Bluetooth SIG Battery Level)."""

PACKET_VERSION = 1
DESCRIPTION_VERSION = 1
SAMPLE_BITS = 16
SAMPLE_MIN = -(1 << (SAMPLE_BITS - 1))
SAMPLE_MAX = (1 << (SAMPLE_BITS - 1)) - 1
SEQ_MODULO = 1 << 16
FRAME_MODULO = 1 << 32
TIMESTAMP_MODULO = 1 << 32
"""Device timestamps are microseconds of the device clock and wrap after ~71.6 minutes."""

LEGACY_PAYLOAD_BYTES = 20
"""ATT_MTU 23 minus the 3-byte notification header."""
MAX_PAYLOAD_BYTES = 244
"""ATT_MTU 247 (data-length extension) minus the 3-byte header."""

_HEADER = struct.Struct("<BBHIIBBBB")
HEADER_BYTES = _HEADER.size

FLAG_CLIPPED = 0x01
"""At least one sample in the packet sits at an ADC rail."""
FLAG_BATTERY_LOW = 0x02
FLAG_STREAM_START = 0x04
"""First packet of a stream (frame counter restarted at 0)."""
KNOWN_FLAGS = FLAG_CLIPPED | FLAG_BATTERY_LOW | FLAG_STREAM_START


class PacketError(ValueError):
    """A packet that cannot be decoded; ``reason`` is a short key for counting drops."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class SamplePacket:
    """One notification: ``samples`` is int16, frames × channels ``ch_lo .. ch_lo+n_ch-1`` of one rate group."""

    group: int
    seq: int
    frame: int
    timestamp_us: int
    flags: int
    ch_lo: int
    samples: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[1])


def encode_packet(packet: SamplePacket) -> bytes:
    """Bytes of ``packet`` as the firmware sends them."""
    samples = np.asarray(packet.samples)
    if samples.ndim != 2 or samples.shape[0] < 1 or samples.shape[1] < 1:
        raise ValueError("a packet needs at least one frame of at least one channel")
    if samples.shape[0] > 255 or samples.shape[1] > 255:
        raise ValueError("at most 255 frames and 255 channels per packet")
    header = _HEADER.pack(
        PACKET_VERSION,
        packet.group,
        packet.seq % SEQ_MODULO,
        packet.frame % FRAME_MODULO,
        packet.timestamp_us % TIMESTAMP_MODULO,
        packet.flags,
        packet.ch_lo,
        samples.shape[1],
        samples.shape[0],
    )
    return header + samples.astype("<i2", copy=False).tobytes()


def decode_packet(data: bytes | bytearray | memoryview) -> SamplePacket:
    """Parse one notification, or raise PacketError with the reason it is unusable."""
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise PacketError("short", f"{len(data)} bytes, a header needs {HEADER_BYTES}")
    version, group, seq, frame, timestamp_us, flags, ch_lo, n_ch, n_frames = _HEADER.unpack_from(data)
    if version != PACKET_VERSION:
        raise PacketError("version", f"packet version {version}, this build reads {PACKET_VERSION}")
    if flags & ~KNOWN_FLAGS:
        raise PacketError("flags", f"unknown flag bits 0x{flags & ~KNOWN_FLAGS:02x}")
    if n_ch == 0 or n_frames == 0:
        raise PacketError("empty", f"{n_frames} frames of {n_ch} channels")
    expected = HEADER_BYTES + 2 * n_ch * n_frames
    if len(data) != expected:
        raise PacketError("length", f"{len(data)} bytes, header says {expected}")
    samples = np.frombuffer(data, dtype="<i2", offset=HEADER_BYTES).reshape(n_frames, n_ch)
    return SamplePacket(group, seq, frame, timestamp_us, flags, ch_lo, samples.astype(np.int16))


def packet_layout(n_channels: int, payload_bytes: int) -> tuple[int, int]:
    """(channels per packet, frames per packet) for a rate group of ``n_channels``.

    When a whole frame fits, a packet carries every channel and as many
    frames as fit; on small payloads (legacy 20 bytes) a frame is split
    into channel chunks, one frame per packet.
    """
    if payload_bytes > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload {payload_bytes} bytes exceeds the BLE maximum {MAX_PAYLOAD_BYTES}")
    room = (payload_bytes - HEADER_BYTES) // 2
    if room < 1:
        raise ValueError(f"payload {payload_bytes} bytes cannot hold a header and one sample")
    if room >= n_channels:
        return n_channels, min(255, room // n_channels)
    return room, 1


def packetise(
    group: int,
    counts: np.ndarray,
    first_frame: int,
    first_seq: int,
    timestamps_us: np.ndarray,
    payload_bytes: int,
    flags: int = 0,
) -> list[SamplePacket]:
    """Split ``counts`` (frames × channels, int16) into packets that fit ``payload_bytes``.

    ``timestamps_us`` holds the device time of each frame; a packet carries
    the time of its first frame. Sequence numbers run on from ``first_seq``.
    The caller passes whole packets' worth of frames (see packet_layout); a
    short tail becomes a shorter packet.
    """
    n_frames, n_channels = counts.shape
    ch_per, fr_per = packet_layout(n_channels, payload_bytes)
    packets = []
    seq = first_seq
    for f0 in range(0, n_frames, fr_per):
        chunk = counts[f0 : f0 + fr_per]
        rails = (chunk == SAMPLE_MIN) | (chunk == SAMPLE_MAX)
        for c0 in range(0, n_channels, ch_per):
            part = chunk[:, c0 : c0 + ch_per]
            clip = FLAG_CLIPPED if rails[:, c0 : c0 + ch_per].any() else 0
            packets.append(
                SamplePacket(group, seq % SEQ_MODULO, first_frame + f0, int(timestamps_us[f0]), flags | clip, c0, part)
            )
            seq += 1
            flags &= ~FLAG_STREAM_START
    return packets


# ---------------------------------------------------------------- description

@dataclass(frozen=True)
class ChannelSpec:
    """One channel as the device describes it; ``lsb`` is the physical value of one ADC count."""

    placement: Placement
    lsb: float
    gain: float

    @property
    def unit(self) -> str:
        return "uV" if self.placement.modality == "EMG" else "mg"


@dataclass(frozen=True)
class RateGroup:
    """Channels sampled together at ``fs_hz``; packets of one group never mix rates."""

    fs_hz: float
    channels: tuple[ChannelSpec, ...]


@dataclass(frozen=True)
class DeviceDescription:
    """What the read characteristic says: firmware version and the rate groups in packet order."""

    firmware: str
    groups: tuple[RateGroup, ...]

    def channels(self) -> tuple[tuple[Channel, ...], ...]:
        """fascdetect Channels per rate group; the physical range is the ADC's int16 range times lsb."""
        return tuple(
            tuple(
                Channel(
                    label=spec.placement.label(),
                    placement=spec.placement,
                    fs_hz=group.fs_hz,
                    unit=spec.unit,
                    physical_min=SAMPLE_MIN * spec.lsb,
                    physical_max=SAMPLE_MAX * spec.lsb,
                )
                for spec in group.channels
            )
            for group in self.groups
        )

    def lsb(self, group: int) -> np.ndarray:
        """float32 scale (physical units per count) for each channel of ``group``."""
        return np.array([spec.lsb for spec in self.groups[group].channels], dtype=np.float32)


_DESC_HEAD = struct.Struct("<BBBBB")
_GROUP_HEAD = struct.Struct("<IB")
_CHANNEL = struct.Struct("<B1s4s1sff")
MAX_DESCRIPTION_BYTES = 512
"""The longest value a GATT attribute may hold."""


def encode_description(desc: DeviceDescription) -> bytes:
    """Binary description (compact: a GATT value holds at most 512 bytes)."""
    major, minor, patch = (int(p) for p in desc.firmware.split("."))
    out = [_DESC_HEAD.pack(DESCRIPTION_VERSION, major, minor, patch, len(desc.groups))]
    for group in desc.groups:
        out.append(_GROUP_HEAD.pack(round(group.fs_hz * 1000), len(group.channels)))
        for spec in group.channels:
            p = spec.placement
            out.append(
                _CHANNEL.pack(
                    MODALITIES.index(p.modality),
                    p.side.encode(),
                    p.region.encode().ljust(4, b"\0"),
                    (p.axis or "-").encode(),
                    spec.lsb,
                    spec.gain,
                )
            )
    raw = b"".join(out)
    if len(raw) > MAX_DESCRIPTION_BYTES:
        raise ValueError(f"description is {len(raw)} bytes, a GATT value holds {MAX_DESCRIPTION_BYTES}")
    return raw


def decode_description(data: bytes | bytearray) -> DeviceDescription:
    """Parse the read characteristic, or raise DeviceError saying what is wrong with it."""
    data = bytes(data)
    try:
        version, major, minor, patch, n_groups = _DESC_HEAD.unpack_from(data)
        if version != DESCRIPTION_VERSION:
            raise DeviceError(f"device description version {version} is not supported (this build reads {DESCRIPTION_VERSION}); update fascdetect")
        offset = _DESC_HEAD.size
        groups = []
        for _ in range(n_groups):
            fs_mhz, n_ch = _GROUP_HEAD.unpack_from(data, offset)
            offset += _GROUP_HEAD.size
            specs = []
            for _ in range(n_ch):
                spec = _decode_channel(data, offset)
                offset += _CHANNEL.size
                specs.append(spec)
            if fs_mhz == 0 or not specs:
                raise DeviceError("device description has a rate group with no rate or no channels")
            groups.append(RateGroup(fs_mhz / 1000, tuple(specs)))
    except struct.error:
        raise DeviceError(f"device description is truncated ({len(data)} bytes)") from None
    if offset != len(data):
        raise DeviceError(f"device description has {len(data) - offset} unexpected trailing bytes")
    return DeviceDescription(f"{major}.{minor}.{patch}", tuple(groups))


def _decode_channel(data: bytes, offset: int) -> ChannelSpec:
    modality_i, side_b, region_b, axis_b, lsb, gain = _CHANNEL.unpack_from(data, offset)
    try:
        modality = MODALITIES[modality_i]
        side = side_b.decode("ascii")
        region = region_b.rstrip(b"\0").decode("ascii")
        axis_s = axis_b.decode("ascii")
    except (IndexError, UnicodeDecodeError):
        raise DeviceError(f"device description: unreadable channel entry at byte {offset}") from None
    axis = None if axis_s == "-" else axis_s
    if side not in SIDES or region not in REGIONS or (axis is not None and axis not in AXES):
        raise DeviceError(f"device description: unknown placement {modality} {side}-{region} axis {axis_s!r}")
    if (modality == "ACC") != (axis is not None):
        raise DeviceError(f"device description: {modality} channel {side}-{region} with axis {axis_s!r}")
    if not np.isfinite(lsb) or lsb <= 0:
        raise DeviceError(f"device description: channel {side}-{region} has an invalid scale {lsb}")
    return ChannelSpec(Placement(modality, side, region, axis), float(lsb), float(gain))


# ------------------------------------------------------------------- commands

class Opcode(IntEnum):
    START = 0x01
    STOP = 0x02
    SET_RATES = 0x03
    """Payload: one little-endian u32 rate in mHz per rate group, in group order."""
    SET_MONTAGE = 0x04
    """Payload: one u8 per channel of the description, 1 = enabled."""


@dataclass(frozen=True)
class Command:
    opcode: Opcode
    args: tuple[int, ...] = ()


def encode_command(command: Command) -> bytes:
    fmt = "<I" if command.opcode == Opcode.SET_RATES else "<B"
    return bytes([command.opcode]) + b"".join(struct.pack(fmt, a) for a in command.args)


def decode_command(data: bytes | bytearray) -> Command:
    """Parse a write to the control characteristic, or raise PacketError."""
    data = bytes(data)
    if not data:
        raise PacketError("short", "empty command")
    try:
        opcode = Opcode(data[0])
    except ValueError:
        raise PacketError("opcode", f"unknown command 0x{data[0]:02x}") from None
    body = data[1:]
    if opcode in (Opcode.START, Opcode.STOP):
        if body:
            raise PacketError("length", f"{opcode.name} takes no arguments")
        return Command(opcode)
    if opcode == Opcode.SET_RATES:
        if not body or len(body) % 4:
            raise PacketError("length", "SET_RATES needs one u32 per rate group")
        return Command(opcode, struct.unpack(f"<{len(body) // 4}I", body))
    if not body or any(b > 1 for b in body):
        raise PacketError("length", "SET_MONTAGE needs one 0/1 byte per channel")
    return Command(opcode, tuple(body))


def quantise(data_phys: np.ndarray, lsb: np.ndarray) -> np.ndarray:
    """ADC counts (int16, clipped at the rails) for physical samples, channels × samples."""
    if not np.all(np.isfinite(data_phys)):
        raise SignalError("samples contain NaN or infinite values; an ADC cannot produce them")
    counts = np.rint(np.asarray(data_phys, dtype=np.float64) / np.asarray(lsb, dtype=np.float64)[:, None])
    return np.clip(counts, SAMPLE_MIN, SAMPLE_MAX).astype(np.int16)


def to_physical(counts: np.ndarray, lsb: np.ndarray) -> np.ndarray:
    """float32 physical samples (channels × samples) for ADC counts; the exact inverse used by every reader."""
    return counts.astype(np.float32) * np.asarray(lsb, dtype=np.float32)[:, None]
