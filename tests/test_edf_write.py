"""EdfWriter: files on disk read back by our reader, by pyEDFlib and (if installed) MNE."""

from __future__ import annotations

import itertools
import os
import signal
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect.errors import InputError
from fascdetect.io.edf_read import EdfSource, read_layout
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Block, Channel
from fascdetect.regions import parse_label

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 22, 23, 5, 7)
EMG = tuple(Channel(label, parse_label(label), 2000.0, physical_min=-5000, physical_max=5000) for label in ("EMG L-ADM", "EMG L-AbH"))
ACC = (Channel("ACC L-ADM-X", parse_label("ACC L-ADM-X"), 400.0, physical_min=-16000, physical_max=16000),)
STEP_EMG_UV = 10_000 / 65535
STEP_ACC_MG = 32_000 / 65535


def signals(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    emg = rng.normal(0, 150, (2, round(2000 * seconds))).astype(np.float32)
    acc = rng.normal(0, 2000, (1, round(400 * seconds))).astype(np.float32)
    return emg, acc


def write_interleaved(writer: EdfWriter, emg: np.ndarray, acc: np.ndarray, sizes_emg, sizes_acc) -> None:
    """Write both rate groups in blocks of the given sizes (repeated), alternating between them."""
    i = j = 0
    sizes_emg, sizes_acc = itertools.cycle(sizes_emg), itertools.cycle(sizes_acc)
    while i < emg.shape[1] or j < acc.shape[1]:
        if i < emg.shape[1]:
            n = next(sizes_emg)
            writer.write(Block(EMG, 2000.0, i, emg[:, i : i + n]))
            i += n
        if j < acc.shape[1]:
            m = next(sizes_acc)
            writer.write(Block(ACC, 400.0, j, acc[:, j : j + m]))
            j += m


def read_all(path: Path) -> tuple[EdfSource, dict[float, np.ndarray]]:
    source = EdfSource(path)
    parts: dict[float, list[np.ndarray]] = {}
    for block in source.blocks(3.0):
        parts.setdefault(block.fs_hz, []).append(block.data)
    return source, {fs: np.concatenate(p, axis=1) for fs, p in parts.items()}


def test_round_trip_mixed_rates(tmp_path: Path) -> None:
    emg, acc = signals(6.0)
    rng = np.random.default_rng(3)
    path = tmp_path / "night.edf"
    with EdfWriter(path, EMG + ACC, START) as writer:
        write_interleaved(writer, emg, acc, rng.integers(1, 1500, 10_000), rng.integers(1, 400, 10_000))
        writer.annotate(1.234, 0.015, "twitch@@EMG L-ADM")
        writer.annotate(2.5, 3.25, "cramp@@EMG L-AbH")
    source, data = read_all(path)
    with source:
        assert [(c.label, c.fs_hz, c.unit) for c in source.channels] == [(c.label, c.fs_hz, c.unit) for c in EMG + ACC]
        assert source.start == START and source.duration_s == pytest.approx(6.0)
        assert source.annotations() == [
            (pytest.approx(1.234), pytest.approx(0.015), "twitch@@EMG L-ADM"),
            (pytest.approx(2.5), pytest.approx(3.25), "cramp@@EMG L-AbH"),
        ]
    np.testing.assert_allclose(data[2000.0], emg, atol=STEP_EMG_UV / 2 + 1e-3)
    np.testing.assert_allclose(data[400.0], acc, atol=STEP_ACC_MG / 2 + 1e-3)


def test_pyedflib_reads_what_we_write(tmp_path: Path) -> None:
    emg, acc = signals(3.0, seed=4)
    path = tmp_path / "night.edf"
    with EdfWriter(path, EMG + ACC, START, record_s=0.5) as writer:
        write_interleaved(writer, emg, acc, [250] * 100, [333] * 100)
        writer.annotate(0.75, 0.0, "movement@@*")
        writer.annotate(2.0, 0.05, "twitch@@EMG L-ADM")
    reader = pyedflib.EdfReader(str(path))
    try:
        assert reader.getSignalLabels() == ["EMG L-ADM", "EMG L-AbH", "ACC L-ADM-X"]
        assert reader.datarecords_in_file == 6 and reader.getFileDuration() == pytest.approx(3.0)
        assert list(reader.getSampleFrequencies()) == [2000.0, 2000.0, 400.0]
        assert reader.getPhysicalDimension(2) == "mg"
        np.testing.assert_allclose(reader.readSignal(1), emg[1], atol=STEP_EMG_UV / 2 + 1e-3)
        onsets, durations, texts = reader.readAnnotations()
    finally:
        reader.close()
    assert sorted(zip(onsets.tolist(), texts.tolist())) == [(0.75, "movement@@*"), (2.0, "twitch@@EMG L-ADM")]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=30), st.lists(st.integers(1, 700), min_size=1, max_size=30))
