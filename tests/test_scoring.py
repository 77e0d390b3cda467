"""The shared scoring function: one-to-one matching by kind, place and onset tolerance."""

from __future__ import annotations

import pytest

from fascdetect.model import Event
from fascdetect.scoring import ONSET_TOLERANCE_S, region_accuracy, score


def ev(kind: str, onset: float, region: str = "ADM", side: str = "L", duration: float = 0.015) -> Event:
    return Event(kind, onset, duration, side, region, f"EMG {side}-{region}", 100.0, "uV")


def test_matches_are_one_to_one_within_the_tolerance_and_place():
    tol = ONSET_TOLERANCE_S["twitch"]
    truth = [ev("twitch", 1.0), ev("twitch", 2.0), ev("twitch", 3.0), ev("twitch", 4.0, side="R")]
    detected = [
        ev("twitch", 1.0 + tol / 2),      # found
        ev("twitch", 1.0 - tol / 4),      # a second detection of the same twitch: a false alarm
        ev("twitch", 2.0 + 2 * tol),      # too late: miss + false alarm
        ev("twitch", 3.0, region="FDB"),  # wrong region: miss + false alarm
        ev("twitch", 4.0, side="R"),      # found
    ]
    s = score(detected, truth)["twitch"]
    assert (s.true_positives, s.false_positives, s.false_negatives) == (2, 3, 2)
    assert sorted(round(e, 6) for e in s.onset_errors_s) == [round(-tol / 4, 6), 0.0]
    assert s.precision == 2 / 5 and s.recall == 2 / 4
    # By onset and side only: 1.0, 3.0 (wrong muscle) and 4.0 are found; two name the right region.
    assert region_accuracy(detected, truth) == (2, 3)


def test_cramp_fragments_are_counted():
    truth = [ev("cramp", 10.0, duration=20.0)]
    one = score([ev("cramp", 10.2, duration=19.5)], truth)["cramp"]
    split = score([ev("cramp", 10.2, duration=8.0), ev("cramp", 19.0, duration=11.0)], truth)["cramp"]
    assert one.fragments == [1] and one.recall == 1.0
    assert split.fragments == [2] and split.false_positives == 1


def test_empty_inputs_score_as_perfect_not_as_errors():
    s = score([], [])
    assert all(k.precision == k.recall == 1.0 for k in s.values())


# ---------------------------------------------------------------- issue 10: activity, gait, masked twitches
from hypothesis import given, settings, strategies as st  # noqa: E402


def state(kind: str, onset: float, duration: float, region: str = "GAS", side: str = "L", flags=()) -> Event:
    return Event(kind, onset, duration, side, region, f"EMG {side}-{region}" if region != "*" else f"EMG {side}-GAS",
                 100.0, "uV", frozenset(flags))


def test_activity_is_found_by_overlap_with_activity_or_movement_of_its_place():
    truth = [state("activity", 10.0, 5.0), state("activity", 30.0, 2.0, region="TA"), state("activity", 50.0, 1.0, side="R")]
    detected = [
        state("activity", 12.0, 1.0),                    # overlaps the first, late onset: still found
        state("activity", 13.5, 3.0),                    # a second fragment of it
        state("movement", 29.5, 1.0, region="*"),        # a movement of that foot covers the TA activity
        state("activity", 50.2, 0.5, side="R", region="PER"),  # wrong muscle: miss and false alarm
        state("activity", 70.0, 1.0),                    # nothing there: false alarm
    ]
    s = score(detected, truth)["activity"]
    assert (s.true_positives, s.false_positives, s.false_negatives) == (2, 2, 1)
    assert s.fragments == [2, 0, 0]
    # Coverage: of 5 + 2 + 1 s of activity, 12-13 and 13.5-15 s of the first and 30-30.5 s of the second.
    assert s.true_s == 8.0 and s.covered_s == pytest.approx(2.5 + 0.5)
    assert s.to_json()["coverage"] == pytest.approx(3.0 / 8.0, abs=1e-4)


