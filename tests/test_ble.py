"""End to end with real bleak against the stand-in BlueZ on a private dbus-daemon.

Each test starts its own dbus-daemon (ended by PID in the fixture). The
device streams faster than real time (``speed``), which changes only the
pacing, never the samples.
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import pytest

from fascdetect import protocol
from fascdetect.sources import Source
from fascdetect.sources.ble import BleOptions, BleSource
from fascdetect.errors import DeviceError
from firmware_sim.bluez import DeviceConfig, LinkFaults, start_private_bluez
from firmware_sim.scenarios import SimMontage

MONTAGE = SimMontage(emg_regions=("AbH", "FDB", "ADM", "PER"), acc_regions=("ADM",), acc_fs_hz=100)
"""8 EMG channels at 2 kHz (both feet, four regions) and 6 ACC channels at 100 Hz."""


@pytest.fixture
def bluez(monkeypatch):
    handles = []

    def start(**kwargs):
        handle = start_private_bluez("rest", seed=11, montage=MONTAGE, **kwargs)
        handles.append(handle)
        for key, value in handle.env.items():
            monkeypatch.setenv(key, value)
        return handle

    yield start
    for handle in handles:
        handle.stop()


def _finish(handle, source: BleSource, timeout_s: float) -> None:
    """Wait for the device to send its last packet and the source to take it in, then close the source."""
    assert handle.wait_finished(timeout=timeout_s)
    seen, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        count = source.stats.packets + source.stats.duplicates + source.stats.late
        if count == seen:
            break
        seen = count
        time.sleep(0.3)
    source.close()


def _collect(source: BleSource, blocks=None) -> dict[float, tuple[int, np.ndarray, np.ndarray]]:
    """Per rate: (first index, samples channels × n, gap mask) from the blocks, checking contiguity."""
    parts: dict[float, list] = {}
    for block in source.blocks() if blocks is None else blocks:
        prev = parts.setdefault(block.fs_hz, [])
        if prev:
            assert block.start == prev[-1].end, "blocks are contiguous: nothing duplicated or shifted"
        prev.append(block)
    out = {}
    for fs, blocks in parts.items():
        data = np.concatenate([b.data for b in blocks], axis=1)
        gap = np.concatenate([np.zeros(b.n, bool) if b.gap is None else b.gap for b in blocks])
        out[fs] = (blocks[0].start, data, gap)
    return out


def _expected(record, group: int, n: int, payload: int = protocol.MAX_PAYLOAD_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """The device's samples in physical units and its own account of what never reached the air."""
    counts = record.counts[group][:n]
    ch_per, fr_per = protocol.packet_layout(counts.shape[1], payload)
    chunks = -(-counts.shape[1] // ch_per)
    sent = np.zeros(len(record.counts[group]), int)
    for g, frame, _ in record.delivered:
        if g == group:
            sent[frame : frame + fr_per] += 1
    return protocol.to_physical(counts.T, record.lsb[group]), (sent < chunks)[:n]


def test_sixty_seconds_arrive_bit_exact(bluez):
    handle = bluez(duration_s=60.0, speed=0)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5))
    assert isinstance(source, Source)
    assert len(source.channels) == 14 and {ch.fs_hz for ch in source.channels} == {2000.0, 100.0}
    assert source.mtu_size == protocol.MAX_PAYLOAD_BYTES + 3, "the device's offer: BlueZ offers more"
    _finish(handle, source, 120)
    got = _collect(source)
    record = handle.record()
    assert record.status.sent > 60 * 140
    for group, fs in enumerate((2000.0, 100.0)):
        start, data, gap = got[fs]
        assert start == 0
        assert data.shape[1] == 60 * fs, "every sample of the minute arrived"
        expected, _ = _expected(record, group, data.shape[1])
        assert not gap.any()
        np.testing.assert_array_equal(data, expected)
    assert source.stats.duplicates == 0 and not source.stats.drops
    assert source.battery_pct == handle.peripheral.firmware.battery_pct(60.0) < 100, "battery notifications arrive"


