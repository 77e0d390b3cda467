"""Annotated copies: samples untouched, old annotations kept, events added; read by pyEDFlib and MNE."""

from __future__ import annotations

import json
import stat
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from fascdetect.analyze import analyze
from fascdetect.cli import main
from fascdetect.errors import InputError, RecordingError
from fascdetect.io import open_recording
from fascdetect.io.annotate import event_annotation, write_annotated_copy
from fascdetect.io.edf_read import EdfSource, read_layout
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Event
from firmware_sim.generator import Generator

START = datetime(2026, 2, 3, 22, 30, 0)


def simulated_file(path: Path, seconds: float = 30.0, bdf: bool = False, scenario: str = "post-exercise") -> list[str]:
    """A simulated recording with its truth as annotations (as `fascdetect simulate` writes it)."""
    gen = Generator(scenario, 1, duration_s=seconds)
    with EdfWriter(path, gen.channels, START, bdf=bdf) as writer:
        for chunk in gen.chunks(5.0):
            for block in chunk.blocks:
                writer.write(block)
            for ev in chunk.truth:
                writer.annotate(ev.onset_s, ev.duration_s, ev.annotation())
    return [ev.annotation() for ev in gen.truth]


def digital(path: Path) -> list[np.ndarray]:
    reader = pyedflib.EdfReader(str(path))
    try:
        return [reader.readSignal(i, digital=True) for i in range(reader.signals_in_file)]
    finally:
        reader.close()


def annotations(path: Path) -> list[tuple[float, float, str]]:
    reader = pyedflib.EdfReader(str(path), pyedflib.READ_ALL_ANNOTATIONS, pyedflib.CHECK_FILE_SIZE)
    try:
        onsets, durations, texts = reader.readAnnotations()
    finally:
        reader.close()
    return sorted((round(float(o), 6), round(float(d), 6), str(t)) for o, d, t in zip(onsets, durations, texts))


def detect(path: Path) -> list[Event]:
    source = open_recording(path)
    try:
        return analyze(source).events
    finally:
        source.close()


def as_notes(events: list[Event]) -> list[tuple[float, float, str]]:
    return [(round(e.onset_s, 6), round(e.duration_s, 6), event_annotation(e)) for e in events]


@pytest.mark.parametrize("bdf", [False, True])
def test_copy_keeps_samples_and_annotations_and_adds_events(tmp_path: Path, bdf: bool) -> None:
    original = tmp_path / ("rec.bdf" if bdf else "rec.edf")
    truth = simulated_file(original, bdf=bdf)
    events = detect(original)
    assert events and truth
    out = tmp_path / ("annotated.bdf" if bdf else "annotated.edf")
    write_annotated_copy(original, out, events)
    before, after = annotations(original), annotations(out)
    assert Counter(after) == Counter(before) + Counter(as_notes(events))
    for old, new in zip(digital(original), digital(out), strict=True):
        np.testing.assert_array_equal(old, new)
    layout = read_layout(out)
    assert layout.bdf == bdf and layout.plus
    assert layout.declared_records == layout.complete_records == read_layout(original).complete_records
    with EdfSource(out) as copy, EdfSource(original) as source:
        assert copy.channels == source.channels and copy.start == source.start
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("file_type, suffix", [(pyedflib.FILETYPE_EDF, ".edf"), (pyedflib.FILETYPE_BDF, ".bdf")])
def test_plain_edf_and_bdf_become_plus_with_all_signals(tmp_path: Path, file_type: int, suffix: str) -> None:
    original = tmp_path / f"plain{suffix}"
    dmax = 32767 if file_type == pyedflib.FILETYPE_EDF else 8388607
    headers = [
        {"label": "EMG L-ADM", "dimension": "uV", "sample_frequency": 1000, "physical_min": -5000,
         "physical_max": 5000, "digital_min": -dmax - 1, "digital_max": dmax},
        {"label": "Resp belt", "dimension": "mV", "sample_frequency": 25, "physical_min": -10,
         "physical_max": 10, "digital_min": -dmax - 1, "digital_max": dmax},  # not a foot channel: skipped, kept
    ]
    rng = np.random.default_rng(2)
    writer = pyedflib.EdfWriter(str(original), 2, file_type=file_type)
    writer.setSignalHeaders(headers)
    writer.setStartdatetime(START)
    writer.writeSamples([rng.normal(0, 200, 12_000), rng.normal(0, 2, 300)])
    writer.close()
    assert not read_layout(original).plus
    events = [Event("twitch", 1.25, 0.02, "L", "ADM", "EMG L-ADM", 80.0, "uV"),
              Event("cramp", 8.5, 4.0, "L", "ADM", "EMG L-ADM", 300.0, "uV")]
    out = tmp_path / f"plus{suffix}"
    write_annotated_copy(original, out, events)
    assert read_layout(out).plus
    assert annotations(out) == as_notes(events)
    for old, new in zip(digital(original), digital(out), strict=True):
        np.testing.assert_array_equal(old, new)
    reader = pyedflib.EdfReader(str(out))
    try:
        assert reader.getLabel(1) == "Resp belt" and reader.getStartdatetime() == START
    finally:
        reader.close()


