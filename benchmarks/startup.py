"""Start-up: ``fascdetect --help`` and every ``fascdetect SUBCOMMAND --help`` against a bare ``import numpy``.

Each run is a fresh process, timed from start to exit (wall, perf_counter)
with its CPU seconds (user + system) from ``os.wait4``. The commands take
turns, round by round after one warm-up round, so a slow spell on a shared
machine falls on all of them alike; each command's ratio to ``import numpy``
is taken within each round and its median quoted beside the ratio of medians.
The goal (issue 11) is at most 2x the bare numpy import.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import load

log = logging.getLogger(__name__)

RUNS = 15
QUICK_RUNS = 5
TARGET_RATIO = 2.0
ROOT = Path(__file__).resolve().parents[1]
BASELINE = "python -c 'import numpy'"


def fascdetect_cmd() -> list[str]:
    """The installed console script beside this interpreter (what a user runs), else ``python -m fascdetect``."""
    script = Path(sys.executable).with_name("fascdetect")
    if script.exists():
        return [str(script)]
    found = shutil.which("fascdetect")
    return [found] if found else [sys.executable, "-m", "fascdetect"]


def commands() -> dict[str, list[str]]:
    from fascdetect.cli import COMMANDS

    cli = fascdetect_cmd()
    out = {BASELINE: [sys.executable, "-c", "import numpy"], "fascdetect --help": [*cli, "--help"]}
    out.update({f"fascdetect {name} --help": [*cli, name, "--help"] for name in COMMANDS})
    return out


def once(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd`` (its output discarded)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        err = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stderr
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _stats(values: list[float], digits: int = 3) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def run(quick: bool) -> dict[str, Any]:
    n = QUICK_RUNS if quick else RUNS
    cmds = commands()
    for cmd in cmds.values():  # warm-up round: page cache and .pyc files, not counted
        once(cmd)
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    load_before = load()
    for i in range(n):
        for name, cmd in cmds.items():
            wall, cpu = once(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
        log.info("round %d/%d: %s", i + 1, n, {k: round(v[-1], 3) for k, v in walls.items()})
    base = statistics.median(walls[BASELINE])
    rows: dict[str, Any] = {}
    for name, cmd in cmds.items():
        paired = [w / b for w, b in zip(walls[name], walls[BASELINE])]
        rows[name] = {"argv": [Path(cmd[0]).name, *cmd[1:]], "wall_s": _stats(walls[name]), "cpu_s": _stats(cpus[name]),
                      "x_numpy_of_medians": round(statistics.median(walls[name]) / base, 2),
                      "x_numpy_paired": _stats(paired, 2)}
    slowest = max((r["x_numpy_paired"]["median"] for k, r in rows.items() if k != BASELINE), default=None)
    return {"quick": quick, "runs": n, "warmup_rounds": 1, "target_x_numpy": TARGET_RATIO,
            "load_before_timing": load_before, "commands": rows, "slowest_x_numpy": slowest}


def table(body: dict[str, Any]) -> str:
    lines = [f"Start-up, {body['runs']} runs each in turn after a warm-up round (fresh process each; "
             f"goal <= {body['target_x_numpy']:g}x {BASELINE})",
             f"{'command':<32}{'wall s median':>14}{'min':>8}{'max':>8}{'CPU s':>8}{'x numpy (paired)':>18}"]
    for name, r in body["commands"].items():
        w, p = r["wall_s"], r["x_numpy_paired"]
        lines.append(f"{name:<32}{w['median']:>14.3f}{w['min']:>8.3f}{w['max']:>8.3f}{r['cpu_s']['median']:>8.3f}"
                     f"{p['median']:>10.2f} ({p['min']:.2f}-{p['max']:.2f})")
    return "\n".join(lines)