def test_loss_and_a_mid_stream_disconnect_become_exact_gaps(bluez):
    faults = LinkFaults(loss=0.01, burst_enter=0.005, burst_exit=0.3, duplicate=0.01, reorder=0.02,
                        disconnect_at_s=(12.0,), outage_s=2.0, seed=4)
    handle = bluez(duration_s=30.0, speed=10, faults=faults)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, backoff_first_s=0.05, backoff_max_s=0.2))
    _finish(handle, source, 60)
    got = _collect(source)
    record = handle.record()
    assert record.status.connects == 2 and len(record.status.drops) == 1
    assert len(source.outages) == 1 and source.outages[0].duration_s is not None
    _assert_exact(got, record)
    for fs in (2000.0, 100.0):
        # the outage: a run of at least its length, reported with its sample count
        lost = source.outages[0].lost_samples[fs]
        assert lost >= 2.0 * fs * 0.9
        assert got[fs][2].sum() >= lost
    assert source.stats.duplicates > 0


def test_a_link_dropped_from_outside_resumes_the_same_stream(bluez):
    handle = bluez(duration_s=8.0, speed=4)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, backoff_first_s=0.05, backoff_max_s=0.2))
    blocks = source.blocks()
    early = [next(blocks) for _ in range(10)]
    # the clock fit maps device time to host time, whatever the device's rate (4x here)
    last = early[-1]
    assert abs((source.wall_time(last.fs_hz, last.end - 1) - datetime.now()).total_seconds()) < 0.5
    handle.drop_link(outage_s=1.0)
    _finish(handle, source, 30)
    got = _collect(source, early + list(blocks))
    record = handle.record()
    assert record.status.connects == 2 and len(source.outages) == 1
    _assert_exact(got, record)
    gap = got[2000.0][2]
    runs = np.flatnonzero(np.diff(gap.astype(np.int8)))
    assert len(runs) == 2, "one gap"
    assert runs[1] - runs[0] == source.outages[0].lost_samples[2000.0]
    assert got[2000.0][1].shape[1] == 8 * 2000


def _assert_exact(got, record) -> None:
    """Every sample that reached the air arrives bit-exact at its index; the rest is a zero-filled, marked gap."""
    for group, fs in enumerate((2000.0, 100.0)):
        start, data, gap = got[fs]
        assert start == 0
        expected, missing = _expected(record, group, data.shape[1])
        np.testing.assert_array_equal(gap, missing)
        np.testing.assert_array_equal(data[:, ~gap], expected[:, ~gap])
        assert not data[:, gap].any()


def test_a_refused_connection_is_retried(bluez):
    handle = bluez(duration_s=2.0, speed=4, faults=LinkFaults(refuse_connects=1))
    handle.refuse_connects(1)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, backoff_first_s=0.05))
    _finish(handle, source, 30)
    got = _collect(source)
    assert handle.record().status.refused == 2
    assert got[2000.0][1].shape[1] == 2 * 2000


def test_acquire_notify_streams_the_same_samples(bluez):
    handle = bluez(duration_s=3.0, speed=0)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, use_acquire_notify=True))
    _finish(handle, source, 30)
    got = _collect(source)
    record = handle.record()
    expected, _ = _expected(record, 0, 3 * 2000)
    np.testing.assert_array_equal(got[2000.0][1], expected)


def test_a_legacy_mtu_gives_20_byte_payloads_that_still_arrive_exact(bluez):
    payload = protocol.LEGACY_PAYLOAD_BYTES
    handle = bluez(duration_s=1.0, speed=0, central_mtu=23)
    handle.set_faults(LinkFaults(loss=0.01, seed=2))
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5))
    assert source.mtu_size == 23 and handle.peripheral.firmware.payload_bytes == payload
    _finish(handle, source, 60)
    got = _collect(source)
    record = handle.record()
    assert record.status.sent > 8000, "2 channels per 20-byte packet: 4 packets per EMG frame"
    for group, fs in enumerate((2000.0, 100.0)):
        _, data, gap = got[fs]
        expected, missing = _expected(record, group, data.shape[1], payload)
        assert gap.any()
        np.testing.assert_array_equal(gap, missing)
        np.testing.assert_array_equal(data[:, ~gap], expected[:, ~gap])


