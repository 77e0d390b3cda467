"""Counts on real third-party recordings (../shared/data): voluntary activity, gait and real rest backgrounds.

None of these is annotated for fasciculations; each test states what the
recording is (../shared/data/README.md) and the count a clinician would
expect of it. They skip with the reason when the folder is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fascdetect.analyze import AnalysisResult, analyze_path
from fascdetect.config import DetectorConfig
from fascdetect.regions import Montage

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MONTAGES = ROOT / "docs" / "montages"
# The stated false-alarm rate on real rest stretches, as on white noise.
FALSE_TWITCHES_PER_CHANNEL_MIN = 0.05


def real(relative: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"third-party recordings not present at {DATA} (a fresh clone without ../shared/data)")
    return DATA / relative


def analyse(relative: str, montage: str) -> AnalysisResult:
    return analyze_path(real(relative), Montage.load(MONTAGES / f"{montage}.toml"), DetectorConfig(), workers=1)


def kinds(result: AnalysisResult, kind: str) -> list:
    return [e for e in result.events if e.kind == kind]


@pytest.mark.parametrize("name", ["emg.txt", "emg_1.txt"])
def test_biosppy_voluntary_activity_is_not_twitching(name: str) -> None:
    """Rest with weak (emg.txt) or clear (emg_1.txt) voluntary contractions: at most 3 twitches, activity reported."""
    result = analyse(f"biosppy_emg/{name}", "biosppy_emg")
    assert len(kinds(result, "twitch")) <= 3
    assert kinds(result, "activity")
    row = result.summary()["regions"][0]
    assert 0 < row["rest_s"] < result.duration_s


def test_biosppy_weak_contractions_are_activity() -> None:
    """emg.txt's weak voluntary activity at 35-41 s and 50-58 s is mostly covered by activity events."""
    result = analyse("biosppy_emg/emg.txt", "biosppy_emg")
    active = [(e.onset_s, e.end_s) for e in result.events if e.kind in ("activity", "cramp")]
    for lo, hi in ((35.0, 41.0), (50.0, 58.0)):
        covered = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in active)
        assert covered >= 0.4 * (hi - lo), (lo, hi, active)
    assert not [e for e in kinds(result, "twitch") if 36.0 <= e.onset_s <= 40.0 or 51.0 <= e.onset_s <= 57.0]


def test_real_rest_background_false_alarm_rate() -> None:
    """emg.txt 0-30 s is a muscle at rest (real quantised background): at most the stated false-alarm rate."""
    result = analyse("biosppy_emg/emg.txt", "biosppy_emg")
    twitches = [e for e in kinds(result, "twitch") if e.onset_s < 30.0]
    assert len(twitches) <= FALSE_TWITCHES_PER_CHANNEL_MIN * 30.0 / 60.0


def test_walking_is_gait_movement_not_cramp() -> None:
    """7.6 s of treadmill walking (TA, PL, GM): no cramp, at most 1 twitch, gait movement over most of it."""
    result = analyse("walking_leg_emg/ID0012_TW_01_raw_emg.csv", "walking_leg_emg")
    assert not kinds(result, "cramp")
    assert len(kinds(result, "twitch")) <= 1
    moving = [e for e in result.events if e.kind in ("movement", "activity")]
    assert sum(e.duration_s for e in moving) >= 0.5 * result.duration_s
    assert any(e.kind == "movement" and "gait" in e.flags for e in moving)
    assert result.to_json()["events"][0].get("pattern") == "gait"


@pytest.mark.parametrize("name", ["S01R02.txt", "S03R02.txt"])
def test_daphnet_slow_accelerometer_gives_movement_and_a_rate_note(name: str) -> None:
    """A 64 Hz shank accelerometer during walking and freezing of gait: movement only, and the note says why."""
    result = analyse(f"shank_acc_fog/{name}", "daphnet_fog")
    assert not kinds(result, "twitch")
    assert kinds(result, "movement")
    notes = result.summary()["notes"]
    assert any("64 Hz" in n and "movement only" in n for n in notes), notes


def test_rate_notes_reach_the_json_and_the_table() -> None:
    """The CLI's JSON and table carry the note too (as a user would see it)."""
    path = real("shank_acc_fog/S01R02.txt")
    out = subprocess.run([sys.executable, "-m", "fascdetect.cli", "analyze", str(path), "--montage",
                          str(MONTAGES / "daphnet_fog.toml"), "--json"], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert any("64 Hz" in n for n in doc["summary"]["notes"])
    assert all("rest_s" in c for c in doc["recording"]["channels"])


def test_a_rate_over_seconds_of_rest_is_flagged() -> None:
    """Needle EMG with contractions most of the time (myopathy): the few seconds of rest give a rate, and a note."""
    result = analyse("physionet_emgdb/emg_myopathy.hea", "physionet_emgdb")
    row = result.summary()["regions"][0]
    assert row["rest_s"] < 60.0
    notes = result.summary()["notes"]
    assert not row["twitches"] or any("at rest" in n and "says little" in n for n in notes), notes
