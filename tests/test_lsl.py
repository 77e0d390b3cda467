"""LSL in and out with real pylsl outlets and inlets on loopback (tests/conftest.py sets LSLAPICFG).

A sender in the test process publishes simulator EMG with labelled channels
and exact timestamps; the tests read it through ``lsl:`` sources (the
library and the ``record`` command) and check samples, gaps, outages and
the event markers ``--lsl-events`` publishes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest

from fascdetect.cli import main
from fascdetect.errors import DeviceError, InputError, RecordingError
from fascdetect.io.annotate import event_annotation
from fascdetect.io.edf_read import EdfSource
from fascdetect.model import Block, Channel
from fascdetect.pipeline import run_all
from fascdetect.regions import Montage, parse_label
from fascdetect.sources.lsl import LslOptions, LslSource
from fascdetect.sources.spec import SourceSpec, open_source, parse_source_spec
from firmware_sim.generator import Generator
from firmware_sim.scenarios import SimMontage

ROOT = Path(__file__).resolve().parents[1]
FS_HZ = 2000.0
CHUNK = 100
LABELS = ["EMG L-FDB", "EMG L-ADM", "EMG R-FDB", "EMG R-ADM"]
BDF_STEP_UV = 10_000 / 2**24 * 2


def simulated_emg(seconds: float) -> np.ndarray:
    """Simulator EMG (post-exercise: frequent twitches), samples × channels in LABELS order, µV."""
    gen = Generator("post-exercise", 0, duration_s=seconds,
                    montage=SimMontage(emg_regions=("FDB", "ADM"), acc_regions=()))
    data = np.concatenate([b.data for b in gen.blocks(1.0)], axis=1)
    order = [next(i for i, c in enumerate(gen.channels) if c.label == label) for label in LABELS]
    return np.ascontiguousarray(data[order].T)


class Sender:
    """A real LSL outlet: simulator EMG plus an unmapped 'Trigger' channel, timestamps t0 + i / fs exactly."""

    def __init__(self, name: str, source_id: str | None = None, t0: float | None = None) -> None:
        self.name = name
        self.source_id = source_id or f"fd-test-{uuid.uuid4().hex[:8]}"
        self.t0 = pylsl.local_clock() if t0 is None else t0
        self.outlet = self._open()

    def _open(self) -> pylsl.StreamOutlet:
        info = pylsl.StreamInfo(self.name, "EMG", len(LABELS) + 1, FS_HZ, "float32", self.source_id)
        info.set_channel_labels(LABELS + ["Trigger"])
        info.set_channel_units(["microvolts"] * len(LABELS) + ["V"])
        info.set_channel_types(["EMG"] * len(LABELS) + ["TRIG"])
        return pylsl.StreamOutlet(info, 0, 360)

    def reopen(self) -> None:
        self.outlet = self._open()

    def vanish(self) -> None:
        self.outlet = None

    def push(self, emg: np.ndarray, first: int, skip: set[int] = frozenset()) -> None:
        """Samples ``first``.. of ``emg`` in chunks of CHUNK, leaving out the chunks numbered in ``skip``."""
        for k, lo in enumerate(range(0, emg.shape[0], CHUNK)):
            if k in skip:
                continue
            part = emg[lo:lo + CHUNK]
            chunk = np.column_stack([part, np.full(len(part), 5.0, np.float32)]).astype(np.float32)
            self.outlet.push_chunk(chunk, self.t0 + (first + lo + len(part) - 1) / FS_HZ)

    def wait_for_reader(self) -> None:
        assert self.outlet.wait_for_consumers(20.0), "the inlet never connected"


def in_thread(fn) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def collect(source: LslSource, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Blocks until ``seconds`` of samples (gaps included) arrived: data channels × samples, gap mask."""
    data, gaps, end = [], [], 0
    for block in source.blocks():
        assert block.start == end, "blocks are contiguous"
        data.append(block.data)
        gaps.append(np.zeros(block.n, bool) if block.gap is None else block.gap)
        end = block.end
        if end >= seconds * FS_HZ:
            source.close()
    return np.concatenate(data, axis=1), np.concatenate(gaps)


def name() -> str:
    return f"fd-test-{uuid.uuid4().hex[:8]}"