def test_crowded_records_grow_the_annotation_space(tmp_path: Path) -> None:
    original = tmp_path / "quiet.edf"
    simulated_file(original, seconds=5.0, scenario="rest")
    # 300 events in one second, and some beyond the end: every one must land
    events = [Event("twitch", 2.0 + k / 300, 0.01, "L", "ADM", "EMG L-ADM", 50.0, "uV") for k in range(300)]
    events += [Event("burst", 4.9 + k, 0.5, "R", "AbH", "EMG R-AbH", 60.0, "uV") for k in range(3)]
    out = tmp_path / "crowded.edf"
    write_annotated_copy(original, out, events)
    assert Counter(annotations(out)) == Counter(annotations(original)) + Counter(as_notes(events))


def test_copy_of_a_truncated_recording_holds_its_complete_records(tmp_path: Path) -> None:
    original = tmp_path / "cut.edf"
    simulated_file(original, seconds=6.0)
    layout = read_layout(original)
    with open(original, "r+b") as f:
        f.truncate(layout.header_bytes + 4 * layout.record_bytes + 1000)
    out = tmp_path / "cut-annotated.edf"
    write_annotated_copy(original, out, [Event("twitch", 3.5, 0.02, "L", "ADM", "EMG L-ADM", 90.0, "uV")])
    copy = read_layout(out)
    assert copy.declared_records == copy.complete_records == 4 and copy.trailing_bytes == 0
    assert ("twitch@@EMG L-ADM" in {t for _, _, t in annotations(out)})


def test_csv_recording_is_converted_with_its_events(tmp_path: Path) -> None:
    original = tmp_path / "leg.csv"
    rng = np.random.default_rng(4)
    t = np.arange(2000) / 500
    emg = rng.normal(0, 30, t.size)
    np.savetxt(original, np.column_stack([t, emg]), delimiter=",", header="time,EMG L-ADM", comments="", fmt="%.6f")
    events = [Event("twitch", 1.0, 0.02, "L", "ADM", "EMG L-ADM", 80.0, "uV")]
    out = tmp_path / "leg.edf"
    write_annotated_copy(original, out, events)
    assert annotations(out) == as_notes(events)
    with EdfSource(out) as copy:
        data = next(copy.blocks(10.0)).data[0]
    np.testing.assert_allclose(data, emg, atol=10_000 / 65535)


def test_refuses_to_overwrite_the_recording_and_leaves_no_partial_file(tmp_path: Path) -> None:
    original = tmp_path / "rec.edf"
    simulated_file(original, seconds=3.0)
    before = original.read_bytes()
    with pytest.raises(InputError, match="is the recording itself"):
        write_annotated_copy(original, original, [])
    with pytest.raises(RecordingError, match="not found"):
        write_annotated_copy(tmp_path / "absent.edf", tmp_path / "out.edf", [])
    assert original.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.edf"]


def test_analyze_annotate_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = tmp_path / "rec.edf"
    simulated_file(original, seconds=20.0)
    out = tmp_path / "rec-annotated.edf"
    assert main(["analyze", str(original), "--json", "--annotate", str(out)]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert events
    added = Counter(annotations(out)) - Counter(annotations(original))
    assert sorted(added.elements()) == sorted(
        (round(e["onset"], 6), round(e["duration"], 6), f"{e['kind']}@@{e['channel']}") for e in events)


def test_mne_reads_the_annotated_copy(tmp_path: Path) -> None:
    mne = pytest.importorskip("mne", reason="MNE is not installed (optional: pip install mne)")
    original = tmp_path / "rec.edf"
    simulated_file(original, seconds=20.0)
    events = detect(original)
    out = tmp_path / "for-mne.edf"
    write_annotated_copy(original, out, events)
    raw = mne.io.read_raw_edf(out, preload=False, verbose="error")
    with EdfSource(original) as source:
        assert raw.ch_names == [c.label for c in source.channels]
    got = Counter((round(float(a["onset"]), 6), a["description"], tuple(a["ch_names"])) for a in raw.annotations)
    for e in events:
        assert got[(round(e.onset_s, 6), e.kind, (e.channel,))] >= 1
    assert sum(got.values()) == len(annotations(original)) + len(events)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MONTAGES = Path(__file__).resolve().parents[1] / "docs" / "montages"


@pytest.mark.parametrize("name, montage", [
    ("physionet_emgdb/emg_neuropathy.hea", "physionet_emgdb"),
    ("walking_leg_emg/ID0012_TW_01_raw_emg.csv", "walking_leg_emg"),
    ("shank_acc_fog/S03R02.txt", "daphnet_fog"),
])
def test_third_party_recordings_convert_with_their_events(tmp_path: Path, name: str, montage: str) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"third-party recordings not present at {SHARED}")
    from fascdetect.regions import Montage

    mapping = Montage.load(MONTAGES / f"{montage}.toml")
    source = open_recording(SHARED / name, mapping)
    try:
        result = analyze(source)
    finally:
        source.close()
    out = tmp_path / "converted.edf"
    write_annotated_copy(SHARED / name, out, result.events, mapping)
    assert annotations(out) == sorted(as_notes(result.events))
    with EdfSource(out, mapping) as copy:
        assert [c.label for c in copy.channels] == [c["label"] for c in result.channels]
        assert result.duration_s - 1 < copy.duration_s <= result.duration_s  # whole data records only
