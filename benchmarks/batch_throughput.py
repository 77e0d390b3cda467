"""Batch throughput: recordings per minute through ``fascdetect batch`` at 1 and 2 local workers.

The cohort is simulated once (``--nights`` recordings of ``--minutes`` each,
scenario rest, seeds 1..N) into a cache folder in the temporary directory. Each run is a fresh
``fascdetect batch --force`` process timed from start to exit, so the
figure includes starting the local Dask cluster, hashing every file and
writing the Parquet: what a user waits for. Worker counts take turns,
round by round, so a slow spell on a shared machine falls on both alike;
each run notes the 1-minute load average before it.

A second part times one longer recording (``--large-minutes``) on 2
workers, whole (one task) and split by foot (``--split-mb 0``), in turns:
what splitting a large recording buys when there are more workers than
files.

    python -m benchmarks.batch_throughput [--nights 8] [--minutes 30] [--rounds 2] [--large-minutes 120]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import start, write_result

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "fascdetect-batch-bench"  # simulated EDFs: large, never committed


def cohort(nights: int, minutes: float, first_seed: int = 1) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    files = []
    for seed in range(first_seed, first_seed + nights):
        f = CACHE / f"rest_{minutes:g}m_{seed}.edf"
        if not f.exists():
            subprocess.run([sys.executable, "-m", "fascdetect", "simulate", "--scenario", "rest", "--duration",
                            f"{minutes:g}m", "--seed", str(seed), "--out", str(f), "--no-progress"],
                           check=True, stdout=subprocess.DEVNULL)
        files.append(f)
    return files


def one_run(files: list[Path], workers: int, split: bool = False) -> dict:
    out = Path(tempfile.mkdtemp(prefix="fascdetect-batch-bench-"))
    try:
        load_1min = round(os.getloadavg()[0], 2)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "fascdetect", "batch", *map(str, files), "--out", str(out),
                               "--workers", str(workers), "--force", "--no-progress", "--json"]
                              + (["--split-mb", "0"] if split else []),
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        report = json.loads(proc.stdout)
        assert report["done"] == len(files), report
        return {"workers": workers, "split": split, "wall_s": round(wall, 2),
                "files_per_min": round(60 * len(files) / wall, 2), "load_1min_before": load_1min}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--large-minutes", type=float, default=120.0, help="the recording split by foot (0: skip)")
    args = ap.parse_args(argv)
    files = cohort(args.nights, args.minutes)
    large = cohort(1, args.large_minutes, first_seed=101) if args.large_minutes else []
    started = start()
    runs = [one_run(files, w) for _ in range(args.rounds) for w in (1, 2)]
    summary = {}
    for w in (1, 2):
        walls = [r["wall_s"] for r in runs if r["workers"] == w]
        summary[str(w)] = {"median_wall_s": statistics.median(walls),
                           "files_per_min": round(60 * len(files) / statistics.median(walls), 2)}
    body = {"nights": args.nights, "minutes_each": args.minutes,
            "bytes": sum(f.stat().st_size for f in files), "runs": runs, "summary": summary}
    if large:
        large_runs = [one_run(large, 2, split) for _ in range(args.rounds) for split in (False, True)]
        body["large"] = {"minutes": args.large_minutes, "bytes": large[0].stat().st_size, "workers": 2,
                         "runs": large_runs,
                         "median_wall_s": {name: statistics.median(r["wall_s"] for r in large_runs
                                                                   if r["split"] == split)
                                           for name, split in (("whole", False), ("split", True))}}
        summary["large_2_workers_median_wall_s"] = body["large"]["median_wall_s"]
    path = write_result("batch_throughput", body, started)
    print(json.dumps(summary), f"({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