def test_set_rates_streams_at_the_new_rates_bit_exact(bluez):
    handle = bluez(duration_s=2.0, speed=0)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, emg_fs_hz=1000, acc_fs_hz=50))
    assert [g.fs_hz for g in source.description.groups] == [1000.0, 50.0]
    _finish(handle, source, 30)
    got = _collect(source)
    record = handle.record()
    for group, fs in enumerate((1000.0, 50.0)):
        _, data, gap = got[fs]
        assert data.shape[1] == 2 * fs and not gap.any()
        np.testing.assert_array_equal(data, _expected(record, group, data.shape[1])[0])


def test_set_montage_streams_only_the_chosen_channels(bluez):
    handle = bluez(duration_s=1.0, speed=0, central_mtu=23)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, regions=("adm",), modalities=("EMG",)))
    assert [ch.label for ch in source.channels] == ["EMG L-ADM", "EMG R-ADM"]
    assert handle.peripheral.firmware.payload_bytes == 20, "the rebuilt firmware keeps the link's payload size"
    assert protocol.decode_description(handle.peripheral.info_char.value) == source.description
    _finish(handle, source, 30)
    got = _collect(source)
    assert set(got) == {2000.0}
    _, data, _ = got[2000.0]
    np.testing.assert_array_equal(data, _expected(handle.record(), 0, 2000, payload=20)[0])


def test_an_invalid_rate_is_a_clear_error(bluez):
    handle = bluez(duration_s=1.0)
    with pytest.raises(DeviceError, match=r"refused SET_RATES.*EMG sampling rate must be a whole number of Hz in 500–4000, not 5000"):
        BleSource(handle.address, BleOptions(scan_timeout_s=5, emg_fs_hz=5000))
    assert not handle.peripheral.streaming and not handle.peripheral.device.connected


def test_scan_command_lists_the_wearable(bluez, capsys):
    from fascdetect.cli import main

    handle = bluez(duration_s=1.0, config=DeviceConfig(name="FascSense-7", battery_pct=87.0))
    assert main(["scan", "--timeout", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESS", "RSSI", "BATTERY"]
    name, address, rssi, _dbm, battery = lines[1].split()
    assert (name, address, battery) == ("FascSense-7", handle.address, "87%")
    assert -100 < int(rssi) < 0


def test_a_missing_device_is_a_clear_error(bluez):
    bluez(duration_s=1.0)
    with pytest.raises(DeviceError, match="no fascdetect wearable found"):
        BleSource("Someone-Else", BleOptions(scan_timeout_s=0.5, connect_timeout_s=0.5))


def test_closing_mid_stream_stops_the_device_and_ends_the_blocks(bluez):
    handle = bluez(duration_s=None, speed=2)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5))
    blocks = source.blocks()
    first = [next(blocks) for _ in range(5)]
    source.close()
    rest = list(blocks)
    assert all(b.gap is None for b in first + rest)
    assert not handle.peripheral.device.connected
    assert not handle.peripheral.streaming, "the device got STOP"


def test_giving_up_after_a_long_outage_is_a_clear_error_after_the_last_block(bluez):
    handle = bluez(duration_s=None, speed=1)
    source = BleSource(handle.address, BleOptions(scan_timeout_s=5, backoff_first_s=0.05, backoff_max_s=0.1, give_up_after_s=0.5))
    blocks = source.blocks()
    received = [next(blocks) for _ in range(3)]
    handle.drop_link(outage_s=3600.0)
    with pytest.raises(DeviceError, match="could not reconnect within 0.5 s"):
        received += list(blocks)
    assert sum(b.n for b in received if b.fs_hz == 2000.0) > 0
    assert len(source.outages) == 1 and source.outages[0].duration_s is None


def test_demo_entry_point_prints_the_environment_and_stops_cleanly(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "firmware_sim.bluez", "--name", "Demo-1"], stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        env = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[:2])
        assert set(env) == {"DBUS_SYSTEM_BUS_ADDRESS", "PATH"} and "Demo-1" in lines[2]
        socket_path = env["DBUS_SYSTEM_BUS_ADDRESS"].removeprefix("unix:path=").split(",")[0].strip("'")
        assert os.path.exists(socket_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert not os.path.exists(socket_path), "the private bus is gone"


def test_no_bluez_is_a_clear_error_at_once(monkeypatch, tmp_path):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    started = time.monotonic()
    with pytest.raises(DeviceError, match="is BlueZ running"):
        BleSource("FascSense-sim")
    assert time.monotonic() - started < 5, "no retrying against a bus that is not there"
