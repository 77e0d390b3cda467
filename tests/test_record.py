"""Recording: the real simulator through the real CLI into real files, killed, interrupted, gappy."""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np
import pyedflib
import pytest

from fascdetect.cli import main
from fascdetect.errors import DeviceError
from fascdetect.io.annotate import event_annotation
from fascdetect.io.edf_read import EdfSource, read_layout
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Block, Channel
from fascdetect.pipeline import Pipeline, run_all
from fascdetect.record import Recorder, record
from fascdetect.regions import parse_label
from firmware_sim.generator import Generator

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "post-exercise"  # frequent twitches: events within seconds
EMG_STEP_UV = 12_000 / 65535  # the simulated ADC spans ±6 mV
STATUS = re.compile(r"recording (\d+):(\d\d):(\d\d)  events (\d+)")


def generated(seconds: float) -> tuple[Generator, dict[float, np.ndarray]]:
    gen = Generator(SCENARIO, 0, duration_s=seconds)
    parts: dict[float, list[np.ndarray]] = {}
    blocks = list(gen.blocks(1.0))
    for block in blocks:
        parts.setdefault(block.fs_hz, []).append(block.data)
    return gen, {fs: np.concatenate(p, axis=1) for fs, p in parts.items()}


def detected(seconds: float) -> list[tuple[float, str]]:
    """Events of the same pipeline fed straight from the simulator, as (onset, annotation text)."""
    gen = Generator(SCENARIO, 0, duration_s=seconds)
    return [(round(e.onset_s, 6), event_annotation(e)) for e in run_all(gen.blocks(1.0), gen.channels)]


def read_back(path: Path) -> tuple[EdfSource, dict[float, np.ndarray], list[tuple[float, float, str]]]:
    source = EdfSource(path)
    parts: dict[float, list[np.ndarray]] = {}
    for block in source.blocks(5.0):
        parts.setdefault(block.fs_hz, []).append(block.data)
    return source, {fs: np.concatenate(p, axis=1) for fs, p in parts.items()}, source.annotations()


def test_records_the_simulator_with_its_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sim.edf"
    assert main(["record", "--source", f"sim:{SCENARIO}@max", "--out", str(path), "--duration", "20s",
                 "--status-every", "0"]) == 0
    gen, signals = generated(20.0)
    source, data, annotations = read_back(path)
    with source:
        assert source.channels == gen.channels
        assert source.duration_s == 20.0
    # mixed rates kept: EMG at 2 kHz and ACC at 400 Hz, each the simulator's samples within one ADC step
    assert {fs: d.shape for fs, d in data.items()} == {fs: d.shape for fs, d in signals.items()}
    assert set(data) == {2000.0, 400.0}
    np.testing.assert_allclose(data[2000.0], signals[2000.0], atol=EMG_STEP_UV)
    got = sorted((round(onset, 6), text) for onset, _, text in annotations)
    expected = sorted(detected(20.0))
    assert expected, "the scenario should twitch within 20 s"
    assert got == expected
    out = capsys.readouterr().out
    counts = Counter(text.split("@@")[0] for _, text in expected)
    assert f"20 s, complete): {', '.join(f'{n} {k}' for k, n in sorted(counts.items()))}" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_bdf_without_detection(tmp_path: Path) -> None:
    path = tmp_path / "sim.bdf"
    assert main(["record", "--source", "sim:rest@max", "--out", str(path), "--duration", "3s", "--bdf",
                 "--no-detect", "--status-every", "0"]) == 0
    layout = read_layout(path)
    assert layout.bdf and layout.plus and layout.declared_records == layout.complete_records == 3
    gen = Generator("rest", 0, duration_s=3.0)
    expected = {b.fs_hz: b.data for b in gen.blocks(3.0)}
    source, data, annotations = read_back(path)
    source.close()
    assert annotations == []
    np.testing.assert_allclose(data[2000.0], expected[2000.0], atol=12_000 / 2**24)


