"""EdfSource and open_recording on real files written to disk by pyEDFlib."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from fascdetect.errors import RecordingError
from fascdetect.io import open_recording
from fascdetect.io.edf_read import EdfSource, read_layout
from fascdetect.regions import Montage

START = datetime(2026, 3, 14, 22, 30, 5)


def signal_header(label: str, fs_hz: float, unit: str, lo: float, hi: float, bdf: bool = False) -> dict:
    dmax = 8388607 if bdf else 32767
    return {
        "label": label,
        "dimension": unit,
        "sample_frequency": fs_hz,
        "physical_min": lo,
        "physical_max": hi,
        "digital_min": -dmax - 1,
        "digital_max": dmax,
    }


def write_pyedflib(path: Path, headers: list[dict], signals: list[np.ndarray], bdf: bool = False, annotations=()) -> Path:
    kind = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    writer = pyedflib.EdfWriter(str(path), len(headers), file_type=kind)
    writer.setStartdatetime(START)
    writer.setSignalHeaders(headers)
    writer.writeSamples(signals)
    for onset, duration, text in annotations:
        writer.writeAnnotation(onset, duration, text)
    writer.close()
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """EMG 2000 Hz (two channels) + ACC 400 Hz, 12 s, with annotations and an unmappable label."""
    rng = np.random.default_rng(1)
    emg = rng.normal(0, 200, (2, 24000))
    acc = rng.normal(0, 1000, (1, 4800))
    other = rng.normal(0, 1, 24000)
    headers = [
        signal_header("EMG L-ADM", 2000, "uV", -5000, 5000),
        signal_header("EMG R-abh", 2000, "uV", -5000, 5000),
        signal_header("ACC L-ADM-X", 400, "mg", -16000, 16000),
        signal_header("ECG", 2000, "mV", -5, 5),
    ]
    path = write_pyedflib(
        tmp_path / "mixed.edf",
        headers,
        [emg[0], emg[1], acc[0], other],
        annotations=[(1.25, 0.02, "twitch@@EMG L-ADM"), (7.5, 3.5, "cramp@@EMG R-AbH")],
    )
    return path, emg, acc


def collect(source, chunk_s: float) -> dict[float, np.ndarray]:
    parts: dict[float, list[np.ndarray]] = {}
    next_start: dict[float, int] = {}
    for block in source.blocks(chunk_s):
        assert block.data.dtype == np.float32
        assert block.start == next_start.get(block.fs_hz, 0), "blocks of a rate group must be contiguous"
        next_start[block.fs_hz] = block.end
        parts.setdefault(block.fs_hz, []).append(block.data)
    return {fs: np.concatenate(p, axis=1) for fs, p in parts.items()}


def test_mixed_rates_read_in_chunks(mixed) -> None:
    path, emg, acc = mixed
    with EdfSource(path) as source:
        assert [c.label for c in source.channels] == ["EMG L-ADM", "EMG R-abh", "ACC L-ADM-X"]
        assert [c.fs_hz for c in source.channels] == [2000.0, 2000.0, 400.0]
        assert source.channels[1].region == "AbH"
        assert source.channels[2].placement.axis == "X"
        assert (source.channels[0].physical_min, source.channels[0].physical_max) == (-5000.0, 5000.0)
        assert source.start == START
        assert source.duration_s == pytest.approx(12.0)
        assert [label for label, _ in source.skipped] == ["ECG"]
        spans = {}
        for block in source.blocks(chunk_s=5.0):
            spans.setdefault((block.start_s, block.start_s + block.n / block.fs_hz), set()).add(block.fs_hz)
        # every chunk covers the same time span in both rate groups, in whole 1 s records
        assert sorted(spans) == [(0.0, 5.0), (5.0, 10.0), (10.0, 12.0)]
        assert all(groups == {2000.0, 400.0} for groups in spans.values())
        data = collect(source, chunk_s=3.0)
    step_uv = 10000 / 65535
    np.testing.assert_allclose(data[2000.0], emg, atol=step_uv)
    np.testing.assert_allclose(data[400.0], acc, atol=32000 / 65535)


def test_annotations_are_read(mixed) -> None:
    with EdfSource(mixed[0]) as source:
        assert source.annotations() == [
            (pytest.approx(1.25), pytest.approx(0.02), "twitch@@EMG L-ADM"),
            (pytest.approx(7.5), pytest.approx(3.5), "cramp@@EMG R-AbH"),
        ]


def test_unknown_label_is_skipped_with_reason(mixed) -> None:
    with EdfSource(mixed[0]) as source:
        reasons = dict(source.skipped)
    assert "EDF Annotations" not in reasons
    assert reasons["ECG"] == "label does not follow '<MOD> <SIDE>-<REGION>[-<AXIS>]' and is not in the montage"


def test_montage_maps_other_labels(mixed, tmp_path: Path) -> None:
    montage_path = tmp_path / "montage.toml"
    montage_path.write_text('["ECG"]\nmodality = "EMG"\nside = "R"\nregion = "ta"\n', encoding="utf-8")
    with EdfSource(mixed[0], Montage.load(montage_path)) as source:
        ecg = source.channels[-1]
        assert ecg.label == "ECG" and (ecg.modality, ecg.side, ecg.region) == ("EMG", "R", "TA")
        assert source.skipped == ()
        # mV in the file, µV in our blocks
        assert (ecg.physical_min, ecg.physical_max) == (-5000.0, 5000.0)
        block = next(b for b in source.blocks(1.0) if b.fs_hz == 2000.0)
    raw = pyedflib.EdfReader(str(mixed[0]))
    try:
        expected = raw.readSignal(3, 0, 2000) * 1000
    finally:
        raw.close()
    np.testing.assert_allclose(block.data[-1], expected, rtol=1e-6, atol=1e-3)


def test_units_are_converted(tmp_path: Path) -> None:
    t = np.arange(2000) / 1000
    emg_mv = 0.3 * np.sin(2 * np.pi * 40 * t)
    acc_g = 0.9 + 0.1 * np.sin(2 * np.pi * 2 * t)
    acc_ms2 = 9.80665 * acc_g
    headers = [
        signal_header("EMG L-TA", 1000, "mV", -5, 5),
        signal_header("ACC L-TA-X", 1000, "g", -8, 8),
        signal_header("ACC L-TA-Y", 1000, "m/s^2", -80, 80),
        signal_header("EMG L-GAS", 1000, "degC", -5, 5),
    ]
    path = write_pyedflib(tmp_path / "units.edf", headers, [emg_mv, acc_g, acc_ms2, emg_mv])
    with EdfSource(path) as source:
        assert [c.unit for c in source.channels] == ["uV", "mg", "mg"]
        assert source.channels[1].physical_max == pytest.approx(8000.0)
        assert dict(source.skipped)["EMG L-GAS"] == "unit 'degC' cannot be interpreted for EMG (accepted: uV, µV, mV or V)"
        data = collect(source, 10.0)[1000.0]
    # within one 16-bit quantisation step of each channel's range
    np.testing.assert_allclose(data[0], emg_mv * 1000, atol=10_000 / 65535)
    np.testing.assert_allclose(data[1], acc_g * 1000, atol=16_000 / 65535)
    np.testing.assert_allclose(data[2], acc_g * 1000, atol=160 / 9.80665 * 1000 / 65535)


def test_bdf_24_bit_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    emg = rng.normal(0, 50, 4000)
    path = write_pyedflib(
        tmp_path / "night.bdf", [signal_header("EMG R-EDB", 2000, "uV", -5000, 5000, bdf=True)], [emg], bdf=True
    )
    with open_recording(path) as source:
        assert isinstance(source, EdfSource) and source.layout.bdf
        data = collect(source, 10.0)[2000.0][0]
    step_uv = 10000 / (2**24 - 1)
    assert np.max(np.abs(data - emg)) <= 1.01 * step_uv  # 24-bit: ~0.0006 µV, far finer than 16-bit's 0.15 µV


def test_no_usable_channels_lists_what_was_skipped(tmp_path: Path) -> None:
    path = write_pyedflib(
        tmp_path / "eeg.edf",
        [signal_header("Fp1", 256, "uV", -500, 500), signal_header("EMG L-ADM", 256, "K", -1, 1)],
        [np.zeros(256), np.zeros(256)],
    )
    with pytest.raises(RecordingError) as err:
        EdfSource(path)
    message = str(err.value)
    assert "no usable channels" in message and "'Fp1'" in message and "unit 'K'" in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="file not found"):
        open_recording(tmp_path / "absent.edf")


def test_not_an_edf_names_supported_formats(tmp_path: Path) -> None:
    fake = tmp_path / "notes.edf"
    fake.write_bytes(b"this is a shopping list, not a recording\n" * 20)
    with pytest.raises(RecordingError, match="not an EDF or BDF file; supported formats: EDF, EDF\\+, BDF"):
        open_recording(fake)
    unknown = tmp_path / "signal.xyz"
    unknown.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(RecordingError, match="unknown recording format; supported formats: .*WFDB.*CSV"):
        open_recording(unknown)


def test_truncated_file_reads_complete_records(mixed, tmp_path: Path, caplog) -> None:
    path, emg, acc = mixed
    layout = read_layout(path)
    cut = tmp_path / "cut.edf"
    keep = layout.header_bytes + 7 * layout.record_bytes + layout.record_bytes // 3
    cut.write_bytes(path.read_bytes()[:keep])
    with caplog.at_level(logging.WARNING, logger="fascdetect.io.edf_read"):
        with EdfSource(cut) as source:
            assert source.duration_s == pytest.approx(7.0)
            data = collect(source, 2.0)
            # pyEDFlib stores annotations in the first records, so both survive the cut
            assert [text for _, _, text in source.annotations()] == ["twitch@@EMG L-ADM", "cramp@@EMG R-AbH"]
    assert "declares 12 data records but 7 are complete" in caplog.text
    np.testing.assert_allclose(data[2000.0], emg[:, :14000], atol=10000 / 65535)
    np.testing.assert_allclose(data[400.0], acc[:, :2800], atol=32000 / 65535)
    assert not list(tmp_path.glob("*repaired*")), "the repaired view must not outlive the reader"


def test_record_count_unknown_is_recovered(mixed, tmp_path: Path) -> None:
    raw = bytearray(mixed[0].read_bytes())
    raw[236:244] = b"-1      "
    (tmp_path / "live.edf").write_bytes(raw)
    with EdfSource(tmp_path / "live.edf") as source:
        assert source.duration_s == pytest.approx(12.0)


def test_header_only_file_is_an_error(mixed, tmp_path: Path) -> None:
    layout = read_layout(mixed[0])
    stub = tmp_path / "stub.edf"
    stub.write_bytes(mixed[0].read_bytes()[: layout.header_bytes + 100])
    with pytest.raises(RecordingError, match="0 of 12 declared data records are complete"):
        EdfSource(stub)


def test_corrupt_header_is_an_error(mixed, tmp_path: Path) -> None:
    raw = bytearray(mixed[0].read_bytes())
    raw[252:256] = b"ab  "
    (tmp_path / "bad.edf").write_bytes(raw)
    with pytest.raises(RecordingError, match="corrupt header \\(number of signals is 'ab'"):
        EdfSource(tmp_path / "bad.edf")
    (tmp_path / "short.edf").write_bytes(bytes(raw[:200]))
    with pytest.raises(RecordingError, match="truncated header"):
        EdfSource(tmp_path / "short.edf")


@pytest.mark.parametrize("bdf", [False, True])
def test_samples_agree_with_pyedflib_and_files_open_twice(tmp_path: Path, bdf: bool) -> None:
    """Our vectorised decoding (24-bit sign extension included) gives pyEDFlib's values."""
    rng = np.random.default_rng(3)
    emg = rng.normal(0, 1500, 6000).clip(-4999, 4999)
    acc = rng.normal(0, 6000, 1200).clip(-15999, 15999)
    path = write_pyedflib(
        tmp_path / ("two.bdf" if bdf else "two.edf"),
        [signal_header("EMG L-FHL", 2000, "uV", -5000, 5000, bdf), signal_header("ACC L-FHL-Y", 400, "mg", -16000, 16000, bdf)],
        [emg, acc],
        bdf=bdf,
    )
    with EdfSource(path) as first, EdfSource(path) as second:
        ours = collect(first, 1.0)
        assert collect(second, 2.0)[2000.0].shape == (1, 6000)
    reference = pyedflib.EdfReader(str(path))
    try:
        np.testing.assert_allclose(ours[2000.0][0], reference.readSignal(0), rtol=1e-6, atol=1e-3)
        np.testing.assert_allclose(ours[400.0][0], reference.readSignal(1), rtol=1e-6, atol=1e-3)
    finally:
        reference.close()
    assert ours[2000.0].min() < -1000 and ours[2000.0].max() > 1000  # both signs exercised
