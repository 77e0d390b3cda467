"""Each simulator preset at default settings: the README's "On simulated recordings with ground truth" table.

``python -m benchmarks scenarios [--quick]``. Every preset of :data:`SCENARIOS` is simulated for
:data:`DURATION_S` (2 minutes with ``--quick``) at :data:`SEED` by ``firmware_sim.generator.simulate``,
run through ``fascdetect.pipeline.run_all`` with the default ``DetectorConfig``, and scored by
``fascdetect.scoring.score`` against its truth. Presets whose truth has gait bouts (``walking``) or weak
voluntary activity (``restless``) also say how many of those were found and what share of their time
detected movement or activity covers (``KindScore.coverage``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

SCENARIOS = ("rest", "post-exercise", "little-toe", "night", "noisy", "acc-only", "walking", "restless")
DURATION_S = 600.0
QUICK_DURATION_S = 120.0
SEED = 1


def cell(name: str, duration_s: float, seed: int) -> dict[str, Any]:
    """One preset's scores: twitches, and gait or activity where its truth has them."""
    from fascdetect.pipeline import run_all
    from fascdetect.scoring import GAIT, score
    from firmware_sim.generator import simulate

    sim = simulate(name, duration_s, seed=seed)
    truth = [t.to_event() for t in sim.truth]
    t0 = time.process_time()
    events = run_all(sim.blocks, sim.channels)
    cpu_s = time.process_time() - t0
    scores = score(events, truth)
    out: dict[str, Any] = {"scenario": name, "duration_s": duration_s, "seed": seed,
                           "detector_cpu_s": round(cpu_s, 2), "twitch": scores["twitch"].to_json()}
    gait = [e for e in truth if e.kind == "movement" and GAIT in e.flags]
    if gait:
        # Scored against the gait bouts alone, the movement score counts just the bouts found.
        out["gait"] = score(events, gait)["movement"].to_json()
    if any(e.kind == "activity" for e in truth):
        out["activity"] = scores["activity"].to_json()
    log.info("%s: twitch precision %.3f, recall %.3f (%.0f s CPU)", name, scores["twitch"].precision,
             scores["twitch"].recall, cpu_s)
    return out


def run(quick: bool) -> dict[str, Any]:
    """Every preset, one after the other, in this process."""
    t0 = time.perf_counter()
    duration_s = QUICK_DURATION_S if quick else DURATION_S
    rows = [cell(name, duration_s, SEED) for name in SCENARIOS]
    return {"quick": quick, "duration_s": duration_s, "seed": SEED, "seconds": round(time.perf_counter() - t0, 1),
            "scenarios": rows}


def table(body: dict[str, Any]) -> str:
    """Markdown, the README's columns: twitch precision, recall, onset error; gait or activity found and coverage."""
    lines = [f"{body['duration_s'] / 60:g} minutes, seed {body['seed']}, default settings",
             "", "| scenario | twitch precision | twitch recall | onset error median / p95 | also |", "|---|---|---|---|---|"]
    for row in body["scenarios"]:
        t = row["twitch"]
        onset = (f"{t['onset_error_median_ms']:.1f} / {t['onset_error_p95_ms']:.1f} ms"
                 if t["onset_error_median_ms"] is not None else "-")
        also = "; ".join(f"{kind} found {s['tp']} of {s['tp'] + s['fn']}, coverage {s.get('coverage', 0):.2f}"
                         for kind, s in ((k, row.get(k)) for k in ("gait", "activity")) if s)
        lines.append(f"| {row['scenario']} | {t['precision']:.3f} | {t['recall']:.3f} | {onset} | {also} |")
    return "\n".join(lines)
