"""Real recordings: what fascdetect (now and before the rest state) and each peer report on third-party files.

The recordings in ``../shared/data`` are real, made by nobody on this
project, and none is annotated for fasciculations (see its README.md): the
count to expect comes from what each recording is, told beside the numbers.
Walking, voluntary contractions and a needle EMG examination are not
twitching, so twitches reported there are false alarms, whoever reports them.

fascdetect runs through ``analyze_path`` (``workers=1``) with the montage in
``docs/montages``. "Before" is the same call at an older commit, run from a
temporary git worktree in its own process (``PYTHONPATH``): the code before
the rest state and its real-background thresholds (issue 10). The peers
(:data:`benchmarks.peers.PEERS`) see the same calibrated EMG channels the
montage gives fascdetect, read through the same reader, and a span of theirs
is a twitch when shorter than :data:`benchmarks.peers.TWITCH_MAX_S`
(``Peer.events``). Tunable peers use the thresholds the last accuracy run
chose on the simulator (``results/accuracy.json``); accelerometer-only
recordings have no EMG for them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import RESULTS_DIR
from benchmarks.peers import PEERS, TWITCH_MAX_S, Peer

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FASCDETECT_REAL_DATA", ROOT.parent / "shared" / "data"))
MONTAGES = ROOT / "docs" / "montages"
BASE_COMMIT = "3df6359"
"""'Before': the detector before issue 10's rest state (and before the BioSPPy text reader, 25c1855)."""
BASE_WORKTREE = Path("/tmp/base_real")


@dataclass(frozen=True)
class Recording:
    path: str
    """Relative to :data:`DATA`."""
    montage: str
    """Name of a ``docs/montages/*.toml``."""
    what: str
    """One line from ``../shared/data/README.md``."""


RECORDINGS: tuple[Recording, ...] = (
    Recording("biosppy_emg/emg.txt", "biosppy_emg",
              "surface EMG, 1 kHz, 100 s: a muscle mostly at rest, weak voluntary activity at 35-41 s and 50-58 s"),
    Recording("biosppy_emg/emg_1.txt", "biosppy_emg",
              "surface EMG, 1 kHz, 64 s: rest (~4.7 µV RMS) and several clear voluntary contractions"),
    Recording("walking_leg_emg/ID0012_TW_01_raw_emg.csv", "walking_leg_emg",
              "surface EMG TA/PL/GM, 1 kHz, 7.6 s of treadmill walking: 6 gait cycles of voluntary bursts"),
    Recording("shank_acc_fog/S01R02.txt", "daphnet_fog",
              "shank accelerometer, 64 Hz, 814 s: walking with 5 freezing-of-gait episodes (Parkinson's)"),
    Recording("shank_acc_fog/S03R02.txt", "daphnet_fog",
              "shank accelerometer, 64 Hz, 606 s: walking with 6 freezing-of-gait episodes (Parkinson's)"),
    Recording("physionet_emgdb/emg_healthy.hea", "physionet_emgdb",
              "needle EMG, TA, 4 kHz, 12.7 s: gentle dorsiflexion against resistance, then relaxed (healthy)"),
    Recording("physionet_emgdb/emg_myopathy.hea", "physionet_emgdb",
              "needle EMG, TA, 4 kHz, 27.6 s: the same examination, myopathy (polymyositis)"),
    Recording("physionet_emgdb/emg_neuropathy.hea", "physionet_emgdb",
              "needle EMG, TA, 4 kHz, 37.0 s: the same, neuropathy (L5 radiculopathy); two strong bursts, clipped"),
)

# Run in a fresh interpreter with PYTHONPATH at the old commit's worktree: only API that commit has.
_BEFORE_SCRIPT = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import fascdetect
from fascdetect.analyze import analyze_path
from fascdetect.config import DetectorConfig
from fascdetect.regions import Montage
out = {"fascdetect_file": fascdetect.__file__, "recordings": {}}
for rel, path, montage in json.loads(sys.argv[1]):
    try:
        r = analyze_path(path, Montage.load(montage), DetectorConfig(), progress=False, workers=1)
    except Exception as e:
        out["recordings"][rel] = {"readable": False, "error": f"{type(e).__name__}: {e}"}
        continue
    s = r.summary()
    out["recordings"][rel] = {"readable": True, "duration_s": round(r.duration_s, 3), "twitches": s["twitches"],
                              "cramps": s["cramps"], "bursts": s["bursts"],
                              "movements": sum(m["count"] for m in s["movement"].values()),
                              "regions": [{k: row[k] for k in ("side", "region", "twitches", "cramps")}
                                          for row in s["regions"]]}