def test_refuses_to_overwrite_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "taken.edf"
    path.write_bytes(b"precious")
    assert main(["record", "--source", "sim@max", "--out", str(path), "--duration", "2s"]) == 2
    assert path.read_bytes() == b"precious"
    assert "already exists" in capsys.readouterr().err
    assert main(["record", "--source", "usb:3", "--out", str(tmp_path / "x.edf")]) == 2
    assert "accepted forms: sim[:SCENARIO][@SPEED]" in capsys.readouterr().err
    assert main(["record", "--source", "sim@max", "--out", str(tmp_path / "y.edf"), "--duration", "soon"]) == 2
    assert "cannot read duration 'soon'" in capsys.readouterr().err
    assert main(["record", "--source", "sim@max", "--out", str(tmp_path / "y.edf"), "--duration", "2.5s"]) == 2
    assert "must be whole seconds" in capsys.readouterr().err
    assert main(["record", "--source", "sim@max", "--out", str(tmp_path / "y.edf")]) == 2
    assert "give --duration" in capsys.readouterr().err
    assert not (tmp_path / "x.edf").exists() and not (tmp_path / "y.edf").exists()


def start_recorder(path: Path, speed: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "fascdetect", "record", "--source", f"sim:{SCENARIO}@{speed}", "--out", str(path),
         "--status-every", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_events(child: subprocess.Popen[str], events: int, timeout_s: float = 60.0) -> int:
    """Read status lines until one reports at least ``events``; return that count."""
    deadline = time.monotonic() + timeout_s
    assert child.stderr is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stderr], [], [], 1.0)
        if not ready:
            continue
        line = child.stderr.readline()
        assert line, f"recorder ended early (exit {child.poll()})"
        m = STATUS.search(line)
        if m and int(m.group(4)) >= events:
            return int(m.group(4))
    child.kill()
    pytest.fail("no status line with enough events in time")


