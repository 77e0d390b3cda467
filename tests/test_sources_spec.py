"""Source specs: parsing, clear errors, and the sources they open (real files, the real simulator)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fascdetect.commands._sources import open_cli_source
from fascdetect.errors import DeviceError, InputError, RecordingError
from fascdetect.io.edf_read import EdfSource
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Block, Channel
from fascdetect.regions import parse_label
from fascdetect.sources import Source
from fascdetect.sources.replay import ReplaySource
from fascdetect.sources.spec import SPEC_FORMS, SourceSpec, open_source, parse_source_spec

EMG = (Channel("EMG L-ADM", parse_label("EMG L-ADM"), 1000.0, physical_min=-5000, physical_max=5000),)
ACC = (Channel("ACC L-ADM-X", parse_label("ACC L-ADM-X"), 100.0, physical_min=-16000, physical_max=16000),)


@pytest.mark.parametrize("text, expected", [
    ("sim", SourceSpec("sim", None, 1.0)),
    ("sim:night", SourceSpec("sim", "night", 1.0)),
    ("sim:night@4", SourceSpec("sim", "night", 4.0)),
    ("SIM:rest@4x", SourceSpec("sim", "rest", 4.0)),
    ("sim@max", SourceSpec("sim", None, None)),
    ("ble", SourceSpec("ble", None, 1.0)),
    ("ble:AA:BB:CC:DD:EE:FF", SourceSpec("ble", "AA:BB:CC:DD:EE:FF", 1.0)),
    ("ble:Foot@home", SourceSpec("ble", "Foot@home", 1.0)),
    ("replay:/data/night 1.edf", SourceSpec("replay", "/data/night 1.edf", 1.0)),
    ("replay:/data/a:b.edf@0.5", SourceSpec("replay", "/data/a:b.edf", 0.5)),
    ("replay:x.bdf@MAX", SourceSpec("replay", "x.bdf", None)),
])
def test_parses_every_form(text: str, expected: SourceSpec) -> None:
    assert parse_source_spec(text) == expected


@pytest.mark.parametrize("text, why", [
    ("", "unknown kind ''"),
    ("usb:1", "unknown kind 'usb'"),
    ("replay", "replay needs a path"),
    ("replay:@4", "replay needs a path"),
    ("sim@0", "must be a positive number"),
    ("sim:rest@-2", "must be a positive number"),
    ("sim:rest@inf", "must be a positive number"),
    ("replay:a.edf@fast", "neither a number nor 'max'"),
    ("ble@4", "a live wearable has no speed"),
])
def test_bad_specs_name_the_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(InputError) as err:
        parse_source_spec(text)
    assert why in str(err.value)
    assert SPEC_FORMS in str(err.value)


def test_a_bare_file_name_gets_a_replay_hint(tmp_path: Path) -> None:
    path = tmp_path / "night.edf"
    path.write_bytes(b"not really")
    with pytest.raises(InputError, match=f"replay:{path}"):
        parse_source_spec(str(path))


def _write_recording(path: Path, seconds: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    emg = rng.normal(0, 100, (1, 1000 * seconds)).astype(np.float32)
    acc = rng.normal(0, 500, (1, 100 * seconds)).astype(np.float32)
    with EdfWriter(path, EMG + ACC, datetime(2026, 3, 1, 22, 0, 0)) as writer:
        writer.write(Block(EMG, 1000.0, 0, emg))
        writer.write(Block(ACC, 100.0, 0, acc))
    return emg, acc


def test_replay_spec_opens_the_file_at_its_speed(tmp_path: Path) -> None:
    path = tmp_path / "r.edf"
    emg, acc = _write_recording(path, 4)
    source = open_source(f"replay:{path}@max")
    assert isinstance(source, ReplaySource) and isinstance(source, Source)
    assert source.speed is None
    assert [c.label for c in source.channels] == ["EMG L-ADM", "ACC L-ADM-X"]
    assert source.duration_s == 4.0
    got: dict[float, list[np.ndarray]] = {}
    with source:
        for block in source.blocks():
            got.setdefault(block.fs_hz, []).append(block.data)
    with EdfSource(path) as direct:
        expected = {b.fs_hz: b.data for b in direct.blocks(10.0)}
    for fs_hz in (1000.0, 100.0):
        np.testing.assert_array_equal(np.concatenate(got[fs_hz], axis=1), expected[fs_hz])
    paced = open_source(f"replay:{path}@8")
    assert paced.speed == 8.0
    t0 = time.monotonic()
    with paced:
        n = sum(b.n for b in paced.blocks() if b.fs_hz == 1000.0)
    assert n == 4000
    assert time.monotonic() - t0 >= 4 / 8 * 0.9  # paced, not flat out (upper bounds belong in benchmarks)


def test_replay_of_a_missing_file_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="file not found"):
        open_source(f"replay:{tmp_path / 'absent.edf'}")


def test_library_refuses_sim_without_a_simulator() -> None:
    with pytest.raises(InputError, match="simulated wearable is not available"):
        open_source("sim:rest")


def test_simulator_factory_gets_the_scenario_and_is_paced(tmp_path: Path) -> None:
    asked: list[str | None] = []

    def factory(scenario: str | None) -> Source:
        asked.append(scenario)
        path = tmp_path / "f.edf"
        _write_recording(path, 2)
        return EdfSource(path)

    source = open_source("sim:night@2", simulator=factory)
    assert asked == ["night"] and isinstance(source, ReplaySource) and source.speed == 2.0
    source.close()


def test_cli_sim_is_the_simulated_wearable_dated_now() -> None:
    from firmware_sim.generator import Generator

    before = datetime.now().replace(microsecond=0)
    source = open_cli_source("sim:little-toe@max")
    reference = Generator("little-toe", 0, duration_s=2)
    assert source.channels == reference.channels
    assert before <= source.start <= datetime.now() + timedelta(seconds=1)
    assert source.duration_s is None  # a live stream
    got: dict[float, list[np.ndarray]] = {}
    for block in source.blocks():
        got.setdefault(block.fs_hz, []).append(block.data)
        if sum(d.shape[1] for d in got.get(400.0, [])) >= 800:
            break
    source.close()
    expected = {b.fs_hz: b.data for b in _whole(reference)}
    emg = np.concatenate(got[2000.0], axis=1)[:, :4000]
    np.testing.assert_array_equal(emg, expected[2000.0])


def _whole(gen) -> list[Block]:
    parts: dict[float, list[Block]] = {}
    for block in gen.blocks(1.0):
        parts.setdefault(block.fs_hz, []).append(block)
    return [Block(bs[0].channels, fs, 0, np.concatenate([b.data for b in bs], axis=1)) for fs, bs in parts.items()]


def test_cli_sim_unknown_scenario() -> None:
    with pytest.raises(InputError, match="unknown scenario 'nowhere'"):
        open_cli_source("sim:nowhere")


def test_ble_without_the_ble_module_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fascdetect.sources.ble", None)  # makes the import fail
    with pytest.raises(DeviceError, match="Bluetooth LE acquisition is not available"):
        open_source("ble:FootSensor")
