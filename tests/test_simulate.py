"""``fascdetect simulate``: a real EDF+/BDF+ file on disk that reads back as the in-memory simulation."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import numpy as np
import pytest

from fascdetect.cli import main
from fascdetect.commands.simulate import parse_duration
from fascdetect.errors import InputError
from fascdetect.io import open_recording
from firmware_sim.generator import simulate
from firmware_sim.scenarios import SCENARIOS, SimMontage
from firmware_sim.truth import read_tsv


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("8h", 28800), ("1h30m", 5400), ("45", 45), ("2.5m", 150)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "5x", "0s", "-3m"])
def test_parse_duration_rejects(text):
    with pytest.raises(InputError):
        parse_duration(text)


ARGS = ["--sides", "L", "--emg-regions", "AbH,FDB,ADM", "--acc-regions", "ADM", "--emg-fs", "1000", "--acc-fs", "200"]


@pytest.mark.parametrize("bdf", [False, True])
def test_written_recording_matches_simulation(tmp_path, bdf, capsys):
    out = tmp_path / ("rec.bdf" if bdf else "rec.edf")
    argv = ["simulate", "--scenario", "post-exercise", "--duration", "40s", "--seed", "5", "--out", str(out), *ARGS]
    assert main(argv + (["--bdf"] if bdf else [])) == 0
    assert "wrote" in capsys.readouterr().out
    truth_path = tmp_path / "rec.truth.tsv"
    for p in (out, truth_path):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    montage = SimMontage(sides=("L",), emg_regions=("AbH", "FDB", "ADM"), acc_regions=("ADM",), emg_fs_hz=1000, acc_fs_hz=200)
    ref = simulate(SCENARIOS["post-exercise"], 40.0, 5, montage=montage)
    src = open_recording(out)
    try:
        assert [c.label for c in src.channels] == [c.label for c in ref.channels]
        assert src.start == ref.start and src.duration_s == 40.0
        got = {}
        for block in src.blocks():
            for row, ch in enumerate(block.channels):
                got.setdefault(ch.label, []).append(block.data[row])
        for ch in ref.channels:
            x = np.concatenate(got[ch.label])
            step = (ch.physical_max - ch.physical_min) / (2 ** (24 if bdf else 16) - 1)
            assert np.max(np.abs(x - ref.channel(ch.label)[0])) <= step
        notes = src.annotations()
    finally:
        src.close()
    truth = read_tsv(truth_path)
    assert [(e.kind, e.channel, round(e.onset_s, 4)) for e in truth] == [(e.kind, e.channel, round(e.onset_s, 4)) for e in ref.truth]
    texts = [n for n in notes if "@@" in n[2]]
    assert len(texts) == len(ref.truth)
    assert sorted(round(n[0], 3) for n in texts) == sorted(round(e.onset_s, 3) for e in ref.truth)


def test_settings_override_scenario_knobs():
    from fascdetect.commands.simulate import apply_settings

    sc = apply_settings(SCENARIOS["night"], ["cramp_rate_per_h=20", "clip=false", "cramp_regions=GAS,FDB", "crosstalk_gain=0.1,0.2"])
    assert (sc.cramp_rate_per_h, sc.clip, sc.cramp_regions, sc.crosstalk_gain) == (20.0, False, ("GAS", "FDB"), (0.1, 0.2))
    for bad in ["nope=1", "noise_uv", "noise_uv=loud", "clip=maybe", "montage=x"]:
        with pytest.raises(InputError):
            apply_settings(SCENARIOS["rest"], [bad])


def test_refuses_to_overwrite_and_bad_options(tmp_path, capsys):
    out = tmp_path / "a.edf"
    out.write_bytes(b"keep me")
    assert main(["simulate", "--duration", "4s", "--out", str(out)]) == 2
    assert out.read_bytes() == b"keep me"
    assert main(["simulate", "--scenario", "nope", "--out", str(tmp_path / "b.edf")]) == 2
    assert main(["simulate", "--duration", "2.5s", "--out", str(tmp_path / "c.edf")]) == 2
    assert main(["simulate", "--emg-fs", "100", "--duration", "4s", "--out", str(tmp_path / "d.edf")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "unknown scenario" in err and "whole seconds" in err and "EMG sampling rate" in err


def _readme_commands():
    readme = Path(__file__).resolve().parents[1] / "recordings" / "README.md"
    return [line.strip().strip("`") for line in readme.read_text().splitlines() if line.strip().startswith("`fascdetect simulate")]


@pytest.mark.parametrize("command", _readme_commands(), ids=lambda c: c.split("--out ")[1].split()[0])
def test_bundled_recordings_are_what_their_readme_command_makes(command, tmp_path):
    """Fails when the simulator changed: if on purpose, rebuild recordings/ with these commands."""
    argv = shlex.split(command)[1:]
    bundled = Path(__file__).resolve().parents[1] / argv[argv.index("--out") + 1]
    argv[argv.index("--out") + 1] = str(tmp_path / bundled.name)
    assert main(argv + ["--no-progress"]) == 0
    made, kept = tmp_path / bundled.name, bundled
    # Samples within one ADC step (float rounding may differ between numpy/scipy builds), same truth.
    for a, b in zip(_samples(made).items(), _samples(kept).items(), strict=True):
        assert a[0] == b[0]
        assert np.max(np.abs(a[1][0] - b[1][0])) <= a[1][1] * 1.001, a[0]
    ta = read_tsv(made.with_name(made.stem + ".truth.tsv"))
    tb = read_tsv(kept.with_name(kept.stem + ".truth.tsv"))
    assert [(e.kind, e.channel, e.onset_s, e.duration_s, e.flags) for e in ta] == \
           [(e.kind, e.channel, e.onset_s, e.duration_s, e.flags) for e in tb]
    assert np.allclose([e.amplitude for e in ta], [e.amplitude for e in tb], atol=0.01)
    assert len(_readme_commands()) == len(list(bundled.parent.glob("*.edf")))


def _samples(path):
    """label -> (samples, ADC step) of a recording."""
    src = open_recording(path)
    try:
        parts = {}
        for block in src.blocks():
            for row, ch in enumerate(block.channels):
                parts.setdefault(ch.label, []).append(block.data[row])
        steps = {c.label: (c.physical_max - c.physical_min) / 65535 for c in src.channels}
    finally:
        src.close()
    return {k: (np.concatenate(v), steps[k]) for k, v in parts.items()}


@pytest.mark.parametrize("name, kinds", [("walking", {"movement"}), ("restless", {"activity"})])
def test_new_scenarios_from_the_command_line(tmp_path, name, kinds, capsys):
    out = tmp_path / f"{name}.edf"
    extra = ["--set", "walk_first_s=1,2"] if name == "walking" else ["--set", "activity_rate_per_h=900"]
    argv = ["simulate", "--scenario", name, "--duration", "30s", "--seed", "2", "--out", str(out), "--sides", "L",
            "--emg-regions", "TA,GAS", "--acc-regions", "ADM", "--emg-fs", "1000", "--acc-fs", "200", *extra]
    assert main(argv) == 0
    truth = read_tsv(tmp_path / f"{name}.truth.tsv")
    assert kinds <= {e.kind for e in truth}
    if name == "walking":
        assert any(e.kind == "movement" and "gait" in e.flags for e in truth)
    src = open_recording(out)
    try:
        notes = [n[2] for n in src.annotations() if "@@" in n[2]]
    finally:
        src.close()
    assert len(notes) == len(truth)
    if name == "walking":
        assert any(n.startswith("movement gait") for n in notes)
    masked = [e for e in truth if "masked" in e.flags]
    assert all(e.kind == "twitch" for e in masked)