def test_block_sizes_do_not_change_the_file(tmp_path_factory, sizes_emg, sizes_acc) -> None:
    """Any split and interleaving of the same samples gives byte-identical files."""
    emg, acc = signals(2.5, seed=5)
    folder = tmp_path_factory.mktemp("split")
    files = []
    for name, se, sa in (("one", [emg.shape[1]], [acc.shape[1]]), ("split", sizes_emg, sizes_acc)):
        with EdfWriter(folder / f"{name}.edf", EMG + ACC, START) as writer:
            write_interleaved(writer, emg, acc, se, sa)
        files.append((folder / f"{name}.edf").read_bytes())
    assert files[0] == files[1]


def test_bdf_round_trip_within_quantisation(tmp_path: Path) -> None:
    emg, acc = signals(2.0, seed=6)
    path = tmp_path / "night.bdf"
    with EdfWriter(path, EMG + ACC, START, bdf=True) as writer:
        write_interleaved(writer, emg, acc, [4000], [800])
        writer.annotate(0.5, 0.01, "twitch@@EMG L-AbH")
    assert path.read_bytes()[:8] == b"\xffBIOSEMI"
    source, data = read_all(path)
    with source:
        assert source.annotations()[0][2] == "twitch@@EMG L-AbH"
    step = 10_000 / (2**24 - 1)
    # 24-bit steps are far below float32 resolution at these amplitudes
    np.testing.assert_allclose(data[2000.0], emg, atol=step / 2 + 1e-4)
    assert np.max(np.abs(data[2000.0] - emg)) < STEP_EMG_UV / 100


def test_partial_record_is_never_padded(tmp_path: Path) -> None:
    emg, acc = signals(2.7, seed=7)
    path = tmp_path / "short.edf"
    writer = EdfWriter(path, EMG + ACC, START)
    counts = []
    for i in range(0, emg.shape[1], 900):
        writer.write(Block(EMG, 2000.0, i, emg[:, i : i + 900]))
        j = i // 5
        writer.write(Block(ACC, 400.0, j, acc[:, j : j + 180]))
        counts.append((writer.n_records, int(path.read_bytes()[236:244])))
    writer.close()
    # the header's count matches the records written after every single write
    assert all(written == declared for written, declared in counts)
    layout = read_layout(path)
    assert layout.declared_records == layout.complete_records == 2 and layout.trailing_bytes == 0


def test_annotation_bursts_use_free_space_of_other_records(tmp_path: Path) -> None:
    emg, acc = signals(20.0, seed=8)
    path = tmp_path / "busy.edf"
    texts = [f"twitch@@EMG L-ADM #{k}" for k in range(70)]
    # ~35 bytes per TAL: a 200-byte slot holds 5, the two records after the storm 10
    with EdfWriter(path, EMG + ACC, START, annotation_chars_per_record=200) as writer:
        write_interleaved(writer, emg[:, :36000], acc[:, :7200], [36000], [7200])
        for k, text in enumerate(texts):  # a storm: far more than the remaining records hold
            writer.annotate(17.0 + k * 0.01, 0.005, text)
        write_interleaved_from(writer, emg, acc, 18)
    source = EdfSource(path)
    with source:
        found = [text for _, _, text in source.annotations()]
    assert sorted(found) == sorted(texts)
    assert not (tmp_path / "busy.edf.annotations.tsv").exists()


