"""The wire format: packets and descriptions round-trip exactly; the decoder survives any bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect import protocol
from fascdetect.errors import DeviceError, SignalError
from fascdetect.protocol import (
    HEADER_BYTES,
    MAX_PAYLOAD_BYTES,
    ChannelSpec,
    Command,
    DeviceDescription,
    Opcode,
    PacketError,
    RateGroup,
    SamplePacket,
)
from fascdetect.regions import CATALOGUE, Placement

payloads = st.integers(HEADER_BYTES + 2, MAX_PAYLOAD_BYTES)


@st.composite
def quantised(draw):
    n_channels = draw(st.integers(1, 24))
    n_frames = draw(st.integers(1, 200))
    seed = draw(st.integers(0, 2**32 - 1))
    counts = np.random.default_rng(seed).integers(-32768, 32768, size=(n_frames, n_channels), dtype=np.int16)
    return counts


@settings(max_examples=150, deadline=None)
@given(
    counts=quantised(),
    payload=payloads,
    first_seq=st.integers(0, 2**16 - 1),
    first_frame=st.integers(0, 2**32 - 1),
    t0_us=st.integers(0, 2**32 - 1),
)
def test_packets_decode_to_the_exact_samples(counts, payload, first_seq, first_frame, t0_us):
    n_frames, n_channels = counts.shape
    stamps = t0_us + np.arange(n_frames, dtype=np.int64) * 500
    packets = protocol.packetise(3, counts, first_frame, first_seq, stamps, payload, protocol.FLAG_STREAM_START)
    rebuilt = np.zeros_like(counts)
    filled = np.zeros(counts.shape, int)
    for i, packet in enumerate(packets):
        raw = protocol.encode_packet(packet)
        assert len(raw) <= payload
        back = protocol.decode_packet(raw)
        assert back.group == 3
        assert back.seq == (first_seq + i) % protocol.SEQ_MODULO
        assert (back.flags & protocol.FLAG_STREAM_START) == (protocol.FLAG_STREAM_START if i == 0 else 0)
        f = (back.frame - first_frame) % protocol.FRAME_MODULO
        assert back.timestamp_us == stamps[f] % protocol.TIMESTAMP_MODULO
        rebuilt[f : f + back.n_frames, back.ch_lo : back.ch_lo + back.n_channels] = back.samples
        filled[f : f + back.n_frames, back.ch_lo : back.ch_lo + back.n_channels] += 1
    assert (filled == 1).all(), "every sample is in exactly one packet"
    np.testing.assert_array_equal(rebuilt, counts)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decoder_never_crashes_on_arbitrary_bytes(data):
    try:
        packet = protocol.decode_packet(data)
    except PacketError as exc:
        assert exc.reason in {"short", "version", "flags", "empty", "length"}
    else:
        assert protocol.encode_packet(packet) == data


@given(st.binary(min_size=HEADER_BYTES, max_size=300), st.integers(0, 255))
def test_decoder_rejects_other_versions(data, version):
    data = bytes([version]) + data[1:]
    if version != protocol.PACKET_VERSION:
        with pytest.raises(PacketError) as exc:
            protocol.decode_packet(data)
        assert exc.value.reason == "version"


def test_truncated_packet_is_a_length_error():
    packet = SamplePacket(0, 1, 2, 3, 0, 0, np.arange(16, dtype=np.int16).reshape(2, 8))
    raw = protocol.encode_packet(packet)
    with pytest.raises(PacketError) as exc:
        protocol.decode_packet(raw[:-1])
    assert exc.value.reason == "length"


def test_a_full_dle_packet_carries_fourteen_frames_of_eight_channels():
    assert protocol.packet_layout(8, MAX_PAYLOAD_BYTES) == (8, 14)
    # legacy 20-byte payloads split a frame into channel chunks
    assert protocol.packet_layout(8, protocol.LEGACY_PAYLOAD_BYTES) == (2, 1)


placements = st.builds(
    lambda mod, side, region, axis: Placement(mod, side, region, axis if mod == "ACC" else None),
    st.sampled_from(["EMG", "ACC"]),
    st.sampled_from(["L", "R"]),
    st.sampled_from([r.code for r in CATALOGUE]),
    st.sampled_from(["X", "Y", "Z"]),
)
specs = st.builds(
    ChannelSpec,
    placements,
    st.floats(0.0009765625, 10.0, width=32),
    st.floats(1.0, 24.0, width=32),
)
groups = st.builds(RateGroup, st.sampled_from([50.0, 100.0, 500.0, 1000.0, 2000.0, 4000.0]), st.lists(specs, min_size=1, max_size=8).map(tuple))


@given(st.lists(groups, min_size=1, max_size=3).map(tuple), st.tuples(*[st.integers(0, 255)] * 3))
def test_description_round_trips(groups_, version):
    desc = DeviceDescription(".".join(map(str, version)), groups_)
    back = protocol.decode_description(protocol.encode_description(desc))
    assert back == desc
    channels = back.channels()
    for group, chans in zip(groups_, channels):
        for spec, ch in zip(group.channels, chans):
            assert ch.label == spec.placement.label()
            assert ch.fs_hz == group.fs_hz
            assert ch.physical_max == pytest.approx(32767 * spec.lsb)


@given(st.binary(max_size=120))
def test_description_decoder_raises_device_error_on_garbage(data):
    try:
        protocol.decode_description(data)
    except DeviceError:
        pass


def test_description_too_long_for_gatt_is_refused():
    spec = ChannelSpec(Placement("EMG", "L", "ADM"), 0.2, 12.0)
    with pytest.raises(ValueError, match="512"):
        protocol.encode_description(DeviceDescription("1.0.0", (RateGroup(2000.0, (spec,) * 40),)))


@pytest.mark.parametrize(
    "command",
    [Command(Opcode.START), Command(Opcode.STOP), Command(Opcode.SET_RATES, (2_000_000, 100_000)), Command(Opcode.SET_MONTAGE, (1, 0, 1))],
)
def test_commands_round_trip(command):
    assert protocol.decode_command(protocol.encode_command(command)) == command


@pytest.mark.parametrize("raw", [b"", b"\x09", b"\x01\x00", b"\x03\x01\x02", b"\x04\x05"])
def test_bad_commands_are_rejected(raw):
    with pytest.raises(PacketError):
        protocol.decode_command(raw)


def test_quantise_clips_at_the_rails_and_inverts_within_half_an_lsb():
    lsb = np.array([0.5, 2.0])
    x = np.array([[0.0, 1.2, -1e9, 1e9], [3.0, -3.1, 7.9, 0.9]])
    counts = protocol.quantise(x, lsb)
    assert counts[0, 2] == protocol.SAMPLE_MIN and counts[0, 3] == protocol.SAMPLE_MAX
    back = protocol.to_physical(counts, lsb)
    inside = np.abs(x) < 1e6
    assert np.all(np.abs(back - x)[inside] <= lsb[:, None].repeat(4, 1)[inside] / 2 + 1e-6)


def test_quantise_refuses_nan():
    with pytest.raises(SignalError):
        protocol.quantise(np.array([[np.nan]]), np.array([1.0]))