def test_sigkill_leaves_every_complete_record_and_annotation(tmp_path: Path) -> None:
    path = tmp_path / "killed.edf"
    child = start_recorder(path, speed=4)
    try:
        reported = wait_for_events(child, 3)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    layout = read_layout(path)
    n = layout.complete_records
    assert n >= 2
    assert layout.declared_records in (n, n - 1)  # a kill may land between a record and its count update
    source, data, annotations = read_back(path)
    with source:
        assert source.duration_s == n
    gen, signals = generated(n + 30.0)
    for fs_hz, got in data.items():
        assert got.shape[1] == n * fs_hz
        np.testing.assert_allclose(got, signals[fs_hz][:, :got.shape[1]], atol=EMG_STEP_UV if fs_hz == 2000 else 1.0)
    # every event reported before the kill is on disk, whole, and is one the detector makes on this signal
    assert len(annotations) >= reported
    later = set(detected(n + 30.0))
    assert {(round(onset, 6), text) for onset, _, text in annotations} <= later
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_closes_the_file_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    path = tmp_path / "stopped.edf"
    child = start_recorder(path, speed=8)
    try:
        wait_for_events(child, 1)
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0, err
    m = re.search(r"\((\d+) channels, (\d+) s, stopped by (SIG\w+)\): (.*)$", out.strip())
    assert m and m.group(3) == signum.name, out
    layout = read_layout(path)
    assert layout.declared_records == layout.complete_records == int(m.group(2))
    assert layout.trailing_bytes == 0
    reader = pyedflib.EdfReader(str(path), pyedflib.READ_ALL_ANNOTATIONS, pyedflib.CHECK_FILE_SIZE)
    try:
        texts = list(reader.readAnnotations()[2])
    finally:
        reader.close()
    reported = {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", m.group(4))}
    assert Counter(t.split("@@")[0] for t in texts) == reported


EMG = tuple(Channel(label, parse_label(label), 1000.0, physical_min=-5000, physical_max=5000)
            for label in ("EMG L-ADM", "EMG L-AbH"))
ACC = (Channel("ACC L-ADM-X", parse_label("ACC L-ADM-X"), 100.0, physical_min=-16000, physical_max=16000),)


class LossySource:
    """A live-like source whose packets were lost from 2.25 s to 2.75 s: the samples are
    filled with zeros and marked, as a BLE source does, on both rate groups."""

    channels = EMG + ACC
    start = datetime(2026, 4, 1, 23, 0, 0)
    duration_s = None
    skipped: tuple[tuple[str, str], ...] = ()

    def __init__(self, seconds: float, fail_after_s: float | None = None) -> None:
        rng = np.random.default_rng(5)
        self.emg = rng.normal(0, 20, (2, round(seconds * 1000))).astype(np.float32)
        self.acc = rng.normal(0, 50, (1, round(seconds * 100))).astype(np.float32)
        self.fail_after_s = fail_after_s
        for x, fs in ((self.emg, 1000), (self.acc, 100)):
            x[:, round(2.25 * fs):round(2.75 * fs)] = 0.0

    def blocks(self) -> Iterator[Block]:
        for lo_s in np.arange(0, self.emg.shape[1] / 1000, 0.35):  # 0.35 s pieces: never whole records
            if self.fail_after_s is not None and lo_s >= self.fail_after_s:
                raise DeviceError("wearable disconnected")
            for channels, x, fs in ((EMG, self.emg, 1000), (ACC, self.acc, 100)):
                lo, hi = round(lo_s * fs), min(round((lo_s + 0.35) * fs), x.shape[1])
                gap = np.zeros(hi - lo, bool)
                gap[max(round(2.25 * fs) - lo, 0):max(round(2.75 * fs) - lo, 0)] = True
                yield Block(channels, float(fs), lo, x[:, lo:hi], gap if gap.any() else None)

    def close(self) -> None:
        pass


def test_lost_data_is_marked_once_as_a_gap_and_the_limit_cuts_at_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "lossy.edf"
    source = LossySource(6.0)
    with Recorder(path, source.channels, source.start, limit_s=4.0) as recorder:
        record(source, recorder, Pipeline(source.channels))
        assert recorder.done and recorder.gap_s == pytest.approx(0.5)
    edf, data, annotations = read_back(path)
    with edf:
        assert edf.duration_s == 4.0
    assert [(round(o, 6), round(d, 6), t) for o, d, t in annotations if t == "gap"] == [(2.25, 0.5, "gap")]
    np.testing.assert_allclose(data[1000.0], source.emg[:, :4000], atol=10_000 / 65535)
    np.testing.assert_allclose(data[100.0], source.acc[:, :400], atol=32_000 / 65535)


def test_device_failure_leaves_the_file_closed_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "dropped.edf"
    source = LossySource(6.0, fail_after_s=3.5)
    with pytest.raises(DeviceError, match="disconnected"):
        with Recorder(path, source.channels, source.start) as recorder:
            record(source, recorder, Pipeline(source.channels))
    layout = read_layout(path)
    assert layout.declared_records == layout.complete_records == 3  # 3.5 s arrived: 3 whole records
    edf, data, annotations = read_back(path)
    edf.close()
    np.testing.assert_allclose(data[1000.0], source.emg[:, :3000], atol=10_000 / 65535)
    assert ("gap" in {t for _, _, t in annotations})


class StalledSource(LossySource):
    """Delivers 1.5 s, then waits for data that never comes (a wearable out of range)."""

    def blocks(self) -> Iterator[Block]:
        for block in super().blocks():
            if block.start / block.fs_hz >= 1.5:
                time.sleep(60)
            yield block


def test_stop_signal_interrupts_the_wait_for_a_stalled_source(tmp_path: Path) -> None:
    from fascdetect.commands.record import _StopSignals

    path = tmp_path / "stalled.edf"
    source = StalledSource(4.0)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    t0 = time.monotonic()
    with _StopSignals() as stop, Recorder(path, source.channels, source.start) as recorder:
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                record(source, recorder, Pipeline(source.channels), should_stop=stop.requested, waiting=stop.waiting)
        finally:
            timer.cancel()  # never let a late SIGTERM reach pytest after our handler is gone
    assert stop.received == "SIGTERM"
    assert time.monotonic() - t0 < 30  # interrupted, not waited out
    layout = read_layout(path)
    assert layout.declared_records == layout.complete_records == 1


def test_records_a_replayed_recording_sample_for_sample(tmp_path: Path) -> None:
    original = tmp_path / "night.edf"
    gen = Generator(SCENARIO, 2, duration_s=12.0)
    with EdfWriter(original, gen.channels, datetime(2026, 5, 6, 23, 0, 0)) as writer:
        for block in gen.blocks(1.0):
            writer.write(block)
    copy = tmp_path / "copy.edf"
    assert main(["record", "--source", f"replay:{original}@max", "--out", str(copy), "--status-every", "0"]) == 0
    readers = [pyedflib.EdfReader(str(p)) for p in (original, copy)]
    try:
        for i in range(readers[0].signals_in_file):
            np.testing.assert_array_equal(readers[1].readSignal(i, digital=True), readers[0].readSignal(i, digital=True))
        assert readers[1].getStartdatetime() == readers[0].getStartdatetime()
    finally:
        for reader in readers:
            reader.close()
    with EdfSource(original) as source:
        expected = sorted((round(e.onset_s, 6), event_annotation(e)) for e in run_all(source.blocks(), source.channels))
    source, _, annotations = read_back(copy)
    source.close()
    assert expected and sorted((round(o, 6), t) for o, _, t in annotations) == expected