print(json.dumps(out))
"""


def peer_configs(accuracy_json: Path = RESULTS_DIR / "accuracy.json") -> tuple[tuple[Peer, ...], dict[str, Any]]:
    """Every peer: the defaults as they are, the tunable ones at the threshold the last accuracy run chose."""
    doc = json.loads(accuracy_json.read_text())
    chosen = {name: rec["chosen"] for name, rec in doc["tuning"].items()}
    peers = tuple(p.tuned(chosen[p.name]) if p.grid else p for p in PEERS)
    return peers, {"from": f"{accuracy_json.relative_to(ROOT)} ({doc['finished_utc']})", "thresholds": chosen}


def emg_groups(path: Path, montage) -> list[tuple[np.ndarray, tuple, float]]:
    """The montage's calibrated EMG of a recording, whole, per rate group: (channels × samples, channels, fs_hz)."""
    from fascdetect.io import open_recording

    source = open_recording(path, montage)
    parts: dict[tuple, list[np.ndarray]] = {}
    try:
        for block in source.blocks():
            if any(c.modality == "EMG" for c in block.channels):
                parts.setdefault((block.channels, block.fs_hz), []).append(block.data)
    finally:
        source.close()
    return [(np.concatenate(blocks, axis=1), channels, fs_hz) for (channels, fs_hz), blocks in parts.items()]


def run_fascdetect(rec: Recording) -> dict[str, Any]:
    from fascdetect.analyze import analyze_path
    from fascdetect.config import DetectorConfig
    from fascdetect.regions import Montage

    t = time.perf_counter()
    result = analyze_path(DATA / rec.path, Montage.load(MONTAGES / f"{rec.montage}.toml"), DetectorConfig(),
                          progress=False, workers=1)
    seconds = time.perf_counter() - t
    s = result.summary()
    movements = [e for e in result.events if e.kind == "movement"]
    return {
        "duration_s": round(result.duration_s, 3),
        "twitches": s["twitches"],
        "twitch_events": sum(e.kind == "twitch" for e in result.events),
        "activity": sum(e.kind == "activity" for e in result.events),
        "active_s": round(sum(e.duration_s for e in result.events if e.kind == "activity"), 3),
        "movements": len(movements),
        "gait_movements": sum("gait" in e.flags for e in movements),
        "movement_s": round(sum(m["total_s"] for m in s["movement"].values()), 3),
        "cramps": s["cramps"],
        "bursts": s["bursts"],
        "regions": [{k: row[k] for k in ("side", "region", "twitches", "twitches_per_min", "activity", "active_s",
                                         "cramps", "rest_s")} for row in s["regions"]],
        "notes": s["notes"],
        "seconds": round(seconds, 2),
    }


def run_peers(rec: Recording, peers: tuple[Peer, ...]) -> dict[str, Any]:
    """Twitches (spans under TWITCH_MAX_S) and all spans of each peer on the recording's EMG; {} without EMG."""
    from fascdetect.regions import Montage

    groups = emg_groups(DATA / rec.path, Montage.load(MONTAGES / f"{rec.montage}.toml"))
    out: dict[str, Any] = {}
    if not groups:
        return out
    for peer in peers:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            events = [e for data, channels, fs_hz in groups for e in peer.events(data, channels, fs_hz)]
        out[peer.name] = {"twitches": sum(e.kind == "twitch" for e in events),
                          "cramps": sum(e.kind == "cramp" for e in events), "spans": len(events),
                          "seconds": round(time.perf_counter() - t, 2)}
    return out


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def run_before(commit: str, worktree: Path) -> dict[str, Any]:
    """fascdetect at ``commit`` on every recording, from a worktree (added, and removed after, unless already there)."""
    full = _git("rev-parse", commit)
    added = False
    if not worktree.exists():
        _git("worktree", "add", "--detach", str(worktree), full)
        added = True
    elif subprocess.run(["git", "rev-parse", "HEAD"], cwd=worktree, capture_output=True,
                        text=True).stdout.strip() != full:
        raise RuntimeError(f"{worktree} exists but is not at {commit}; remove it or pick another --base-worktree")
    try:
        jobs = [(r.path, str(DATA / r.path), str(MONTAGES / f"{r.montage}.toml")) for r in RECORDINGS]
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        proc = subprocess.run([sys.executable, "-c", _BEFORE_SCRIPT, json.dumps(jobs)], cwd=worktree, env=env,
                              capture_output=True, text=True, check=True)
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if added:
            _git("worktree", "remove", "--force", str(worktree))
    if not out["fascdetect_file"].startswith(str(worktree)):
        raise RuntimeError(f"'before' imported fascdetect from {out['fascdetect_file']}, not {worktree}")
    return {"commit": _git("rev-parse", "--short", full), **out}


