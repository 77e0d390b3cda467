"""The shared scoring function: one-to-one matching by kind, place and onset tolerance."""

from __future__ import annotations

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