def test_parses_lsl_and_brainflow_specs() -> None:
    assert parse_source_spec("lsl") == SourceSpec("lsl", None, 1.0)
    assert parse_source_spec("lsl:EMG") == SourceSpec("lsl", "EMG", 1.0)
    assert parse_source_spec("lsl:My EMG@lab?timeout=2&give_up=30") == SourceSpec(
        "lsl", "My EMG@lab", 1.0, (("timeout", "2"), ("give_up", "30")))
    assert parse_source_spec("brainflow:cyton?serial_port=/dev/ttyUSB0") == SourceSpec(
        "brainflow", "cyton", 1.0, (("serial_port", "/dev/ttyUSB0"),))
    for bad, why in (("lsl@4", "no speed"), ("brainflow", "board name"), ("lsl:x?timeout", "key=value")):
        with pytest.raises(InputError, match=why):
            parse_source_spec(bad)
    with pytest.raises(InputError, match="unknown key 'speed'"):
        LslOptions.from_params((("speed", "2"),))


def test_record_writes_exactly_what_the_outlet_pushed_with_the_pipelines_events(tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    emg = simulated_emg(12.0)
    sender = Sender(name())

    def send() -> None:
        sender.wait_for_reader()
        sender.push(emg, 0)

    thread = in_thread(send)
    path = tmp_path / "lsl.bdf"
    assert main(["record", "--source", f"lsl:{sender.name}", "--out", str(path), "--bdf", "--duration", "10s",
                 "--status-every", "0"]) == 0
    thread.join(10)
    assert any("Trigger not used: label does not follow" in r.getMessage() for r in caplog.records), \
        "the unmapped channel is listed with its reason"
    with EdfSource(path) as back:
        assert [c.label for c in back.channels] == LABELS
        data = np.concatenate([b.data for b in back.blocks(5.0)], axis=1)
        annotations = back.annotations()
    assert data.shape == (len(LABELS), 20_000)
    np.testing.assert_allclose(data, emg[:20_000].T, atol=BDF_STEP_UV)
    channels = tuple(Channel(label, parse_label(label), FS_HZ) for label in LABELS)
    expected = run_all([Block(channels, FS_HZ, 0, np.ascontiguousarray(emg[:20_000].T))], channels)
    assert expected, "the scenario twitches within 10 s"
    got = sorted((round(onset, 6), text) for onset, _, text in annotations if "@@" in text)
    assert got == sorted((round(e.onset_s, 6), event_annotation(e)) for e in expected)


def test_dropped_chunks_become_exact_gaps() -> None:
    emg = simulated_emg(4.0)
    sender = Sender(name())
    dropped = {7, 8, 31, 52}

    def send() -> None:
        sender.wait_for_reader()
        sender.push(emg, 0, skip=dropped)

    source = LslSource(sender.name)
    thread = in_thread(send)
    data, gap = collect(source, 4.0)
    thread.join(10)
    expected_gap = np.zeros(8000, bool)
    for k in dropped:
        expected_gap[k * CHUNK:(k + 1) * CHUNK] = True
    np.testing.assert_array_equal(gap[:8000], expected_gap)
    assert not data[:, gap].any(), "lost samples are zero-filled"
    np.testing.assert_array_equal(data[:, :8000][:, ~expected_gap], emg.T[:, ~expected_gap])
    assert source.stats.lost_samples == len(dropped) * CHUNK
    assert [c.label for c in source.channels] == LABELS
    assert source.skipped == (("Trigger", "label does not follow '<MOD> <SIDE>-<REGION>[-<AXIS>]' "
                                           "and is not in the montage"),)


def test_a_vanished_outlet_is_a_gap_then_the_stream_continues() -> None:
    emg = simulated_emg(5.0)
    sender = Sender(name())
    first, outage = 4000, 2000  # 2 s sent, 1 s never sent while the outlet is gone, then the rest

    def send() -> None:
        sender.wait_for_reader()
        sender.push(emg[:first], 0)
        time.sleep(1.0)  # the reader takes everything sent before the outlet goes
        sender.vanish()
        time.sleep(1.0)
        sender.reopen()
        sender.wait_for_reader()
        sender.push(emg[first + outage:], first + outage)

    source = LslSource(sender.name)
    thread = in_thread(send)
    data, gap = collect(source, 5.0)
    thread.join(20)
    assert len(source.outages) == 1 and source.outages[0].duration_s is not None
    np.testing.assert_array_equal(np.flatnonzero(gap), np.arange(first, first + outage))
    np.testing.assert_array_equal(data[:, :first], emg[:first].T)
    np.testing.assert_array_equal(data[:, first + outage:10_000], emg[first + outage:].T)


def test_a_stream_that_does_not_come_back_ends_the_recording_with_one_line_and_a_readable_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emg = simulated_emg(3.0)
    sender = Sender(name())

    def send() -> None:
        sender.wait_for_reader()
        sender.push(emg, 0)
        time.sleep(1.0)
        sender.vanish()

    thread = in_thread(send)
    path = tmp_path / "gone.bdf"
    code = main(["record", "--source", f"lsl:{sender.name}?give_up=1", "--out", str(path), "--bdf", "--no-detect",
                 "--status-every", "0"])
    thread.join(10)
    assert code == DeviceError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fascdetect record: LSL stream") and "was not back within 1 s" in err[-1]
    with EdfSource(path) as back:
        data = np.concatenate([b.data for b in back.blocks(5.0)], axis=1)
    assert data.shape[1] == 6000, "every whole second received is in the file"
    np.testing.assert_allclose(data, emg.T, atol=BDF_STEP_UV)


def test_irregular_string_and_missing_streams_are_refused_clearly() -> None:
    markers = pylsl.StreamOutlet(pylsl.StreamInfo(name(), "Markers", 1, pylsl.IRREGULAR_RATE, "string", name()))
    with pytest.raises(InputError, match="carries strings"):
        open_source(f"lsl:{markers.get_info().name()}")
    irregular = pylsl.StreamOutlet(pylsl.StreamInfo(name(), "EMG", 1, pylsl.IRREGULAR_RATE, "float32", name()))
    with pytest.raises(InputError, match="irregular sampling rate"):
        open_source(f"lsl:{irregular.get_info().name()}")
    with pytest.raises(DeviceError, match="no LSL stream named or of type 'nothing-here'"):
        open_source("lsl:nothing-here?timeout=0.3")


def test_record_publishes_every_event_as_a_json_marker_at_its_onset_in_the_sources_lsl_time(tmp_path: Path) -> None:
    emg = simulated_emg(8.0)
    sender = Sender(name(), t0=1000.0)  # the sender's own clock: far from this process's local_clock
    marker_name = name()
    received: list[tuple[dict, float]] = []
    inlet_ready = threading.Event()

    def listen() -> None:
        found = pylsl.resolve_byprop("name", marker_name, 1, 20.0)
        inlet = pylsl.StreamInlet(found[0])
        assert found[0].type() == "Markers" and found[0].channel_format() == pylsl.cf_string
        inlet.open_stream(10.0)
        inlet_ready.set()
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 3.0:
            sample, stamp = inlet.pull_sample(timeout=0.2)
            if sample is not None:
                received.append((json.loads(sample[0]), stamp))
                quiet_since = time.monotonic()

    def send() -> None:
        sender.wait_for_reader()
        inlet_ready.wait(20)
        sender.push(emg, 0)

    listener = in_thread(listen)
    thread = in_thread(send)
    path = tmp_path / "events.edf"
    assert main(["record", "--source", f"lsl:{sender.name}", "--out", str(path), "--duration", "8s",
                 "--status-every", "0", "--lsl-events", marker_name]) == 0
    thread.join(10)
    listener.join(30)
    with EdfSource(path) as back:
        annotated = sorted((round(o, 6), t) for o, _, t in back.annotations() if "@@" in t)
    assert annotated
    got = sorted((m["onset"], f"{m['kind']}@@{m['channel']}") for m, _ in received)
    assert got == annotated
    for marker, stamp in received:
        assert {"kind", "side", "region", "channel", "onset", "lsl_time"} <= set(marker)
        assert marker["lsl_time"] == pytest.approx(1000.0 + marker["onset"], abs=1e-5)
        # this machine's clock: the sender's stamps plus time_correction (0 on one machine)
        assert stamp == pytest.approx(marker["lsl_time"], abs=1e-3)


def test_a_stream_without_channel_labels_is_mapped_by_channel_number(tmp_path: Path) -> None:
    """Some senders describe no channels: the montage names them 'channel N'."""
    montage = tmp_path / "numbers.toml"
    montage.write_text('["channel 2"]\nmodality = "EMG"\nside = "R"\nregion = "AbH"\n', encoding="utf-8")
    info = pylsl.StreamInfo(name(), "EEG", 3, 250.0, "float32", name())
    outlet = pylsl.StreamOutlet(info)
    with pytest.raises(RecordingError, match="'channel 1': the stream gives it no label and the montage has no "
                                             "'channel 1'"):
        open_source(f"lsl:{info.name()}")
    source = open_source(f"lsl:{info.name()}", montage=Montage.load(montage))
    try:
        assert [c.label for c in source.channels] == ["EMG R-AbH"]
        assert [label for label, _ in source.skipped] == ["channel 1", "channel 3"]
    finally:
        source.close()
        del outlet


def test_an_emg_and_an_accelerometer_stream_are_recorded_together_from_the_emg_streams_first_sample(
        tmp_path: Path) -> None:
    """``also=`` adds a second stream at its own rate; its samples before the EMG's first are dropped, its
    losses are gaps, and sample 0 of both rate groups is the same moment."""
    gen = Generator("post-exercise", 0, duration_s=6.0, montage=SimMontage(emg_regions=("FDB",), acc_regions=("FDB",)))
    parts: dict[float, list[np.ndarray]] = {}
    for block in gen.blocks(1.0):
        parts.setdefault(block.fs_hz, []).append(block.data)
    emg, acc = (np.ascontiguousarray(np.concatenate(parts[fs], axis=1).T) for fs in (2000.0, 400.0))
    labels = {fs: [c.label for c in gen.channels if c.fs_hz == fs] for fs in (2000.0, 400.0)}
    t0 = pylsl.local_clock()
    outlets = {}
    for fs, kind in ((2000.0, "EMG"), (400.0, "ACC")):
        info = pylsl.StreamInfo(name(), kind, len(labels[fs]), fs, "float32", name())
        info.set_channel_labels(labels[fs])
        info.set_channel_units(["microvolts" if kind == "EMG" else "mg"] * len(labels[fs]))
        outlets[fs] = pylsl.StreamOutlet(info, 0, 360)

    def send() -> None:
        for outlet in outlets.values():
            assert outlet.wait_for_consumers(20.0)
        # the accelerometer stream ran 0.25 s before the EMG stream's first sample (100 samples, dropped)
        early = np.zeros((100, acc.shape[1]), np.float32)
        outlets[400.0].push_chunk(early, t0 - 1 / 400.0)
        for lo in range(0, 6 * 400, 40):
            if lo != 800:  # one lost 40-sample accelerometer chunk: 2.0-2.1 s
                outlets[400.0].push_chunk(acc[lo:lo + 40], t0 + (lo + 39) / 400.0)
            for e in range(lo * 5, lo * 5 + 200, 100):
                outlets[2000.0].push_chunk(emg[e:e + 100], t0 + (e + 99) / 2000.0)

    emg_name, acc_name = (outlets[fs].get_info().name() for fs in (2000.0, 400.0))
    thread = in_thread(send)
    path = tmp_path / "two.bdf"
    assert main(["record", "--source", f"lsl:{emg_name}?also={acc_name}", "--out", str(path), "--bdf",
                 "--duration", "5s", "--no-detect", "--status-every", "0"]) == 0
    thread.join(10)
    with EdfSource(path) as back:
        assert [c.label for c in back.channels] == labels[2000.0] + labels[400.0]
        got: dict[float, list[np.ndarray]] = {}
        for block in back.blocks(5.0):
            got.setdefault(block.fs_hz, []).append(block.data)
        gaps = [(o, d) for o, d, t in back.annotations() if "gap" in t.lower()]
    got_emg, got_acc = (np.concatenate(got[fs], axis=1) for fs in (2000.0, 400.0))
    np.testing.assert_allclose(got_emg, emg[:10_000].T, atol=BDF_STEP_UV)
    expected_acc = acc[:2000].T.copy()
    expected_acc[:, 800:840] = 0
    np.testing.assert_allclose(got_acc, expected_acc, atol=16_000 / 2**24 * 2)
    assert gaps == [(pytest.approx(2.0), pytest.approx(0.1))]


def test_monitor_publishes_the_pipelines_final_events_as_markers() -> None:
    """``monitor --lsl-events`` (offscreen, on the simulator at 4x): an inlet here receives every final event."""
    marker_name = name()
    received: list[tuple[dict, float]] = []
    child = subprocess.Popen([sys.executable, "-m", "fascdetect", "monitor", "--source", "sim:post-exercise@4",
                              "--duration", "8s", "--lsl-events", marker_name], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    try:
        found = pylsl.resolve_byprop("name", marker_name, 1, 60.0)
        assert found, "the monitor's marker stream appears"
        assert found[0].type() == "Markers" and found[0].channel_format() == pylsl.cf_string
        inlet = pylsl.StreamInlet(found[0], recover=False)
        inlet.open_stream(10.0)
        while child.poll() is None:
            try:
                sample, stamp = inlet.pull_sample(timeout=0.2)
            except pylsl.util.LostError:
                break
            if sample is not None:
                received.append((json.loads(sample[0]), stamp))
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert len(received) >= 5, f"the post-exercise scenario twitches within ~30 s of signal: {out}"
    gen = Generator("post-exercise", 0, duration_s=60.0)
    expected = [e for e in run_all(gen.blocks(1.0), gen.channels)]
    # the monitor flushes its pipeline when it closes: events near that end may differ from a longer run;
    # and a marker pushed before this inlet connected is not sent to it (LSL sends no history)
    first_s = min(m["onset"] for m, _ in received)
    settled_s = max(m["onset"] for m, _ in received) - 3.0
    got = sorted((m["onset"], m["kind"], m["channel"]) for m, _ in received if m["onset"] < settled_s)
    assert got == sorted((round(e.onset_s, 6), e.kind, e.channel) for e in expected
                         if first_s - 1e-6 <= round(e.onset_s, 6) < settled_s)
    origins = [m["lsl_time"] - m["onset"] for m, _ in received]
    assert max(origins) - min(origins) < 1e-4, "every marker on one clock: sample 0 when the source opened"
    for marker, stamp in received:
        assert stamp == pytest.approx(marker["lsl_time"], abs=1e-3)


def test_raw_adc_counts_are_calibrated_by_the_montage(tmp_path: Path) -> None:
    """A sender of raw counts without units (as BITalino's OpenSignals does): (count - offset) × scale µV."""
    montage = tmp_path / "bitalino.toml"
    montage.write_text('["A1"]\nmodality = "EMG"\nside = "L"\nregion = "FDB"\noffset = 512\nscale = 3.2\nbits = 10\n',
                       encoding="utf-8")
    info = pylsl.StreamInfo(name(), "EMG", 1, 1000.0, "int16", name())
    info.set_channel_labels(["A1"])
    outlet = pylsl.StreamOutlet(info)
    counts = (np.arange(3000) % 1024).astype(np.int16)[:, None]
    source = open_source(f"lsl:{info.name()}", montage=Montage.load(montage))

    def send() -> None:
        outlet.wait_for_consumers(20.0)
        t0 = pylsl.local_clock()
        for lo in range(0, 3000, 250):
            outlet.push_chunk(counts[lo:lo + 250], t0 + (lo + 249) / 1000.0)

    thread = in_thread(send)
    data, end = [], 0
    for block in source.blocks():
        data.append(block.data)
        end = block.end
        if end >= 3000:
            source.close()
    thread.join(10)
    assert source.channels[0].physical_min == pytest.approx(-512 * 3.2)
    assert source.channels[0].physical_max == pytest.approx(511 * 3.2)
    np.testing.assert_allclose(np.concatenate(data, axis=1)[0, :3000], (counts[:, 0] - 512) * 3.2, rtol=1e-6)


def test_several_matching_streams_and_a_changed_layout_are_one_line_errors(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    shared = name()
    twins = [Sender(shared, source_id=f"{shared}-{i}") for i in (1, 2)]
    with pytest.raises(DeviceError, match=f"several LSL streams match: '{shared}'.*choose one with .source_id"):
        open_source(f"lsl:{shared}")
    source = open_source(f"lsl:{shared}?source_id={shared}-2")
    assert source.info.source_id() == f"{shared}-2"
    source.close()
    del twins

    emg = simulated_emg(2.0)
    sender = Sender(name())

    def send() -> None:
        sender.wait_for_reader()
        sender.push(emg, 0)
        time.sleep(1.0)
        sender.vanish()
        info = pylsl.StreamInfo(sender.name, "EMG", 2, FS_HZ, "float32", sender.source_id)
        info.set_channel_labels(LABELS[:2])
        sender.outlet = pylsl.StreamOutlet(info)  # back with other channels
        time.sleep(5.0)

    thread = in_thread(send)
    code = main(["record", "--source", f"lsl:{sender.name}", "--out", str(tmp_path / "x.edf"), "--no-detect",
                 "--status-every", "0"])
    thread.join(10)
    assert code == DeviceError.exit_code
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "came back with different channels or rate; start a new recording")
    assert main(["record", "--source", "lsl:x", "--out", str(tmp_path / "y.edf"), "--no-detect",
                 "--lsl-events"]) == InputError.exit_code
