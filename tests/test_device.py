"""The device model: exact quantisation and packetisation, faults that the receiver can account for."""

from __future__ import annotations

import numpy as np
import pytest

from fascdetect import protocol
from fascdetect.errors import InputError
from fascdetect.sources.sequence import GroupTracker, StreamStats
from firmware_sim.device import Device, DeviceConfig, LinkFaults, Radio
from firmware_sim.generator import Generator
from firmware_sim.scenarios import SimMontage

MONTAGE = SimMontage(emg_regions=("AbH", "FDB", "ADM", "PER"), acc_regions=("ADM",), acc_fs_hz=100)


def _receive(device: Device, packets) -> list[tuple[np.ndarray, np.ndarray]]:
    stats = StreamStats()
    trackers = [GroupTracker(i, len(g), stats) for i, g in enumerate(device.groups)]
    out = [[] for _ in device.groups]
    for p in packets:
        pkt = protocol.decode_packet(p.data)
        out[pkt.group] += trackers[pkt.group].push(pkt)
    result = []
    for gi, t in enumerate(trackers):
        frames = out[gi] + t.flush()
        counts = np.concatenate([f.counts for f in frames])
        gap = np.concatenate([np.zeros(len(f.counts), bool) if f.gap is None else f.gap for f in frames])
        assert frames[0].start == 0
        result.append((counts, gap))
    return result


@pytest.mark.parametrize("payload", [protocol.LEGACY_PAYLOAD_BYTES, 100, protocol.MAX_PAYLOAD_BYTES])
def test_generator_signal_arrives_bit_exact_through_a_clean_link(payload):
    gen = Generator("rest", seed=3, duration_s=6.0, montage=MONTAGE)
    device = Device(gen.channels, DeviceConfig(payload_bytes=payload))
    assert [len(g) for g in device.groups] == [8, 6]
    packets, inputs = [], [[] for _ in device.groups]
    for block in gen.blocks(chunk_s=0.5):
        inputs[device.group_of(block)].append(block.data)
        packets += device.feed(block)
    packets += device.finish()
    assert all(len(p.data) <= payload for p in packets)
    for gi, (counts, gap) in enumerate(_receive(device, packets)):
        assert not gap.any()
        np.testing.assert_array_equal(counts, device.record(gi))
        physical = np.concatenate(inputs[gi], axis=1)
        # the record is the ADC's view of the input: within half an LSB, clipped at the rails
        lsb = device.description.lsb(gi)
        assert np.all(np.abs(protocol.to_physical(counts.T, lsb) - physical) <= lsb[:, None] * 0.5001)


def test_faults_become_exact_gaps_and_nothing_shifts():
    gen = Generator("rest", seed=5, duration_s=20.0, montage=MONTAGE)
    device = Device(gen.channels)
    radio = Radio(LinkFaults(loss=0.02, burst_enter=0.01, burst_exit=0.2, duplicate=0.03, reorder=0.05, seed=9))
    air = []
    for block in gen.blocks(chunk_s=1.0):
        for p in device.feed(block):
            air += radio.transmit(p)
    for p in device.finish():
        air += radio.transmit(p)
    air += radio.drain()
    assert radio.lost > 10
    for gi, (counts, gap) in enumerate(_receive(device, air)):
        record = device.record(gi)
        expected_gap = np.ones(len(record), bool)
        _, per = protocol.packet_layout(len(device.groups[gi]), device.config.payload_bytes)
        for g, frame, _ in radio.delivered:
            if g == gi:
                expected_gap[frame : frame + per] = False
        # a receiver cannot know about packets lost after the last one it got
        assert expected_gap[len(counts) :].all()
        expected_gap, record = expected_gap[: len(counts)], record[: len(counts)]
        assert len(counts) > 0.9 * len(device.record(gi))
        np.testing.assert_array_equal(gap, expected_gap)
        np.testing.assert_array_equal(counts[~gap], record[~gap])
        assert not counts[gap].any(), "lost samples are filled with zeros"


def test_device_clock_drifts_and_battery_falls():
    gen = Generator("rest", seed=1, duration_s=2.0, montage=MONTAGE)
    device = Device(gen.channels, DeviceConfig(clock_drift_ppm=50.0, battery_pct=16.0, battery_drain_pct_per_h=3600.0))
    assert device.host_time_s(1000.0) == pytest.approx(1000.0 / (1 + 50e-6))
    assert device.battery_pct(0.0) == 16 and device.battery_pct(1.5) == 14
    flags = [protocol.decode_packet(p.data).flags for b in gen.blocks(0.5) for p in device.feed(b)]
    assert flags[0] & protocol.FLAG_STREAM_START
    assert flags[-1] & protocol.FLAG_BATTERY_LOW and not flags[0] & protocol.FLAG_BATTERY_LOW


def test_blocks_must_continue_where_the_device_is():
    gen = Generator("rest", seed=1, duration_s=2.0, montage=MONTAGE)
    device = Device(gen.channels)
    blocks = list(gen.blocks(0.5))
    device.feed(blocks[0])
    with pytest.raises(InputError, match="starts at sample"):
        device.feed(blocks[4])


def test_a_montage_streams_only_its_channels_and_drops_empty_rate_groups():
    gen = Generator("rest", seed=3, duration_s=1.0, montage=MONTAGE)
    enabled = frozenset(ch.placement for ch in gen.channels if ch.placement.region == "PER")
    device = Device(gen.channels, enabled=enabled)
    assert [[ch.label for ch in g] for g in device.groups] == [["EMG L-PER", "EMG R-PER"]]
    inputs = []
    for block in gen.blocks(chunk_s=0.5):
        if device.group_of(block) is not None:
            rows = [block.channels.index(ch) for ch in device.groups[0]]
            inputs.append(block.data[rows])
        device.feed(block)
    np.testing.assert_array_equal(device.record(0).T, protocol.quantise(np.concatenate(inputs, axis=1), device.description.lsb(0)))
    with pytest.raises(InputError, match="enables none"):
        Device(gen.channels, enabled=frozenset())
