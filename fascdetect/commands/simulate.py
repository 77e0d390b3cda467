"""``fascdetect simulate``: write a simulated recording (EDF+/BDF+) with its ground truth.

The recording is generated and written in chunks, so any duration (an
8-hour night) runs in constant memory. Truth goes into the file as EDF+
annotations and beside it as ``<name>.truth.tsv``.
"""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime
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
    p.add_argument("--scenario", metavar="NAME",
                   help=f"one of {', '.join(SCENARIOS)} (default rest; with --nights, night)")
    p.add_argument("--duration", default="2m", help="length, e.g. 30s, 10m, 8h (default 2m)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same file (default 0). It draws the "
                   "person's motor units too: another seed is another person (--nights keeps one person)")
    p.add_argument("--out", required=True, metavar="FILE.edf", help="recording to write (with --nights: a directory)")
    p.add_argument("--start", metavar="DATE[THH:MM]", help="when the recording starts (default: the scenario's; "
                   "a date alone keeps the scenario's time of day)")
    p.add_argument("--nights", type=int, metavar="N", help="simulate a person over N nights from --start: one "
                   "recording per night and a diary.tsv in the --out directory (see docs/history.md)")
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

    from firmware_sim.scenarios import get_scenario

    scenario = get_scenario(args.scenario or ("night" if args.nights is not None else "rest"))
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
    if args.start:
        scenario = scenario.with_(start=_start(args.start, scenario.start))
    if args.nights is not None:
        return _nights(args, scenario, duration_s)
    _write(scenario, args.seed, duration_s, Path(args.out), args.bdf, args.overwrite, not args.no_progress)
    return 0


def _start(text: str, default: datetime) -> datetime:
    try:
        if "T" in text or " " in text.strip():
            return datetime.fromisoformat(text.strip())
        return datetime.combine(date.fromisoformat(text.strip()), default.time())
    except ValueError:
        raise InputError(f"cannot read start {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None


def _nights(args: argparse.Namespace, scenario, duration_s: float) -> int:
    """A simulated person over ``--nights`` evenings: NIGHT.edf files and diary.tsv in the --out directory."""
    from fascdetect.history.diary import write_tsv
    from firmware_sim.history import plan

    if args.nights < 1:
        raise InputError(f"--nights must be 1 or more, not {args.nights}")
    if not args.start:
        raise InputError("--nights needs --start YYYY-MM-DD (the evening of the first night)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} must be a directory with --nights")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    planned = plan(args.nights, scenario.start.date(), duration_s, args.seed, scenario)
    for p in planned:
        # One simulated person: the same fasciculating motor units every night (issue 13), other draws new.
        _write(p.scenario, p.seed, duration_s, out / f"{p.night.isoformat()}.edf", args.bdf, args.overwrite,
               not args.no_progress, unit_seed=args.seed)
    diary = out / "diary.tsv"
    write_tsv(diary, [(p.night.isoformat(), list(p.tags), [], p.note) for p in planned if p.tags or p.note])
    print(f"diary: {diary} (load it with: fascdetect diary import {diary})")
    return 0


def _write(scenario, seed: int, duration_s: float, out: Path, bdf: bool, overwrite: bool, progress: bool,
           unit_seed: int | None = None) -> None:
    from tqdm import tqdm

    from fascdetect.io.edf_write import EdfWriter
    from firmware_sim.generator import Generator
    from firmware_sim.truth import TruthTsv

    truth_path = out.with_name(out.stem + ".truth.tsv")
    gen = Generator(scenario, seed, duration_s=duration_s, unit_seed=unit_seed)
    show = progress and duration_s >= PROGRESS_MIN_S
    with EdfWriter(out, gen.channels, gen.start, bdf=bdf, overwrite=overwrite) as edf, \
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
    summary = ", ".join(f"{n} {_plural(k, n)}" for k, n in sorted(counts.items())) or "no events"
    print(f"wrote {out} ({len(gen.channels)} channels, {duration_s:g} s, scenario {scenario.name}, seed {seed}, "
          f"start {gen.start:%Y-%m-%d %H:%M}): {summary}")
    print(f"truth: {truth_path}")


def _plural(kind: str, n: int) -> str:
    """'1 twitch', '213 twitches', '2 activity stretches': the truth summary reads as English."""
    if n == 1:
        return kind
    return {"twitch": "twitches", "activity": "activity stretches"}.get(kind, kind + "s")
