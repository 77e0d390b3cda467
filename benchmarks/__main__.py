"""``python -m benchmarks accuracy|speed|latency|startup|real|scenarios|all|report [--quick]``: JSON to benchmarks/results/, tables to stdout."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks import machine
from benchmarks.machine import RESULTS_DIR


def _accuracy(args: argparse.Namespace) -> None:
    from benchmarks import accuracy

    started = machine.start()
    body = accuracy.run(args.quick, args.workers, args.background)
    path = machine.write_result(_accuracy_name(args), body, started)
    png = _accuracy_report(body, args)
    print(f"\nwrote {path} and {png} ({body['seconds']:.0f} s)")


def _accuracy_report(body: dict, args: argparse.Namespace) -> Path:
    """Tables and plot, summarised again from the raw per-cell scores (so table changes apply to old runs)."""
    from benchmarks import accuracy, plot

    summary = accuracy.summarize(body["cells"])
    background = body.get("background", "white")  # runs before 2 Dec 2026 were all white noise
    print(f"Background: {background}")
    print(accuracy.tables(summary, headline_snr_db=HEADLINE_SNR_DB))
    return plot.f1_vs_snr(summary, RESULTS_DIR / f"{_accuracy_name(args).replace('accuracy', 'f1_vs_snr')}.png",
                          f"Twitch F1 vs SNR, simulated foot EMG (50 Hz mains, 2000 sps, {background} background), "
                          "same scoring for all")


def _report(args: argparse.Namespace) -> None:
    """Tables (and the plot) again from the JSON files of the last runs, without running anything."""
    from benchmarks import latency, real, scenarios, speed, startup

    for name, show in ((_accuracy_name(args), lambda b: _accuracy_report(b, args)),
                       (f"speed{_suffix(args)}", lambda b: print(speed.table(b))),
                       (f"latency{_suffix(args)}", lambda b: print(latency.table(b))),
                       (f"startup{_suffix(args)}", lambda b: print(startup.table(b))),
                       ("real", lambda b: print(real.table(b))),
                       (f"scenarios{_suffix(args)}", lambda b: print(scenarios.table(b)))):
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            doc = json.loads(path.read_text())
            code = doc.get("code_start", {}).get("commit") or doc["machine"].get("git_commit")
            print(f"== {path.name}: {doc['finished_utc']}, code {code}, {doc['machine']['cpu_model']}, "
                  f"{doc['machine']['cores']} cores, load {doc['load_start']} -> {doc['load_end']}")
            show(doc)
            print()


def _suffix(args: argparse.Namespace) -> str:
    return "-quick" if args.quick else ""


def _accuracy_name(args: argparse.Namespace) -> str:
    """accuracy[-real-background][-quick]: the white-noise grid keeps the name it always had."""
    return "accuracy" + ("" if args.background == "white" else f"-{args.background}-background") + _suffix(args)


def _tabled(name: str, run: Callable[[Any, argparse.Namespace], dict], result: Callable[[argparse.Namespace], str]
            ) -> Callable[[argparse.Namespace], None]:
    """A run that writes ``benchmarks/results/<result(args)>.json`` and prints its module's table."""
    def go(args: argparse.Namespace) -> None:
        module = importlib.import_module(f"benchmarks.{name}")
        started = machine.start()
        body = run(module, args)
        path = machine.write_result(result(args), body, started)
        print(module.table(body))
        print(f"\nwrote {path}" + (f" ({body['seconds']:.0f} s)" if "seconds" in body else ""))
    return go


def _named(name: str) -> Callable[[argparse.Namespace], str]:
    return lambda args: name + _suffix(args)


RUNS = {"accuracy": _accuracy,
        "speed": _tabled("speed", lambda m, args: m.run(args.quick, args.cache_dir), _named("speed")),
        "latency": _tabled("latency", lambda m, args: m.run(args.quick), _named("latency")),
        "startup": _tabled("startup", lambda m, args: m.run(args.quick), _named("startup")),
        # Real recordings are short, so --quick changes nothing and the file is always real.json.
        "real": _tabled("real", lambda m, args: m.run(), lambda args: "real"),
        "scenarios": _tabled("scenarios", lambda m, args: m.run(args.quick), _named("scenarios"))}
HEADLINE_SNR_DB = (12.0, 20.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("which", choices=(*RUNS, "all", "report"), nargs="?", default="all",
                   help="what to run; 'report' prints the tables of the last runs from their JSON")
    p.add_argument("--quick", action="store_true",
                   help="a smaller grid, a shorter night and 2-minute scenario runs (a few minutes)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for the accuracy grid (default: up to 2)")
    p.add_argument("--background", choices=("white", "real"), default="white",
                   help="the accuracy grid's background: the simulator's white noise (default, as in earlier runs) "
                        "or the one fitted to real rest EMG (firmware_sim.scenarios.REAL_BACKGROUND); written to "
                        "accuracy-real-background[-quick].json")
    p.add_argument("--cache-dir", default=os.environ.get("FASCDETECT_BENCH_CACHE", "/tmp/fascdetect-bench"),
                   help="where the synthetic night EDF is generated once and kept (default /tmp/fascdetect-bench)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.which == "report":
        _report(args)
        return 0
    for name in RUNS if args.which == "all" else (args.which,):
        t = time.perf_counter()
        RUNS[name](args)
        logging.info("%s done in %.0f s", name, time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