def write_interleaved_from(writer: EdfWriter, emg: np.ndarray, acc: np.ndarray, first_s: int) -> None:
    for s in range(first_s, emg.shape[1] // 2000):
        writer.write(Block(EMG, 2000.0, s * 2000, emg[:, s * 2000 : (s + 1) * 2000]))
        writer.write(Block(ACC, 400.0, s * 400, acc[:, s * 400 : (s + 1) * 400]))


def test_full_annotation_space_goes_to_sidecar_not_lost(tmp_path: Path) -> None:
    emg, acc = signals(2.0, seed=9)
    path = tmp_path / "full.edf"
    texts = [f"burst@@EMG L-ADM #{k}" for k in range(40)]
    with EdfWriter(path, EMG + ACC, START, annotation_chars_per_record=64) as writer:
        write_interleaved(writer, emg, acc, [4000], [800])
        for k, text in enumerate(texts):
            writer.annotate(k * 0.05, 0.1, text)
    source = EdfSource(path)
    with source:
        in_file = [text for _, _, text in source.annotations()]
    sidecar = tmp_path / "full.edf.annotations.tsv"
    in_sidecar = [line.split("\t")[2] for line in sidecar.read_text(encoding="utf-8").splitlines()]
    assert in_file and in_sidecar and sorted(in_file + in_sidecar) == sorted(texts)
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600


def test_gaps_are_filled_and_annotated_once(tmp_path: Path) -> None:
    emg, acc = signals(4.0, seed=10)
    path = tmp_path / "lossy.edf"
    gap_emg = np.zeros(emg.shape[1], bool)
    gap_emg[2100:2500] = True  # lost packets, filled in by the source
    gap_acc = np.zeros(acc.shape[1], bool)
    gap_acc[420:500] = True
    with EdfWriter(path, EMG + ACC, START) as writer:
        for s in range(4):
            e, a = slice(s * 2000, (s + 1) * 2000), slice(s * 400, (s + 1) * 400)
            if s == 3:  # the source skipped 0.5 s altogether: the writer fills and marks it
                writer.write(Block(EMG, 2000.0, 7000, emg[:, 7000:8000]))
                writer.write(Block(ACC, 400.0, 1400, acc[:, 1400:1600]))
                continue
            # split inside the gap so one gap run spans two blocks
            for lo, hi in ((e.start, e.start + 1300), (e.start + 1300, e.stop)) if s == 1 else ((e.start, e.stop),):
                writer.write(Block(EMG, 2000.0, lo, emg[:, lo:hi], gap_emg[lo:hi]))
            writer.write(Block(ACC, 400.0, a.start, acc[:, a], gap_acc[a]))
        writer.mark_gap(3.9, 0.05)
    source, data = read_all(path)
    with source:
        gaps = [(round(on, 4), round(dur, 4)) for on, dur, text in source.annotations() if text == "gap"]
    assert gaps == [(1.05, 0.2), (3.0, 0.5), (3.9, 0.05)]
    # zero lies between two 16-bit codes of a symmetric range: half a step off at most
    assert np.all(np.abs(data[2000.0][:, 6000:7000]) <= STEP_EMG_UV / 2 + 1e-3)
    assert np.all(np.abs(data[400.0][:, 1200:1400]) <= STEP_ACC_MG / 2 + 1e-3)
    np.testing.assert_allclose(data[2000.0][:, 7000:], emg[:, 7000:8000], atol=STEP_EMG_UV)


def test_clips_to_default_range_when_adc_range_unknown(tmp_path: Path) -> None:
    unbounded = Channel("EMG R-TA", parse_label("EMG R-TA"), 100.0)
    path = tmp_path / "clip.edf"
    with EdfWriter(path, [unbounded], START) as writer:
        writer.write(Block((unbounded,), 100.0, 0, np.array([[9000.0, -9000.0, 1234.5] * 100], np.float32)))
    with EdfSource(path) as source:
        assert (source.channels[0].physical_min, source.channels[0].physical_max) == (-5000.0, 5000.0)
        data = next(source.blocks()).data[0]
    np.testing.assert_allclose(data[:3], [5000.0, -5000.0, 1234.5], atol=STEP_EMG_UV)


def test_file_mode_is_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        with EdfWriter(tmp_path / "new.edf", EMG, START):
            pass
        existing = tmp_path / "existing.edf"
        existing.write_bytes(b"")
        existing.chmod(0o644)
        with EdfWriter(existing, EMG, START, overwrite=True):
            pass
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.edf").stat().st_mode) == 0o600
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_refuses_to_overwrite_and_bad_channels(tmp_path: Path) -> None:
    (tmp_path / "taken.edf").write_bytes(b"precious")
    with pytest.raises(InputError, match="already exists"):
        EdfWriter(tmp_path / "taken.edf", EMG, START)
    assert (tmp_path / "taken.edf").read_bytes() == b"precious"
    odd = Channel("EMG L-ADM", parse_label("EMG L-ADM"), 333.3)
    with pytest.raises(InputError, match="not a whole number of samples"):
        EdfWriter(tmp_path / "odd.edf", [odd], START)
    with EdfWriter(tmp_path / "ok.edf", EMG, START) as writer:
        with pytest.raises(InputError, match="before sample"):
            writer.write(Block(EMG, 2000.0, 0, np.zeros((2, 10), np.float32)))
            writer.write(Block(EMG, 2000.0, 5, np.zeros((2, 10), np.float32)))


CHILD = """
import sys
from datetime import datetime
import numpy as np
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Block, Channel
from fascdetect.regions import parse_label

emg = tuple(Channel(l, parse_label(l), 2000.0, physical_min=-5000, physical_max=5000) for l in ("EMG L-ADM", "EMG L-AbH"))
acc = (Channel("ACC L-ADM-X", parse_label("ACC L-ADM-X"), 400.0, physical_min=-16000, physical_max=16000),)
writer = EdfWriter(sys.argv[1], emg + acc, datetime(2026, 11, 22, 23, 5, 7), record_s=0.1)
i = j = k = 0
while True:  # runs until killed; 50 ms of data per step, as a BLE stream would deliver it
    n = np.arange(i, i + 100)
    writer.write(Block(emg, 2000.0, i, np.vstack([n % 4000 - 2000, -(n % 3000)]).astype(np.float32)))
    m = np.arange(j, j + 20)
    writer.write(Block(acc, 400.0, j, (m % 1000 * 10.0)[None].astype(np.float32)))
    writer.annotate(i / 2000, 0.01, f"twitch@@EMG L-ADM #{k}")
    i, j, k = i + 100, j + 20, k + 1
    print(writer.n_records, k, flush=True)
"""


def test_killed_writer_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.edf"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    annotated = 0
    try:
        for line in child.stdout:
            records, annotated = map(int, line.split())
            if records >= 25 and annotated % 3 == 1:  # mid-record: 50 ms of a 100 ms record buffered
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    layout = read_layout(path)
    assert layout.declared_records >= 25
    assert layout.complete_records in (layout.declared_records, layout.declared_records + 1)
    source, data = read_all(path)
    with source:
        n = round(source.duration_s * 2000)
        assert n == layout.complete_records * 200
        texts = {text for _, _, text in source.annotations()}
    idx = np.arange(n)
    np.testing.assert_allclose(data[2000.0][0], idx % 4000 - 2000, atol=STEP_EMG_UV)
    np.testing.assert_allclose(data[2000.0][1], -(idx % 3000), atol=STEP_EMG_UV)
    np.testing.assert_allclose(data[400.0][0], np.arange(n // 5) % 1000 * 10.0, atol=STEP_ACC_MG)
    # every annotation made before the kill is in the file, none only half there
    assert texts == {f"twitch@@EMG L-ADM #{k}" for k in range(len(texts))}
    assert len(texts) >= annotated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_mne_reads_our_annotations(tmp_path: Path) -> None:
    mne = pytest.importorskip("mne", reason="MNE is not installed (optional: pip install mne)")
    emg, acc = signals(3.0, seed=11)
    path = tmp_path / "for_mne.edf"
    with EdfWriter(path, EMG + ACC, START) as writer:
        write_interleaved(writer, emg, acc, [6000], [1200])
        writer.annotate(0.5, 0.02, "twitch@@EMG L-ADM")
        writer.annotate(1.5, 1.0, "cramp@@EMG L-AbH")
        writer.mark_gap(2.5, 0.25)
    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    assert raw.ch_names == ["EMG L-ADM", "EMG L-AbH", "ACC L-ADM-X"]
    assert raw.info["sfreq"] == 2000.0  # MNE resamples the 400 Hz channel up to the highest rate
    got = sorted((round(float(a["onset"]), 6), round(float(a["duration"]), 6), a["description"], tuple(a["ch_names"])) for a in raw.annotations)
    assert got == [
        (0.5, 0.02, "twitch", ("EMG L-ADM",)),
        (1.5, 1.0, "cramp", ("EMG L-AbH",)),
        (2.5, 0.25, "gap", ()),
    ]