def run(base_commit: str = BASE_COMMIT, base_worktree: Path = BASE_WORKTREE) -> dict[str, Any]:
    if not DATA.is_dir():
        raise SystemExit(f"third-party recordings not found at {DATA} (set FASCDETECT_REAL_DATA)")
    t0 = time.perf_counter()
    peers, tuning = peer_configs()
    rows = []
    for rec in RECORDINGS:
        log.info("%s", rec.path)
        rows.append({"recording": rec.path, "montage": f"docs/montages/{rec.montage}.toml", "what": rec.what,
                     "fascdetect": run_fascdetect(rec), "peers": run_peers(rec, peers)})
    log.info("before: fascdetect at %s", base_commit)
    before = run_before(base_commit, base_worktree)
    for row in rows:
        row["before"] = before["recordings"][row["recording"]]
    return {"seconds": round(time.perf_counter() - t0, 1), "data": str(DATA), "twitch_max_s": TWITCH_MAX_S,
            "peers": [p.name for p in peers], "peer_tuning": tuning,
            "before": {"commit": before["commit"], "fascdetect_file": before["fascdetect_file"]},
            "recordings": rows}


SHORT = {"NeuroKit2 (default)": "NK2 def", "NeuroKit2 (tuned)": "NK2", "BioSPPy emg (default)": "BSP emg def",
         "BioSPPy Hodges-Bui (tuned)": "Hodges-Bui", "BioSPPy Bonato (tuned)": "Bonato",
         "BioSPPy Lidierth (tuned)": "Lidierth", "BioSPPy Solnik (tuned)": "Solnik", "BioSPPy Silva (tuned)": "Silva",
         "band-pass + threshold (tuned)": "fixed thr"}


def _before_cell(b: dict[str, Any]) -> str:
    if not b["readable"]:
        return "unreadable"
    extra = [f"{b['cramps']} cramp" + "s" * (b["cramps"] != 1)] if b["cramps"] else []
    extra += [f"{b['movements']} mov"] if b["movements"] else []
    return f"{b['twitches']}" + (f" ({', '.join(extra)})" if extra else "")


def _rest_cell(f: dict[str, Any]) -> str:
    rows = f["regions"]
    if len(rows) == 1:
        return f"{rows[0]['rest_s']:.1f} of {f['duration_s']:.1f}"
    return " / ".join(f"{r['region']} {r['rest_s']:.1f}" for r in rows) + f" of {f['duration_s']:.1f}"


def _spell(n: int, seconds: float, what: str = "") -> str:
    return f"{n}{what} ({seconds:.1f} s)" if n else "0"


def table(body: dict[str, Any]) -> str:
    """One markdown row per recording: what it is, fascdetect before and now, then every peer's twitches."""
    peers = body["peers"]
    head = ["recording", "what it is", f"before ({body['before']['commit']})", "fascdetect", "activity",
            "movement", "cramps", "rest s", *(SHORT.get(p, p) for p in peers)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for row in body["recordings"]:
        f = row["fascdetect"]
        cells = [f"`{row['recording']}`", row["what"], _before_cell(row["before"]), str(f["twitches"]),
                 _spell(f["activity"], f["active_s"]),
                 _spell(f["movements"], f["movement_s"], f", {f['gait_movements']} gait" * bool(f["gait_movements"])),
                 str(f["cramps"]), _rest_cell(f),
                 *(str(row["peers"][p]["twitches"]) if p in row["peers"] else "no EMG" for p in peers)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({n for row in body["recordings"] for n in row["fascdetect"]["notes"]})
    lines += ["", "Twitches per recording (all channels). fascdetect: twitches counted at rest; activity, movement"
              " and cramps are its event counts (seconds covered); rest s is each channel's rest time of the"
              f" recording's length. Peers: spans shorter than {body['twitch_max_s'] * 1e3:g} ms on the same EMG;"
              f" tuned thresholds from {body['peer_tuning']['from']}."]
    lines += [f"fascdetect notes: {n}" for n in notes]
    return "\n".join(lines)
