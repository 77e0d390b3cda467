"""Batch throughput: recordings per minute through ``fascdetect batch`` at 1 and 2 local workers.

The cohort is simulated once (``--nights`` recordings of ``--minutes`` each,
scenario rest, seeds 1..N) into a cache folder in the temporary directory. Each run is a fresh
``fascdetect batch --force`` process timed from start to exit, so the
figure includes starting the local Dask cluster, hashing every file and
writing the Parquet: what a user waits for. Worker counts take turns,
round by round, so a slow spell on a shared machine falls on both alike.

    python -m benchmarks.batch_throughput [--nights 8] [--minutes 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
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


def cohort(nights: int, minutes: float) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    files = []
    for seed in range(1, nights + 1):
        f = CACHE / f"rest_{minutes:g}m_{seed}.edf"
        if not f.exists():
            subprocess.run([sys.executable, "-m", "fascdetect", "simulate", "--scenario", "rest", "--duration",
                            f"{minutes:g}m", "--seed", str(seed), "--out", str(f), "--no-progress"],
                           check=True, stdout=subprocess.DEVNULL)
        files.append(f)
    return files


def one_run(files: list[Path], workers: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="fascdetect-batch-bench-"))
    try:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "fascdetect", "batch", *map(str, files), "--out", str(out),
                               "--workers", str(workers), "--force", "--no-progress", "--json"],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        report = json.loads(proc.stdout)
        assert report["done"] == len(files), report
        return {"workers": workers, "wall_s": round(wall, 2),
                "files_per_min": round(60 * len(files) / wall, 2)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    files = cohort(args.nights, args.minutes)
    started = start()
    runs = [one_run(files, w) for _ in range(args.rounds) for w in (1, 2)]
    summary = {}
    for w in (1, 2):
        walls = [r["wall_s"] for r in runs if r["workers"] == w]
        summary[str(w)] = {"median_wall_s": statistics.median(walls),
                           "files_per_min": round(60 * len(files) / statistics.median(walls), 2)}
    body = {"nights": args.nights, "minutes_each": args.minutes,
            "bytes": sum(f.stat().st_size for f in files), "runs": runs, "summary": summary}
    path = write_result("batch_throughput", body, started)
    print(json.dumps(summary), f"({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
