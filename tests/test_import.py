"""WFDB and CSV import: files written in the test, and the real recordings in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from fascdetect.errors import RecordingError
from fascdetect.io import CsvSource, WfdbSource, open_recording
from fascdetect.regions import Montage

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MONTAGES = ROOT / "docs" / "montages"


def read_all(source) -> np.ndarray:
    blocks = list(source.blocks(0.5))
    assert [b.start for b in blocks] == list(np.cumsum([0] + [b.n for b in blocks[:-1]]))
    return np.concatenate([b.data for b in blocks], axis=1)


def montage(tmp_path: Path, text: str) -> Montage:
    path = tmp_path / "montage.toml"
    path.write_text(text, encoding="utf-8")
    return Montage.load(path)


TA_MONTAGE = '["Tib ant"]\nmodality = "EMG"\nside = "L"\nregion = "TA"\n'


def test_wfdb_record_in_mv_becomes_uv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mv = np.round(rng.normal(0, 0.5, (3000, 2)), 4)
    wfdb.wrsamp("rec", fs=1000, units=["mV", "mV"], sig_name=["Tib ant", "ECG"], p_signal=mv,
                fmt=["16", "16"], adc_gain=[10000, 10000], baseline=[0, 0], write_dir=str(tmp_path))
    for name in ("rec.hea", "rec.dat", "rec"):
        with open_recording(tmp_path / name, montage(tmp_path, TA_MONTAGE)) as source:
            assert isinstance(source, WfdbSource)
            assert [(c.label, c.region, c.unit, c.fs_hz) for c in source.channels] == [("Tib ant", "TA", "uV", 1000.0)]
            assert source.channels[0].physical_max == pytest.approx(32767 / 10)  # 16-bit ADC, 10000 units per mV
            assert [label for label, _ in source.skipped] == ["ECG"]
            assert source.duration_s == pytest.approx(3.0)
            np.testing.assert_allclose(read_all(source)[0], mv[:, 0] * 1000, atol=0.051)


def test_truncated_wfdb_reads_what_is_there(tmp_path: Path) -> None:
    wfdb.wrsamp("rec", fs=500, units=["mV"], sig_name=["Tib ant"], p_signal=np.ones((1000, 1)) * 0.25,
                fmt=["16"], adc_gain=[1000], baseline=[0], write_dir=str(tmp_path))
    dat = tmp_path / "rec.dat"
    dat.write_bytes(dat.read_bytes()[:1201])
    with WfdbSource(tmp_path / "rec", montage(tmp_path, TA_MONTAGE)) as source:
        assert source.duration_s == pytest.approx(600 / 500)
        np.testing.assert_allclose(read_all(source), 250.0)


def test_csv_with_units_in_names(tmp_path: Path) -> None:
    t = np.arange(2500) / 500
    emg_mv = 0.2 * np.sin(2 * np.pi * 30 * t)
    acc_g = 1 + 0.01 * np.cos(2 * np.pi * 3 * t)
    rows = "\n".join(f"{a:.4f},{b:.6f},{c:.6f},1" for a, b, c in zip(t, emg_mv, acc_g))
    path = tmp_path / "leg.csv"
    path.write_text(f"time_s,Tib ant [mV],ACC R-GAS-Z (g),marker\n{rows}\n", encoding="utf-8")
    with open_recording(path, montage(tmp_path, TA_MONTAGE)) as source:
        assert isinstance(source, CsvSource)
        assert [(c.label, c.unit, c.fs_hz) for c in source.channels] == [("Tib ant", "uV", 500.0), ("ACC R-GAS-Z", "mg", 500.0)]
        assert dict(source.skipped)["marker"].startswith("label does not follow")
        data = read_all(source)
    np.testing.assert_allclose(data[0], emg_mv * 1000, atol=1e-3)
    np.testing.assert_allclose(data[1], acc_g * 1000, atol=1e-3)


def test_headerless_text_in_ms_uses_column_numbers(tmp_path: Path) -> None:
    n = 640
    ms = np.floor(np.arange(n) * 1000 / 64)  # integer-ms timestamps of a 64 Hz stream
    values = np.arange(n) % 50 - 25
    path = tmp_path / "shank.txt"
    path.write_text("".join(f"{int(a)} {v} {2 * v} 0\n" for a, v in zip(ms, values)), encoding="utf-8")
    mapping = '["3"]\nmodality = "ACC"\nside = "L"\nregion = "TA"\naxis = "Y"\n'
    with open_recording(path, montage(tmp_path, mapping)) as source:
        assert source.channels[0].fs_hz == 64.0 and source.duration_s == pytest.approx(10.0)
        assert [label for label, _ in source.skipped] == ["2", "4"]
        np.testing.assert_allclose(read_all(source)[0], 2 * values)


def test_csv_gap_is_an_error_not_closed_up(tmp_path: Path) -> None:
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(1.5, 3, 0.01)])
    path = tmp_path / "gappy.csv"
    path.write_text("time,EMG L-TA\n" + "".join(f"{x:.2f},1\n" for x in t), encoding="utf-8")
    with pytest.raises(RecordingError, match="250 rows span 2.99 s, which does not fit 100 Hz"):
        CsvSource(path)
    t = np.arange(0, 3, 0.01)
    t[100:110] += 0.05  # a stall that catches up: the overall span still fits
    path.write_text("time,EMG L-TA\n" + "".join(f"{x:.2f},1\n" for x in t), encoding="utf-8")
    with CsvSource(path) as source:
        with pytest.raises(RecordingError, match="irregular timestamps from row 101"):
            read_all(source)


def test_csv_without_usable_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("time,Fz,Cz\n0,1,2\n0.01,1,2\n0.02,1,2\n", encoding="utf-8")
    with pytest.raises(RecordingError, match="no usable channels .*'Fz'.*'Cz'"):
        CsvSource(path)


def real(relative: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"third-party recordings not present at {DATA} (a fresh clone without ../shared/data)")
    return DATA / relative


@pytest.mark.parametrize("record", ["emg_healthy", "emg_myopathy", "emg_neuropathy"])
def test_physionet_emg_imports(record: str) -> None:
    path = real(f"physionet_emgdb/{record}.hea")
    with open_recording(path, Montage.load(MONTAGES / "physionet_emgdb.toml")) as source:
        channel = source.channels[0]
        assert (channel.modality, channel.side, channel.region, channel.fs_hz, channel.unit) == ("EMG", "R", "TA", 4000.0, "uV")
        data = read_all(source)[0]
    reference = wfdb.rdrecord(str(path.with_suffix(""))).p_signal[:, 0] * 1000
    assert data.shape == reference.shape
    np.testing.assert_allclose(data, reference, rtol=1e-6, atol=1e-3)
    assert np.abs(data).max() <= channel.physical_max + 0.1  # within the 16-bit ADC's range


def test_walking_leg_csv_imports() -> None:
    path = real("walking_leg_emg/ID0012_TW_01_raw_emg.csv")
    with open_recording(path, Montage.load(MONTAGES / "walking_leg_emg.toml")) as source:
        assert [(c.label, c.region) for c in source.channels] == [("TA", "TA"), ("PL", "PER"), ("GM", "GAS")]
        assert {label for label, _ in source.skipped} == {"ME", "MA", "FL", "RF", "VM", "VL", "ST", "BF", "GL", "SO"}
        assert source.channels[0].fs_hz == 1000.0
        data = read_all(source)
    assert data.shape == (3, 7618) and np.all(np.isfinite(data))


@pytest.mark.parametrize("name", ["S01R02.txt", "S03R02.txt"])
def test_daphnet_shank_acc_imports(name: str) -> None:
    path = real(f"shank_acc_fog/{name}")
    with open_recording(path, Montage.load(MONTAGES / "daphnet_fog.toml")) as source:
        assert [(c.label, c.placement.axis, c.fs_hz, c.unit) for c in source.channels] == [
            ("2", "X", 64.0, "mg"), ("3", "Y", 64.0, "mg"), ("4", "Z", 64.0, "mg"),
        ]
        data = read_all(source)
    assert data.shape[1] == round(source.duration_s * 64)
    assert 500 < np.median(np.abs(data[1])) < 1500  # the vertical axis carries gravity, ~1000 mg
