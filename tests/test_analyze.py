"""`fascdetect analyze` end to end on real EDF/BDF files written to disk in the test."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from fascdetect.analyze import analyze_path
from fascdetect.cli import main
from tests.signals import potential

FS_EMG, FS_ACC = 2000, 400


def write_edf(path: Path, labels: list[str], seconds: int, twitch_at: dict[str, list[float]],
              rng: np.random.Generator, bdf: bool = False, acc_labels: tuple[str, ...] = ()) -> None:
    """An EDF+/BDF+ with EMG (noise + potentials at the given times) and optional ACC (gravity + noise)."""
    w = pyedflib.EdfWriter(str(path), len(labels) + len(acc_labels),
                           file_type=pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS)
    digital = (-8388608, 8388607) if bdf else (-32768, 32767)
    heads = [dict(label=lab, dimension="uV", sample_frequency=FS_EMG, physical_min=-5000, physical_max=5000,
                  digital_min=digital[0], digital_max=digital[1]) for lab in labels]
    heads += [dict(label=lab, dimension="mg", sample_frequency=FS_ACC, physical_min=-8000, physical_max=8000,
                   digital_min=digital[0], digital_max=digital[1]) for lab in acc_labels]
    w.setSignalHeaders(heads)
    emg = rng.normal(0, 3, (len(labels), seconds * FS_EMG))
    for row, lab in enumerate(labels):
        for t in twitch_at.get(lab, []):
            wave = potential(FS_EMG, amplitude_uv=150.0)
            i = int(t * FS_EMG)
            emg[row, i:i + wave.size] += wave
    acc = 1000.0 + rng.normal(0, 0.5, (len(acc_labels), seconds * FS_ACC))
    for s in range(seconds):
        w.writeSamples([emg[r, s * FS_EMG:(s + 1) * FS_EMG] for r in range(len(labels))]
                       + [acc[r, s * FS_ACC:(s + 1) * FS_ACC] for r in range(len(acc_labels))])
    w.close()


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rec.edf"
    twitches = {"EMG L-ADM": [5.0, 12.5, 20.25], "EMG R-AbH": [8.0, 16.0]}
    write_edf(path, ["EMG L-ADM", "EMG R-AbH", "Thermometer"], 30, twitches, np.random.default_rng(0),
              acc_labels=("ACC L-ADM-X", "ACC L-ADM-Y", "ACC L-ADM-Z"))
    return path, twitches


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_one_object_with_the_documented_schema(recording, capsys):
    path, twitches = recording
    code, out, err = run_cli(["analyze", str(path), "--json"], capsys)
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"recording", "events", "summary"}
    rec = doc["recording"]
    assert rec["path"] == str(path) and rec["duration_s"] == 30.0 and rec["start"][:4].isdigit()
    assert {c["label"]: c["fs_hz"] for c in rec["channels"]} == {
        "EMG L-ADM": 2000.0, "EMG R-AbH": 2000.0, "ACC L-ADM-X": 400.0, "ACC L-ADM-Y": 400.0, "ACC L-ADM-Z": 400.0}
    assert [s["label"] for s in rec["skipped"]] == ["Thermometer"]
    found = {(e["channel"], round(e["onset"], 2)) for e in doc["events"] if e["kind"] == "twitch"}
    expected = {(ch, round(t, 2)) for ch, ts in twitches.items() for t in ts}
    assert len(found) == len(expected)
    for (ch, t) in expected:
        assert any(c == ch and abs(o - t) <= 0.01 for c, o in found)
    for e in doc["events"]:
        assert {"kind", "onset", "duration", "side", "region", "channel", "doublet"} <= set(e)
        assert "peak_uv" in e or "peak_mg" in e
    by_region = {(r["side"], r["region"]): r for r in doc["summary"]["regions"]}
    assert by_region[("L", "ADM")]["twitches"] == 3 and by_region[("R", "AbH")]["twitches"] == 2
    assert by_region[("L", "ADM")]["twitches_per_min"] == pytest.approx(6.0)


def test_table_and_events_tsv(recording, tmp_path, capsys):
    path, _ = recording
    tsv = tmp_path / "events.tsv"
    code, out, _ = run_cli(["analyze", str(path), "--events-out", str(tsv)], capsys)
    assert code == 0
    assert "left abductor digiti minimi" in out and "Skipped: Thermometer" in out
    rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
    assert [r["trial_type"] for r in rows] == ["twitch"] * 5
    assert set(rows[0]) == {"onset", "duration", "trial_type", "side", "region", "channel", "peak", "unit", "flags",
                            "motor_unit"}
    assert stat.S_IMODE(os.stat(tsv).st_mode) == 0o600


def test_bdf_and_edf_give_the_same_events(tmp_path, capsys):
    twitches = {"EMG L-FDB": [4.0, 9.0]}
    docs = []
    for bdf in (False, True):
        path = tmp_path / ("r.bdf" if bdf else "r.edf")
        write_edf(path, ["EMG L-FDB"], 15, twitches, np.random.default_rng(1), bdf=bdf)
        code, out, _ = run_cli(["analyze", str(path), "--json"], capsys)
        assert code == 0
        docs.append([(e["kind"], round(e["onset"], 3)) for e in json.loads(out)["events"]])
    assert docs[0] == docs[1] and len(docs[0]) == 2


@pytest.mark.parametrize("content, message", [
    (None, "file not found"),
    (b"hello, not a recording\n", "unknown recording format"),
])
def test_bad_files_give_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "x.dat1"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_cli(["analyze", str(path)], capsys)
    assert code == 3 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_truncated_file_is_analysed_up_to_its_last_complete_record(recording, tmp_path, capsys):
    path, _ = recording
    cut = tmp_path / "cut.edf"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    code, out, _ = run_cli(["analyze", str(cut), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert 15 <= doc["recording"]["duration_s"] < 30
    assert all(e["onset"] < doc["recording"]["duration_s"] for e in doc["events"])


def test_no_usable_channels(tmp_path, capsys):
    path = tmp_path / "odd.edf"
    write_edf(path, ["Fp1", "Cz"], 5, {}, np.random.default_rng(2))
    code, _, err = run_cli(["analyze", str(path)], capsys)
    assert code == 3 and "no usable channels" in err.lower() and "Fp1" in err


def test_montage_maps_other_labels(tmp_path, capsys):
    path = tmp_path / "m.edf"
    write_edf(path, ["Tib Ant R"], 12, {"Tib Ant R": [6.0]}, np.random.default_rng(3))
    montage = tmp_path / "m.toml"
    montage.write_text('["Tib Ant R"]\nmodality = "EMG"\nside = "R"\nregion = "ta"\n')
    code, out, _ = run_cli(["analyze", str(path), "--montage", str(montage), "--json"], capsys)
    assert code == 0
    (event,) = json.loads(out)["events"]
    assert (event["side"], event["region"], event["channel"]) == ("R", "TA", "Tib Ant R")
    montage.write_text('["Tib Ant R"]\nmodality = "EMG"\nside = "R"\nregion = "shin"\n')
    code, _, err = run_cli(["analyze", str(path), "--montage", str(montage)], capsys)
    assert code == 2 and "unknown foot region 'shin'" in err


def test_settings_can_be_shown_and_overridden(recording, capsys):
    path, _ = recording
    code, out, _ = run_cli(["analyze", str(path), "--show-config"], capsys)
    assert code == 0 and json.loads(out)["threshold_on"] == 3.5
    code, _, err = run_cli(["analyze", str(path), "--set", "threshold_on=abc"], capsys)
    assert code == 2 and "threshold_on" in err


def test_feet_in_parallel_processes_give_exactly_the_single_pass_events():
    """The feet are independent, so splitting them across processes changes nothing."""
    path = Path(__file__).resolve().parents[1] / "recordings" / "night-excerpt-3m.edf"
    one = analyze_path(path, workers=1, progress=False)
    two = analyze_path(path, workers=2, progress=False)
    assert one.events == two.events and one.events
    assert one.summary() == two.summary()
