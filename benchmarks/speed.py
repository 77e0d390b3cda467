"""Speed and memory on a synthetic night: ``fascdetect analyze`` end to end, peers on an excerpt, and a floor.

The night (8 EMG channels at 2000 sps, the ``night`` scenario, EDF+ on disk,
~920 MB for 8 h) is generated once into a cache directory outside the
repository. Each measurement runs in its own process: wall time from start to
exit, peak RSS from ``os.wait4``. Peers run on a 10-minute excerpt held in
memory and are extrapolated to the night (labelled so); fascdetect runs on the
same excerpt too, so the peer/fascdetect ratios are measured like for like.
The file is read once before timing, so every run sees a warm page cache.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import RESULTS_DIR, load

log = logging.getLogger(__name__)

NIGHT_H = 8.0
QUICK_NIGHT_H = 0.5
EXCERPT_S = 600.0
QUICK_EXCERPT_S = 60.0
EXCERPT_START_S = 3600.0
"""Excerpts start an hour in (the quick night: at 10 minutes), past the first quiet minutes."""
PEER_TIMEOUT_S = 300.0
MONTAGE = dict(sides=("L", "R"), emg_regions=("AbH", "FDB", "ADM", "PER"), acc_regions=(), emg_fs_hz=2000)
ROOT = Path(__file__).resolve().parents[1]


def night_path(cache_dir: str | Path, hours: float) -> Path:
    """The cached night, generated on first use (chunk by chunk, constant memory)."""
    path = Path(cache_dir) / f"night-{hours:g}h-8emg-2000sps.edf"
    if path.exists():
        return path
    from fascdetect.io.edf_write import EdfWriter
    from firmware_sim.generator import Generator
    from firmware_sim.scenarios import SimMontage

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.edf")
    t = time.perf_counter()
    gen = Generator("night", seed=7, duration_s=hours * 3600, montage=SimMontage(**MONTAGE))
    with EdfWriter(tmp, gen.channels, gen.start, overwrite=True) as writer:
        for block in gen.blocks(10.0):
            writer.write(block)
    tmp.rename(path)
    log.info("generated %s (%.0f MB) in %.0f s", path, path.stat().st_size / 1e6, time.perf_counter() - t)
    return path


def timed(cmd: list[str], timeout_s: float | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, peak RSS and CPU seconds (reported by the child itself, see _RSS_WRAPPER)
    and the speed worker's JSON line (if any)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"timed_out_after_s": timeout_s}
    wall = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith('{"mode"')]
    result = json.loads(lines[-1]) if lines else {}
    rss = next((ln for ln in err.splitlines() if ln.startswith("PEAK_RSS_KB ")), None)
    main_kb, cpu_s, child_kb = (float(v) for v in rss.split()[1:4]) if rss else (None, None, None)
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(main_kb / 1024, 1) if rss else None,
            "peak_rss_child_mb": round(child_kb / 1024, 1) if child_kb else None,
            "cpu_s": round(cpu_s, 2) if rss else None,
            **({"worker": result} if result else {})}


_RSS_WRAPPER = (
    "import atexit, resource, runpy, sys\n"
    "def report():\n"
    "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    try:\n"
    "        hwm = next(int(ln.split()[1]) for ln in open('/proc/self/status') if ln.startswith('VmHWM:'))\n"
    "    except (OSError, StopIteration):\n"
    "        hwm = u.ru_maxrss\n"
    "    c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "    print('PEAK_RSS_KB', hwm, u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime, c.ru_maxrss, file=sys.stderr)\n"
    "atexit.register(report)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)
"""Runs a module as ``python -m`` would and reports on exit: its own peak RSS, its CPU seconds including its
worker processes', and the largest worker's peak RSS. Its own peak is VmHWM, the high-water mark of this
program's memory: Linux carries ``ru_maxrss`` over from the parent across fork and exec, so that would never
read below the (larger) benchmark process that started it. A forked worker's figure counts the pages it
shares with its parent, so main + workers overstates the total."""


def module_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-c", _RSS_WRAPPER, module, *args]


def _tuned_thresholds() -> dict[str, float]:
    """Thresholds the last accuracy run chose (speed hardly depends on them; a mid value otherwise)."""
    for name in ("accuracy.json", "accuracy-quick.json"):
        path = RESULTS_DIR / name
        if path.exists():
            return {k: v["chosen"] for k, v in json.loads(path.read_text())["tuning"].items()}
    return {}


def run(quick: bool, cache_dir: str) -> dict[str, Any]:
    from benchmarks.peers import PEERS

    hours = QUICK_NIGHT_H if quick else NIGHT_H
    excerpt_s = QUICK_EXCERPT_S if quick else EXCERPT_S
    start_s = 600.0 if quick else EXCERPT_START_S
    path = night_path(cache_dir, hours)
    night_s = hours * 3600
    with open(path, "rb") as f:  # warm the page cache so no run pays for the first disk read
        while f.read(1 << 24):
            pass
    body: dict[str, Any] = {"quick": quick, "night": {"path": str(path), "hours": hours, "channels": 8, "fs_hz": 2000,
                                                      "bytes": path.stat().st_size}, "load_before_timing": load()}
    whole: dict[str, Any] = {}
    whole["fascdetect analyze"] = timed(module_cmd("fascdetect", "analyze", str(path), "--json"))
    whole["EDF read only"] = timed(module_cmd("benchmarks.speed_worker", "read", str(path)))
    whole["floor: read + sosfilt"] = timed(module_cmd("benchmarks.speed_worker", "floor", str(path)))
    for row in whole.values():
        if "wall_s" in row:
            row["realtime_factor"] = round(night_s / row["wall_s"], 1)
    body["whole_night"] = whole
    log.info("whole night: %s", {k: v.get("wall_s") for k, v in whole.items()})

    tuned = _tuned_thresholds()
    excerpt_args = ["--start", str(start_s), "--seconds", str(excerpt_s)]
    jobs = [("fascdetect pipeline", ["pipeline"], None)]
    for peer in PEERS:
        base = peer.name.removesuffix(" (default)")
        th = None if not peer.grid else tuned.get(base, peer.grid[len(peer.grid) // 2])
        if peer.name == "NeuroKit2 (default)":
            continue  # timed below through the public function, which is what a user calls
        label = peer.name if not peer.grid else f"{base} (tuned)"
        jobs.append((label, ["peer", "--peer", peer.name] + ([] if th is None else ["--threshold", str(th)]), th))
    jobs += [("NeuroKit2 (public emg_activation)", ["peer", "--peer", "NeuroKit2 (public emg_activation)"], None),
             ("BioSPPy Londral", ["peer", "--peer", "BioSPPy Londral", "--threshold", "3"], 3.0),
             ("BioSPPy Abbink", ["peer", "--peer", "BioSPPy Abbink", "--threshold", "3"], 3.0)]
    excerpt: dict[str, Any] = {}
    for label, args, th in jobs:
        row = timed(module_cmd("benchmarks.speed_worker", args[0], str(path), *args[1:], *excerpt_args),
                    PEER_TIMEOUT_S if not quick else 120.0)
        if "worker" in row:
            compute = row["worker"]["seconds"]
            row.update(compute_s=round(compute, 3), compute_cpu_s=round(row["worker"]["cpu_s"], 3), realtime_factor=round(excerpt_s / compute, 1),
                       night_extrapolated_s=round(compute * night_s / excerpt_s, 1), threshold=th)
        excerpt[label] = row
        log.info("excerpt %s: %s", label, row.get("compute_s", row))
    ours = excerpt["fascdetect pipeline"].get("compute_s")
    for row in excerpt.values():
        if ours and row.get("compute_s"):
            row["times_fascdetect"] = round(row["compute_s"] / ours, 1)
    body["excerpt"] = {"start_s": start_s, "seconds": excerpt_s, "runs": excerpt}
    return body


def table(body: dict[str, Any]) -> str:
    n = body["night"]
    lines = [f"Whole night: {n['hours']:g} h, 8 EMG at 2000 sps, {n['bytes'] / 1e6:.0f} MB EDF (warm page cache)",
             f"{'run':<28}{'wall s':>9}{'CPU s':>9}{'x real time':>13}{'peak RSS MB':>13}{'per worker MB':>15}"]
    for name, r in body["whole_night"].items():
        lines.append(f"{name:<28}{r.get('wall_s', '-'):>9}{r.get('cpu_s', '-'):>9}{r.get('realtime_factor', '-'):>13}"
                     f"{r.get('peak_rss_mb', '-'):>13}{r.get('peak_rss_child_mb') or '-':>15}")
    lines.append("(CPU s includes worker processes; `analyze` runs each foot in its own process on 2+ cores)")
    ex = body["excerpt"]
    lines += ["", f"Detectors on a {ex['seconds'] / 60:g}-minute excerpt in memory (8 channels); night time EXTRAPOLATED "
              f"x{n['hours'] * 3600 / ex['seconds']:g}",
              f"{'detector':<36}{'compute s':>10}{'CPU s':>8}{'x real time':>13}{'night s (extrap.)':>19}{'x fascdetect':>14}"
              f"{'peak RSS MB':>13}"]
    for name, r in ex["runs"].items():
        if "timed_out_after_s" in r:
            lines.append(f"{name:<36}{'did not finish in ' + format(r['timed_out_after_s'], 'g') + ' s':>40}")
            continue
        lines.append(f"{name:<36}{r['compute_s']:>10}{r['compute_cpu_s']:>8}{r['realtime_factor']:>13}{r['night_extrapolated_s']:>19}"
                     f"{r.get('times_fascdetect', '-'):>14}{r.get('peak_rss_mb', '-'):>13}")
    return "\n".join(lines)
