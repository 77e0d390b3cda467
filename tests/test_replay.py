"""ReplaySource over real EDF files: same samples, time order, pacing, looping."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from fascdetect.errors import InputError
from fascdetect.io import open_recording
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Block, Channel
from fascdetect.regions import parse_label
from fascdetect.sources import Source
from fascdetect.sources.replay import ReplaySource

EMG = (Channel("EMG L-ADM", parse_label("EMG L-ADM"), 2000.0, physical_min=-5000, physical_max=5000),)
ACC = (Channel("ACC L-ADM-Z", parse_label("ACC L-ADM-Z"), 400.0, physical_min=-16000, physical_max=16000),)


def recording(tmp_path: Path, seconds: float, record_s: float = 0.5) -> Path:
    """A mixed-rate EDF+ whose samples encode their own index (exact in 16 bits)."""
    path = tmp_path / f"rec_{seconds}.edf"
    n_emg, n_acc = round(2000 * seconds), round(400 * seconds)
    with EdfWriter(path, EMG + ACC, datetime(2026, 1, 2, 3, 4, 5), record_s=record_s) as writer:
        writer.write(Block(EMG, 2000.0, 0, (np.arange(n_emg) % 5000 - 2500)[None].astype(np.float32)))
        writer.write(Block(ACC, 400.0, 0, (np.arange(n_acc) % 8000 * 2 - 8000)[None].astype(np.float32)))
    return path


def by_rate(blocks) -> dict[float, np.ndarray]:
    out: dict[float, list[np.ndarray]] = {}
    for b in blocks:
        out.setdefault(b.fs_hz, []).append(b.data)
    return {fs: np.concatenate(parts, axis=1) for fs, parts in out.items()}


def test_same_samples_in_time_order(tmp_path: Path) -> None:
    path = recording(tmp_path, 3.0)
    with open_recording(path) as direct:
        expected = by_rate(direct.blocks())
    with ReplaySource(open_recording(path), speed=None, chunk_s=0.05) as replay:
        assert isinstance(replay, Source)
        assert [c.label for c in replay.channels] == ["EMG L-ADM", "ACC L-ADM-Z"]
        assert replay.duration_s == pytest.approx(3.0)
        blocks = list(replay.blocks())
    ends = [b.end / b.fs_hz for b in blocks]
    assert ends == sorted(ends), "blocks must come in time order across rate groups"
    assert {b.n for b in blocks if b.fs_hz == 2000.0} == {100} and {b.n for b in blocks if b.fs_hz == 400.0} == {20}
    got = by_rate(blocks)
    for fs_hz in (2000.0, 400.0):
        np.testing.assert_array_equal(got[fs_hz], expected[fs_hz])
    next_start: dict[float, int] = {}
    for b in blocks:
        assert b.start == next_start.get(b.fs_hz, 0)
        next_start[b.fs_hz] = b.end


def test_loop_continues_sample_indices(tmp_path: Path) -> None:
    path = recording(tmp_path, 1.0)
    replay = ReplaySource(open_recording(path), speed=None, loop=True, chunk_s=0.25)
    assert replay.duration_s is None
    taken = []
    for block in replay.blocks():
        taken.append(block)
        if block.fs_hz == 2000.0 and block.end >= 2000 * 2.5:
            replay.close()
    emg = by_rate(taken)[2000.0][0]
    assert emg.size >= 5000
    np.testing.assert_array_equal(emg[2000:4000], emg[:2000])  # the second pass repeats the first
    assert [b.start for b in taken if b.fs_hz == 2000.0][:6] == [0, 500, 1000, 1500, 2000, 2500]


@pytest.mark.parametrize("speed, seconds", [(1.0, 1.5), (4.0, 6.0)])
def test_pacing_follows_the_clock(tmp_path: Path, speed: float, seconds: float) -> None:
    """Each block is released when its last sample would have arrived, at 1× and 4×."""
    path = recording(tmp_path, seconds)
    lags_s = []
    with ReplaySource(open_recording(path), speed=speed, chunk_s=0.1) as replay:
        t0 = time.monotonic()
        for block in replay.blocks():
            lags_s.append(time.monotonic() - t0 - block.end / block.fs_hz / speed)
        elapsed_s = time.monotonic() - t0
    wall_s = seconds / speed
    assert abs(elapsed_s - wall_s) <= 0.04 * wall_s
    assert min(lags_s) >= -0.002, "a block was released before its time"


def test_bad_speed_is_an_input_error(tmp_path: Path) -> None:
    with open_recording(recording(tmp_path, 0.5)) as source:
        with pytest.raises(InputError, match="speed must be positive"):
            ReplaySource(source, speed=0)
