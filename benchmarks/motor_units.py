"""Motor-unit sorting against simulator truth (issue 13): ``python -m benchmarks.motor_units [--minutes M]``.

Each cell is a simulated recording analysed by ``fascdetect.analyze`` (the
same path as the CLI); its twitches are matched to truth by onset and scored
with ``fascdetect.scoring.score_units``. Three grids: the presets at their own
(default) SNR; ``rest`` with its units scaled to a given median SNR (the
units' median peak over the RMS noise; units keep their lognormal spread);
and the sparse presets again over a longer recording (``--long-minutes``),
where most of their units fire the 3 times a unit needs.

Besides purity and completeness each cell reports ``reachable``: the
completeness a perfect sorter would reach under the 3-twitch rule (the share
of matched twitches whose true unit was matched at least 3 times; the
twitches of rarer units are unassigned by design).
Writes ``benchmarks/results/motor_units.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import time

from benchmarks import machine

PRESETS = ("rest", "night", "post-exercise", "little-toe", "als-like", "noisy", "restless", "walking")
SNR_DB = (12.0, 18.0, 24.0, 30.0)
SEEDS = (11, 12)
SPARSE = ("little-toe", "walking")
"""Presets where, over 20 minutes, a sixth or more of the twitches come from units firing fewer than 3 times."""


def cell(scenario: str, seed: int, minutes: float, snr_db: float | None = None) -> dict:
    from fascdetect.analyze import analyze
    from fascdetect.scoring import score_units
    from firmware_sim.generator import Generator
    from firmware_sim.scenarios import get_scenario

    sc = get_scenario(scenario)
    if snr_db is not None:
        sc = sc.with_(twitch_amplitude_scale=10 ** (snr_db / 20) * sc.noise_uv / sc.twitch_amplitude_median_uv)
    default_snr = 20 * math.log10(sc.twitch_amplitude_scale * sc.twitch_amplitude_median_uv / sc.noise_uv)
    g = Generator(sc, seed, duration_s=minutes * 60)
    t = time.process_time()
    result = analyze(g)
    cpu = time.process_time() - t
    labels = [result.motor_units.label(e) or "" for e in result.events]
    s = score_units(result.events, labels, g.truth)
    return {"scenario": scenario, "seed": seed, "minutes": minutes, "snr_db": round(default_snr, 1),
            "twitches": sum(e.kind == "twitch" for e in result.events), "units": len(result.motor_units.units),
            "cpu_s": round(cpu, 2), **s.to_json(), "reachable": round(reachable(result.events, g.truth), 4)}


def reachable(events: list, truth: list, min_twitches: int = 3) -> float:
    """Completeness of a perfect sorter that leaves units seen fewer than ``min_twitches`` times unassigned:
    the share of matched twitches whose true unit was matched at least that often (same matching as
    ``score_units``)."""
    from fascdetect.scoring import MASKED, ONSET_TOLERANCE_S, _match

    det = [e for e in events if e.kind == "twitch"]
    tru = [t for t in truth if t.kind == "twitch" and MASKED not in t.flags and getattr(t, "motor_unit", "")]
    units = [tru[j].motor_unit for _, j in _match(det, tru, ONSET_TOLERANCE_S["twitch"], same_region=True)]
    return sum(units.count(u) >= min_twitches for u in units) / len(units) if units else 1.0


def table(body: dict) -> str:
    cells = body["cells"] if isinstance(body, dict) else body
    groups: dict[tuple, list[dict]] = {}
    for c in cells:
        groups.setdefault((c["grid"], c["scenario"], c["snr_db"], c["minutes"]), []).append(c)
    lines = ["| grid | scenario | median SNR (dB) | minutes | twitches matched | assigned | purity | completeness | "
             "reachable | completeness, units seen ≥ 3 times | channels with units within ±1 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (grid, scenario, snr, minutes), cs in groups.items():
        matched = sum(c["matched"] for c in cs)
        assigned = sum(c["assigned"] for c in cs)
        # Pooled over seeds, weighted by twitches (the scores are fractions of twitches).
        purity = sum(c["purity"] * c["assigned"] for c in cs) / assigned if assigned else 1.0
        complete = sum(c["completeness"] * c["matched"] for c in cs) / matched if matched else 1.0
        reach = sum(c["reachable"] * c["matched"] for c in cs) / matched if matched else 1.0
        seen = sum(c["completeness_seen"] for c in cs) / len(cs)
        within = sum(abs(c["found_per_channel"].get(ch, 0) - c["true_per_channel"].get(ch, 0)) <= 1
                     for c in cs for ch in set(c["found_per_channel"]) | set(c["true_per_channel"]))
        total = sum(len(set(c["found_per_channel"]) | set(c["true_per_channel"])) for c in cs)
        lines.append(f"| {grid} | {scenario} | {snr:+.1f} | {minutes:g} | {matched} | {assigned} | {purity:.3f} | "
                     f"{complete:.3f} | {reach:.3f} | {seen:.3f} | {within}/{total} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--long-minutes", type=float, default=60.0, help="length of the sparse presets' longer run")
    args = ap.parse_args()
    started = machine.start()
    t0 = time.time()
    cells = []
    for seed in SEEDS:
        for name in PRESETS:
            cells.append({"grid": "presets", **cell(name, seed, args.minutes)})
            print(cells[-1], flush=True)
        for snr in SNR_DB:
            cells.append({"grid": "rest by SNR", **cell("rest", seed, args.minutes, snr)})
            print(cells[-1], flush=True)
        for name in SPARSE:
            cells.append({"grid": "sparse, longer", **cell(name, seed, args.long_minutes)})
            print(cells[-1], flush=True)
    body = {"minutes": args.minutes, "long_minutes": args.long_minutes, "seeds": list(SEEDS), "cells": cells,
            "seconds": round(time.time() - t0, 1)}
    path = machine.write_result("motor_units", body, started)
    print(table(body))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
