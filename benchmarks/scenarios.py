"""Each simulator preset at default settings: the README's "On simulated recordings with ground truth" table.

``python -m benchmarks scenarios [--quick]``. Every preset of :data:`SCENARIOS` is simulated for
:data:`DURATION_S` (2 minutes with ``--quick``) at each of :data:`SEEDS` (seed 1 alone with ``--quick``)
by ``firmware_sim.generator.simulate``,
run through ``fascdetect.pipeline.run_all`` with the default ``DetectorConfig``, and scored by
``fascdetect.scoring.score`` against its truth. Presets whose truth has gait bouts (``walking``) or weak
voluntary activity (``restless``) also say how many of those were found and what share of their time
detected movement or activity covers (``KindScore.coverage``). ``recall_clear`` is the recall of the
twitches at least :data:`CLEAR_SNR` times the preset's noise (µV for EMG, mg per axis for an
accelerometer): the ones a twitch must stand out by (``twitch_min_local_snr``). Several seeds, because one seed's units
can be luckily large or small: a preset's recall moves by several points from seed to seed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

SCENARIOS = ("rest", "post-exercise", "little-toe", "night", "noisy", "acc-only", "walking", "restless")
DURATION_S = 600.0
QUICK_DURATION_S = 120.0
CLEAR_SNR = 7.0
SEEDS = (1, 2, 3)


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
    noise = {"uV": sim.scenario.noise_uv, "mg": sim.scenario.acc_noise_mg}
    clear = [e for e in truth if e.kind != "twitch" or e.peak >= CLEAR_SNR * noise[e.unit]]
    out: dict[str, Any] = {"scenario": name, "duration_s": duration_s, "seed": seed,
                           "detector_cpu_s": round(cpu_s, 2), "twitch": scores["twitch"].to_json(),
                           "recall_clear": round(score(events, clear)["twitch"].recall, 4)}
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
    """Every preset at every seed, one after the other, in this process."""
    t0 = time.perf_counter()
    duration_s = QUICK_DURATION_S if quick else DURATION_S
    seeds = SEEDS[:1] if quick else SEEDS
    rows = [cell(name, duration_s, seed) for name in SCENARIOS for seed in seeds]
    return {"quick": quick, "duration_s": duration_s, "seeds": list(seeds),
            "seconds": round(time.perf_counter() - t0, 1), "scenarios": rows}


def table(body: dict[str, Any]) -> str:
    """Markdown, the README's columns: twitch precision and recall per seed, and at the first seed the onset
    error and the gait or activity found and covered."""
    seeds = body["seeds"]
    per_seed = " / ".join(map(str, seeds))
    lines = [f"{body['duration_s'] / 60:g} minutes, seeds {', '.join(map(str, seeds))}, default settings", "",
             f"| scenario | twitch precision (seed {per_seed}) | twitch recall (seed {per_seed}) | "
             f"recall of twitches ≥ {CLEAR_SNR:g}× the noise | onset error median / p95 (seed {seeds[0]}) | "
             f"also (seed {seeds[0]}) |", "|---|---|---|---|---|---|"]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in body["scenarios"]:
        by_name.setdefault(row["scenario"], []).append(row)
    for name, rows in by_name.items():
        t = rows[0]["twitch"]
        onset = (f"{t['onset_error_median_ms']:.1f} / {t['onset_error_p95_ms']:.1f} ms"
                 if t["onset_error_median_ms"] is not None else "-")
        also = "; ".join(f"{kind} found {s['tp']} of {s['tp'] + s['fn']}, coverage {s.get('coverage', 0):.2f}"
                         for kind, s in ((k, rows[0].get(k)) for k in ("gait", "activity")) if s)
        precision = " / ".join(f"{r['twitch']['precision']:.3f}" for r in rows)
        recall = " / ".join(f"{r['twitch']['recall']:.3f}" for r in rows)
        clear = " / ".join(f"{r['recall_clear']:.3f}" for r in rows)
        lines.append(f"| {name} | {precision} | {recall} | {clear} | {onset} | {also} |")
    return "\n".join(lines)
