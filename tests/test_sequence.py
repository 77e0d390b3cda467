"""Sequence tracking: loss becomes exact gaps, duplicates vanish, reordering is undone, drift is measured."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect import protocol
from fascdetect.sources.sequence import ClockTracker, GroupTracker, StreamStats, unwrap


def _packets(n_frames: int, n_channels: int, payload: int, first_frame: int, first_seq: int, seed: int):
    counts = np.random.default_rng(seed).integers(-32768, 32768, size=(n_frames, n_channels), dtype=np.int16)
    stamps = np.arange(n_frames, dtype=np.int64) * 500 + 123
    return counts, protocol.packetise(0, counts, first_frame, first_seq, stamps, payload)


def _run(tracker: GroupTracker, packets) -> tuple[int, np.ndarray, np.ndarray]:
    out = []
    for p in packets:
        out += tracker.push(protocol.decode_packet(protocol.encode_packet(p)))
    out += tracker.flush()
    for a, b in zip(out, out[1:]):
        assert b.start == a.start + a.counts.shape[0], "frames come out contiguous"
    counts = np.concatenate([f.counts for f in out])
    gap = np.concatenate([np.zeros(f.counts.shape[0], bool) if f.gap is None else f.gap for f in out])
    return out[0].start, counts, gap


@settings(max_examples=40, deadline=None)
@given(
    n_frames=st.integers(50, 400),
    n_channels=st.integers(1, 12),
    payload=st.sampled_from([20, 64, 128, 244]),
    first_seq=st.integers(0, 2**16 - 1),
    first_frame=st.sampled_from([0, 2**32 - 300]),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_loss_duplicates_and_reordering(n_frames, n_channels, payload, first_seq, first_frame, seed, data):
    counts, packets = _packets(n_frames, n_channels, payload, first_frame, first_seq, seed)
    rng = np.random.default_rng(seed)
    # keep the first and last packet so the stream's extent is known
    loss = data.draw(st.sampled_from([0.0, 0.05, 0.3]))
    lost = {i for i in range(1, len(packets) - 1) if rng.random() < loss}
    sent = [p for i, p in enumerate(packets) if i not in lost]
    sent = [p for p in sent for _ in range(2 if rng.random() < 0.1 else 1)]  # duplicates
    order = np.arange(len(sent), dtype=float) + rng.uniform(0, 4, len(sent))  # reorder by up to ~4 packets
    order[0] = -1  # a tracker that joins a running stream starts at the first packet it sees
    sent = [sent[i] for i in np.argsort(order, kind="stable")]

    stats = StreamStats()
    start, got, gap = _run(GroupTracker(0, n_channels, stats), sent)
    assert start % protocol.FRAME_MODULO == first_frame
    assert got.shape == counts.shape
    expected_gap = np.zeros(n_frames, bool)
    for i in lost:
        p = packets[i]
        f = (p.frame - first_frame) % protocol.FRAME_MODULO
        expected_gap[f : f + p.n_frames] = True
    np.testing.assert_array_equal(gap, expected_gap)
    np.testing.assert_array_equal(got[~gap], counts[~gap])
    assert stats.late == 0
    assert stats.lost_packets == len(lost)
    assert stats.gap_frames[0] == expected_gap.sum()
    assert stats.packets == len(packets) - len(lost)
    assert stats.duplicates == len(sent) - stats.packets


def test_a_long_outage_is_one_gap_of_the_exact_length():
    # one channel in 20-byte payloads: 2 frames per packet, so 70 000 lost packets wrap the
    # 16-bit sequence number; the frame counter still resolves the count
    counts, packets = _packets(2 * 70_300, 1, 20, 0, 65_000, 1)
    sent = packets[:100] + packets[70_100:]
    stats = StreamStats()
    _, got, gap = _run(GroupTracker(0, 1, stats), sent)
    assert gap.sum() == 70_000 * 2
    assert np.flatnonzero(gap)[0] == 100 * 2
    np.testing.assert_array_equal(got[~gap], counts[~gap])
    assert stats.lost_packets == 70_000


def test_a_packet_arriving_after_its_hole_was_given_up_is_dropped_as_late():
    counts, packets = _packets(14 * 200, 8, 244, 0, 0, 2)
    tracker = GroupTracker(0, 8, StreamStats(), window_frames=14 * 4)
    late = packets[10]
    stats = tracker._stats
    _run(tracker, packets[:10] + packets[11:60] + [late] + packets[60:])
    assert stats.late == 1


def test_unwrap_picks_the_nearest_value():
    assert unwrap(2, 65_534, 65_536) == 65_538
    assert unwrap(65_534, 2, 65_536) == -2


def test_clock_tracker_measures_drift_across_timestamp_wraps():
    rng = np.random.default_rng(0)
    clock = ClockTracker()
    drift_ppm = 40.0
    device_us = np.arange(0, 5 * 3600 * 10**6, 10**6 // 7, dtype=np.int64)  # 5 h, past a 32-bit µs wrap
    host_s = 1000.0 + device_us / 1e6 * (1 + drift_ppm * 1e-6) + rng.uniform(0, 0.015, len(device_us))
    for d, h in zip(device_us, host_s):
        clock.add(int(d % protocol.TIMESTAMP_MODULO), float(h))
    assert abs(clock.drift_ppm - drift_ppm) < 1.0
    last = int(device_us[-1] % protocol.TIMESTAMP_MODULO)
    assert abs(clock.host_time_s(last) - (host_s[-1] - 0.0075)) < 0.02
