"""``fascdetect simulate``: write a simulated recording (EDF+/BDF+) with its ground truth.

The recording is generated and written in chunks, so any duration (an
8-hour night) runs in constant memory. Truth goes into the file as EDF+
annotations and beside it as ``<name>.truth.tsv``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fascdetect.errors import InputError
from fascdetect.overrides import parse_overrides

# Recordings shorter than this finish before a progress bar would help.
PROGRESS_MIN_S = 180.0
CHUNK_S = 10.0

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds from '30s', '10m', '8h', '1h30m' or a plain number of seconds."""
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        raise InputError(f"cannot read duration {text!r}: use e.g. 30s, 10m, 8h or 1h30m")
    h, mins, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mins * 60 + s
    if seconds <= 0:
        raise InputError(f"duration {text!r} must be positive")
    return seconds


def _regions(text: str) -> tuple[str, ...]:
    return tuple(r for r in (x.strip() for x in text.split(",")) if r)


def apply_settings(scenario, settings: list[str]):
    """The scenario with ``NAME=VALUE`` knob overrides (numbers, booleans, comma-separated tuples)."""
    skip = frozenset({"name", "description", "montage", "start", "twitch_rate_per_min", "clustering"})
    changes = parse_overrides(scenario, settings, skip=skip)
    return scenario.with_(**changes) if changes else scenario


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from firmware_sim.scenarios import SCENARIOS

    p = sub.add_parser(
        "simulate", help="write a simulated foot EMG/accelerometer recording with ground truth",
        description="Simulate a recording and write it as EDF+ (or BDF+) with its ground truth as "
                    "annotations and as FILE.truth.tsv. Scenarios: "
                    + "; ".join(f"{n}: {s.description}" for n, s in SCENARIOS.items()))
    p.add_argument("--scenario", default="rest", metavar="NAME", help=f"one of {', '.join(SCENARIOS)} (default rest)")
    p.add_argument("--duration", default="2m", help="length, e.g. 30s, 10m, 8h (default 2m)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same file (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.edf", help="recording to write")
    p.add_argument("--bdf", action="store_true", help="write 24-bit BDF+ instead of 16-bit EDF+")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    m = p.add_argument_group("montage (default: the scenario's)")
    m.add_argument("--sides", help="L, R or L,R")
    m.add_argument("--emg-regions", metavar="LIST", help="EMG regions per side, e.g. AbH,FDB,ADM ('' for none)")
    m.add_argument("--acc-regions", metavar="LIST", help="3-axis accelerometer regions per side ('' for none)")
    m.add_argument("--emg-fs", type=int, metavar="HZ", help="EMG sampling rate (500-4000)")
    m.add_argument("--acc-fs", type=int, metavar="HZ", help="accelerometer sampling rate (50-1000)")
    p.add_argument("--mains", type=int, choices=(50, 60), help="mains frequency (default: the scenario's)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a scenario knob, e.g. cramp_rate_per_h=20 or noise_uv=6 (repeatable; "
                        "see firmware_sim/scenarios.py)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from fascdetect.io.edf_write import EdfWriter
    from firmware_sim.generator import Generator
    from firmware_sim.scenarios import get_scenario
    from firmware_sim.truth import TruthTsv

    scenario = get_scenario(args.scenario)
    changes = {}
    if args.sides is not None:
        changes["sides"] = _regions(args.sides)
    if args.emg_regions is not None:
        changes["emg_regions"] = _regions(args.emg_regions)
    if args.acc_regions is not None:
        changes["acc_regions"] = _regions(args.acc_regions)
    if args.emg_fs is not None:
        changes["emg_fs_hz"] = args.emg_fs
    if args.acc_fs is not None:
        changes["acc_fs_hz"] = args.acc_fs
    if changes:
        scenario = scenario.with_(montage=replace(scenario.montage, **changes))
    if args.mains is not None:
        scenario = scenario.with_(mains_hz=float(args.mains))
    scenario = apply_settings(scenario, args.set)
    duration_s = parse_duration(args.duration)
    if not duration_s.is_integer():
        raise InputError(f"duration {args.duration!r} must be whole seconds (EDF data records are 1 s)")
    out = Path(args.out)
    truth_path = out.with_name(out.stem + ".truth.tsv")
    gen = Generator(scenario, args.seed, duration_s=duration_s)
    show = not args.no_progress and duration_s >= PROGRESS_MIN_S
    with EdfWriter(out, gen.channels, gen.start, bdf=args.bdf, overwrite=args.overwrite) as edf, \
            TruthTsv(truth_path) as tsv, \
            tqdm(total=duration_s, unit="s", disable=not show, desc=f"simulate {scenario.name}") as bar:
        for chunk in gen.chunks(CHUNK_S):
            for block in chunk.blocks:
                edf.write(block)
            for ev in chunk.truth:
                edf.annotate(ev.onset_s, ev.duration_s, ev.annotation())
            tsv.write(chunk.truth)
            bar.update(chunk.blocks[0].n / chunk.blocks[0].fs_hz)
    counts = {}
    for ev in gen.truth:
        counts[ev.kind] = counts.get(ev.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no events"
    print(f"wrote {out} ({len(gen.channels)} channels, {duration_s:g} s, scenario {scenario.name}, seed {args.seed}): {summary}")
    print(f"truth: {truth_path}")
    return 0
