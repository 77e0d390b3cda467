"""The detector against the simulator's ground truth, at the default settings (issue 2, Accuracy).

Scored with fascdetect.scoring, the same function the benchmarks use.
"""

from __future__ import annotations

import pytest

from fascdetect.pipeline import run_all
from fascdetect.scoring import score
from firmware_sim.generator import simulate
from firmware_sim.scenarios import get_scenario


def detect(scenario, duration_s, seed):
    sim = simulate(scenario, duration_s, seed=seed)
    return sim, run_all(sim.blocks, sim.channels), [t.to_event() for t in sim.truth]


# Issue 2 asks >= 0.95 for EMG. Accelerometer-only recall is lower: mechanical
# responses of small units (1-3 mg) sit at the accelerometers' noise floor.
@pytest.mark.parametrize("name, seed, min_recall", [("rest", 11, 0.95), ("post-exercise", 12, 0.95),
                                                    ("little-toe", 13, 0.95), ("acc-only", 14, 0.9)])
def test_twitches_found_with_right_region_and_onset(name, seed, min_recall):
    _, events, truth = detect(name, 240.0, seed)
    s = score(events, truth)["twitch"]
    assert s.true_positives >= 20
    assert s.precision >= 0.95 and s.recall >= min_recall, (s.precision, s.recall)
    assert max(abs(e) for e in s.onset_errors_s) <= 0.025


def test_every_cramp_is_one_event_and_movement_hides_twitches():
    scenario = get_scenario("night").with_(cramp_rate_per_h=12.0, movement_rate_per_h=12.0)
    _, events, truth = detect(scenario, 1200.0, 1)
    cramps = [t for t in truth if t.kind == "cramp"]
    moves = [t for t in truth if t.kind == "movement"]
    assert cramps and moves
    scores = score(events, truth)
    assert scores["cramp"].recall == 1.0 and scores["cramp"].precision == 1.0
    assert scores["cramp"].fragments == [1] * len(cramps)
    assert max(abs(e) for e in scores["cramp"].onset_errors_s) <= 0.5
    assert scores["movement"].recall == 1.0
    for m in (e for e in events if e.kind == "movement"):
        inside = [e for e in events if e.kind == "twitch" and e.side == m.side and m.onset_s <= e.onset_s <= m.end_s]
        assert not inside
