"""``python -m benchmarks accuracy|speed|latency|all [--quick]``: JSON to benchmarks/results/, tables to stdout."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from benchmarks import machine
from benchmarks.machine import RESULTS_DIR


def _accuracy(args: argparse.Namespace) -> None:
    from benchmarks import accuracy, plot

    load = machine.load()
    body = accuracy.run(args.quick, args.workers)
    suffix = "-quick" if args.quick else ""
    path = machine.write_result(f"accuracy{suffix}", body, load)
    print(accuracy.tables(body["summary"], headline_snr=12.0))
    png = plot.f1_vs_snr(body["summary"], RESULTS_DIR / f"f1_vs_snr{suffix}.png",
                         "Twitch F1 vs SNR, simulated foot EMG (50 Hz mains, 2000 sps), same scoring for all")
    print(f"\nwrote {path} and {png} ({body['seconds']:.0f} s)")


def _speed(args: argparse.Namespace) -> None:
    from benchmarks import speed

    load = machine.load()
    body = speed.run(args.quick, args.cache_dir)
    path = machine.write_result(f"speed{'-quick' if args.quick else ''}", body, load)
    print(speed.table(body))
    print(f"\nwrote {path}")


def _latency(args: argparse.Namespace) -> None:
    from benchmarks import latency

    load = machine.load()
    body = latency.run(args.quick)
    path = machine.write_result(f"latency{'-quick' if args.quick else ''}", body, load)
    print(latency.table(body))
    print(f"\nwrote {path}")


RUNS = {"accuracy": _accuracy, "speed": _speed, "latency": _latency}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("which", choices=(*RUNS, "all"), nargs="?", default="all")
    p.add_argument("--quick", action="store_true", help="a smaller grid and a shorter night (a few minutes)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for the accuracy grid (default: up to 2)")
    p.add_argument("--cache-dir", default=os.environ.get("FASCDETECT_BENCH_CACHE", "/tmp/fascdetect-bench"),
                   help="where the synthetic night EDF is generated once and kept (default /tmp/fascdetect-bench)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    for name in RUNS if args.which == "all" else (args.which,):
        t = time.perf_counter()
        RUNS[name](args)
        logging.info("%s done in %.0f s", name, time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