def test_gait_bouts_are_found_by_overlapping_movements_and_fragments_are_not_false_alarms():
    gait = [state("movement", 10.0, 30.0, region="*", flags={"gait"}), state("movement", 11.0, 30.0, region="*", side="R", flags={"gait"})]
    posture = [state("movement", 100.0, 2.0, region="*")]
    detected = [
        state("movement", 10.4, 12.0, region="*", flags={"gait"}),
        state("movement", 23.0, 15.0, region="*", flags={"gait"}),   # a second piece of the same bout
        state("activity", 15.0, 10.0, side="R", region="TA"),         # the right foot seen only as activity
        state("movement", 100.3, 1.5, region="*"),                    # the posture change, matched by onset
        state("movement", 200.0, 2.0, region="*"),                    # false alarm
    ]
    s = score(detected, gait + posture)["movement"]
    assert (s.true_positives, s.false_positives, s.false_negatives) == (2, 1, 1)
    assert sorted(s.fragments) == [0, 1, 2]
    # Gait time covered by movement or activity of the side: L 12 + 15 of 30 s, R 10 of 30 s.
    assert s.true_s == 60.0 and s.covered_s == pytest.approx(27.0 + 10.0)
    # Activity reported during the walk is no false alarm: the foot is not at rest.
    assert score(detected, gait + posture)["activity"].false_positives == 0


def test_masked_twitches_are_not_truth_and_detecting_one_is_a_false_alarm():
    truth = [ev("twitch", 1.0), ev("twitch", 2.0), Event("twitch", 3.0, 0.015, "L", "ADM", "EMG L-ADM", 90.0, "uV", frozenset({"masked"}))]
    s = score([ev("twitch", 1.0), ev("twitch", 3.0)], truth)["twitch"]
    assert (s.true_positives, s.false_positives, s.false_negatives) == (1, 1, 1)
    s = score([ev("twitch", 1.0), ev("twitch", 2.0)], truth)["twitch"]
    assert s.precision == s.recall == 1.0
    assert region_accuracy([ev("twitch", 3.0)], truth) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0.3, 30), st.sampled_from(["L", "R"]), st.sampled_from(["GAS", "TA"])),
                max_size=8),
       st.lists(st.tuples(st.floats(0, 500), st.floats(0.1, 30), st.sampled_from(["L", "R"]), st.sampled_from(["GAS", "TA"]),
                          st.sampled_from(["activity", "movement"])), max_size=8))
def test_activity_scores_are_consistent(true_spans, det_spans):
    truth = [state("activity", a, d, region=r, side=s) for a, d, s, r in true_spans]
    detected = [state(k, a, d, region=r if k == "activity" else "*", side=s) for a, d, s, r, k in det_spans]
    s = score(detected, truth)["activity"]
    assert s.true_positives + s.false_negatives == len(truth)
    assert 0 <= s.false_positives <= sum(1 for d in detected if d.kind == "activity")
    assert 0.0 <= s.covered_s <= s.true_s + 1e-9
    # Perfect detections cover everything and find everything.
    perfect = score(truth, truth)["activity"]
    assert perfect.recall == 1.0 and perfect.precision == 1.0 and (perfect.coverage in (None, 1.0) or
                                                                    perfect.coverage == pytest.approx(1.0))


def test_old_kinds_score_as_before_without_new_truth():
    truth = [ev("movement", 5.0, region="*", duration=2.0), ev("cramp", 20.0, duration=10.0)]
    detected = [ev("movement", 5.3, region="*", duration=2.0), ev("movement", 50.0, region="*"), ev("cramp", 20.1, duration=9.0)]
    scores = score(detected, truth)
    m = scores["movement"]
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 0) and m.coverage is None
    assert "coverage" not in m.to_json() and "coverage" not in scores["cramp"].to_json()
