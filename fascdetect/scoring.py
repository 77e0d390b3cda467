"""Detector output against ground truth: one scoring function for tests and benchmarks.

A detected event matches a true one of the same kind, side and region when
their onsets differ by at most the kind's tolerance; each event matches at
most once (closest onsets first). Region mistakes therefore count as both a
miss and a false alarm, as a user would see them.

Long states are scored by time overlap instead (issue 10): a true ``activity``
is found when a detected ``activity`` of its side and region, or a detected
``movement`` of its side, overlaps it; a true gait ``movement`` (flag ``gait``)
when a detected ``movement`` of its side overlaps it. Detections that overlap
a true state they are allowed to describe are not false alarms (several are
fragments). ``coverage`` is the fraction of true activity (or gait) time
covered by detected activity or movement on that side (and region, for
activity). True twitches flagged ``masked`` (fired inside voluntary activity or
gait) are not truth: they must not be counted, so detecting one is a false
alarm. Old kinds with no gait or masked truth score exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fascdetect.model import EVENT_KINDS, Event

ONSET_TOLERANCE_S = {"twitch": 0.025, "burst": 0.25, "cramp": 0.5, "movement": 0.5, "activity": 0.5}


@dataclass
class KindScore:
    kind: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    onset_errors_s: list[float] = field(default_factory=list)
    duration_errors_s: list[float] = field(default_factory=list)
    fragments: list[int] = field(default_factory=list)
    """For each true event, how many detected events of its kind overlap it (1 is ideal)."""
    true_s: float = 0.0
    """Time (s) of the true activity or gait this kind's coverage is measured on (0: none)."""
    covered_s: float = 0.0
    """Of ``true_s``, the time covered by detected activity or movement of the same place."""

    @property
    def coverage(self) -> float | None:
        """Fraction of true activity/gait time covered by detections (None when there is none)."""
        return self.covered_s / self.true_s if self.true_s > 0 else None

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + self.false_negatives
        return self.true_positives / real if real else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        errs = np.abs(self.onset_errors_s) if self.onset_errors_s else np.zeros(0)
        return {
            "kind": self.kind,
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "onset_error_median_ms": round(float(np.median(errs)) * 1e3, 2) if errs.size else None,
            "onset_error_p95_ms": round(float(np.percentile(errs, 95)) * 1e3, 2) if errs.size else None,
            "duration_error_median_s": round(float(np.median(np.abs(self.duration_errors_s))), 3)
            if self.duration_errors_s else None,
            "mean_fragments": round(float(np.mean(self.fragments)), 3) if self.fragments else None,
            **({"coverage": round(self.coverage, 4), "true_s": round(self.true_s, 3)} if self.true_s > 0 else {}),
        }


def score(detected: list[Event], truth: list[Event], tolerance_s: dict[str, float] | None = None
          ) -> dict[str, KindScore]:
    """Per-kind scores of ``detected`` against ``truth``."""
    tol = {**ONSET_TOLERANCE_S, **(tolerance_s or {})}
    out = {}
    for kind in dict.fromkeys((*EVENT_KINDS, "activity")):  # activity is scored even before the model lists it
        det = [e for e in detected if e.kind == kind]
        tru = [e for e in truth if e.kind == kind and not (kind == "twitch" and MASKED in e.flags)]
        s = KindScore(kind)
        if kind == "activity":
            out[kind] = _score_activity(det, detected, truth, tol[kind])
            continue
        gait = [t for t in tru if kind == "movement" and GAIT in t.flags]
        tru = [t for t in tru if GAIT not in t.flags] if gait else tru
        matches = _match(det, tru, tol[kind], same_region=True)
        for i, j in matches:
            s.onset_errors_s.append(det[i].onset_s - tru[j].onset_s)
            s.duration_errors_s.append(det[i].duration_s - tru[j].duration_s)
        s.true_positives = len(matches)
        s.false_positives = len(det) - len(matches)
        s.false_negatives = len(tru) - len(matches)
        if kind in ("cramp", "movement"):
            s.fragments = [sum(1 for d in det if d.side == t.side and d.onset_s < t.end_s and d.end_s > t.onset_s)
                           for t in tru]
        if gait:
            _score_gait(s, det, {i for i, _ in matches}, gait, detected)
        out[kind] = s
    return out


MASKED, GAIT = "masked", "gait"


def _overlaps(a: Event, b: Event) -> bool:
    return a.onset_s < b.end_s and a.end_s > b.onset_s


def _describes(d: Event, t: Event) -> bool:
    """A detection of activity or movement that may stand for true state ``t`` (same place, overlapping)."""
    if d.side != t.side or not _overlaps(d, t):
        return False
    return d.kind == "movement" or (d.kind == "activity" and t.region in ("*", d.region))


def _score_gait(s: KindScore, det: list[Event], used: set[int], gait: list[Event], detected: list[Event]) -> None:
    """Add the gait bouts to movement score ``s``: found when a detected movement of the side overlaps,
    detections overlapping a bout are fragments, not false alarms; coverage by movement or activity."""
    free = [i for i in range(len(det)) if i not in used]
    claimed: set[int] = set()
    for t in gait:
        hits = [i for i in free if det[i].side == t.side and _overlaps(det[i], t)]
        claimed.update(hits)
        s.fragments.append(len(hits))
        if hits:
            s.true_positives += 1
            first = min(hits, key=lambda i: det[i].onset_s)
            s.onset_errors_s.append(det[first].onset_s - t.onset_s)
        else:
            s.false_negatives += 1
    s.false_positives -= len(claimed)
    s.true_s, s.covered_s = _coverage(gait, detected)


def _score_activity(det: list[Event], detected: list[Event], truth: list[Event], tol: float) -> KindScore:
    """True activity found by an overlapping activity (same side and region) or movement (same side);
    a detected activity overlapping no true activity of its place nor any true movement of its side is
    a false alarm. Matching is by overlap, so ``tol`` is not used; onset errors are the first detection's."""
    s = KindScore("activity")
    tru = [t for t in truth if t.kind == "activity"]
    moves = [t for t in truth if t.kind == "movement"]
    states = [d for d in detected if d.kind in ("activity", "movement")]
    for t in tru:
        hits = [d for d in states if _describes(d, t)]
        s.fragments.append(sum(1 for d in hits if d.kind == "activity"))
        if hits:
            s.true_positives += 1
            first = min(hits, key=lambda d: d.onset_s)
            s.onset_errors_s.append(first.onset_s - t.onset_s)
            s.duration_errors_s.append(first.duration_s - t.duration_s)
        else:
            s.false_negatives += 1
    s.false_positives = sum(1 for d in det if not any(d.side == t.side and _overlaps(d, t) and t.region in ("*", d.region)
                                                      for t in tru + moves))
    s.true_s, s.covered_s = _coverage(tru, detected)
    return s


def _coverage(states: list[Event], detected: list[Event]) -> tuple[float, float]:
    """(true seconds, seconds of them covered by detected activity/movement of the same place), each place's
    true time and detections merged first so overlaps count once."""
    places: dict[tuple[str, str], list[Event]] = {}
    for t in states:
        places.setdefault((t.side, t.region), []).append(t)
    true_s = covered_s = 0.0
    for (side, region), ts in places.items():
        truth_iv = _union([(t.onset_s, t.end_s) for t in ts])
        det_iv = _union([(d.onset_s, d.end_s) for d in detected if d.side == side and
                         (d.kind == "movement" or (d.kind == "activity" and region in ("*", d.region)))])
        true_s += sum(b - a for a, b in truth_iv)
        covered_s += sum(max(0.0, min(b, d) - max(a, c)) for a, b in truth_iv for c, d in det_iv)
    return true_s, covered_s


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def region_accuracy(detected: list[Event], truth: list[Event], kind: str = "twitch",
                    tolerance_s: float | None = None) -> tuple[int, int]:
    """(right region, matched) for events of ``kind`` matched to truth by onset and side only.

    Separates "found it, named the wrong muscle" from "missed it", which
    ``score`` counts alike; accuracy is the first number over the second.
    """
    tol = ONSET_TOLERANCE_S[kind] if tolerance_s is None else tolerance_s
    det = [e for e in detected if e.kind == kind]
    tru = [e for e in truth if e.kind == kind and MASKED not in e.flags]
    matches = _match(det, tru, tol, same_region=False)
    return sum(det[i].region == tru[j].region for i, j in matches), len(matches)


def _match(det: list[Event], tru: list[Event], tol: float, same_region: bool) -> list[tuple[int, int]]:
    """One-to-one (detected, true) index pairs, closest onsets first."""
    used_d: set[int] = set()
    used_t: set[int] = set()
    out = []
    for _, i, j in _near_pairs(det, tru, tol, same_region):
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def _near_pairs(det: list[Event], tru: list[Event], tol: float, same_region: bool) -> list[tuple[float, int, int]]:
    """(onset error, detected index, true index) for every same-place pair within ``tol``, closest first.

    Same place is the same side and (unless ``same_region`` is False) region.
    True onsets are sorted and searched, so a night's thousands of events stay cheap.
    """
    order = sorted(range(len(tru)), key=lambda j: tru[j].onset_s)
    onsets = np.array([tru[j].onset_s for j in order])
    pairs = []
    for i, d in enumerate(det):
        lo, hi = np.searchsorted(onsets, [d.onset_s - tol, d.onset_s + tol], side="left")
        for k in range(lo, min(hi + 1, len(order))):
            t = tru[order[k]]
            if d.side == t.side and (d.region == t.region or not same_region) and abs(d.onset_s - t.onset_s) <= tol:
                pairs.append((abs(d.onset_s - t.onset_s), i, order[k]))
    return sorted(pairs)


def report(scores: dict[str, KindScore]) -> str:
    lines = [f"{'kind':<10}{'tp':>6}{'fp':>6}{'fn':>6}{'prec':>8}{'recall':>8}{'f1':>8}{'onset med/p95 ms':>20}"]
    for s in scores.values():
        j = s.to_json()
        onset = f"{j['onset_error_median_ms']}/{j['onset_error_p95_ms']}" if s.onset_errors_s else "-"
        cover = f"{'coverage':>10} {s.coverage:.3f} of {s.true_s:.1f} s" if s.coverage is not None else ""
        lines.append(f"{s.kind:<10}{s.true_positives:>6}{s.false_positives:>6}{s.false_negatives:>6}"
                     f"{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}{onset:>20}{cover}")
    return "\n".join(lines)


@dataclass
class UnitScore:
    """Motor-unit assignment against simulator truth (issue 13), on twitches matched by onset.

    ``purity``: of matched twitches given a unit, the fraction that belong to
    their found unit's most common true unit. ``completeness``: of matched true
    twitches, the fraction that lie in their true unit's most common found unit
    ("unassigned" is never that unit, so leaving everything unassigned scores 0).
    Units per channel: found units, and true units that fired at least
    ``min_twitches`` times among the matched twitches (fewer cannot be a unit).
    """

    purity: float
    completeness: float
    matched: int
    assigned: int
    found_per_channel: dict[str, int]
    true_per_channel: dict[str, int]
    completeness_seen: float = 1.0
    """Completeness over the true units matched at least ``min_twitches`` times (the others cannot be units)."""

    @property
    def counts_within_one(self) -> bool:
        channels = set(self.found_per_channel) | set(self.true_per_channel)
        return all(abs(self.found_per_channel.get(c, 0) - self.true_per_channel.get(c, 0)) <= 1 for c in channels)

    def to_json(self) -> dict[str, Any]:
        return {"purity": round(self.purity, 4), "completeness": round(self.completeness, 4),
                "completeness_seen": round(self.completeness_seen, 4), "matched": self.matched,
                "assigned": self.assigned, "units_within_one": self.counts_within_one,
                "found_per_channel": dict(sorted(self.found_per_channel.items())),
                "true_per_channel": dict(sorted(self.true_per_channel.items()))}


def score_units(detected: list[Event], labels: list[str], truth: list[Any], min_twitches: int = 3,
                unassigned: str = "unassigned") -> UnitScore:
    """Score ``labels`` (one per detected event, "unassigned" or a unit name) against truth records that
    carry ``motor_unit`` (``firmware_sim.truth.TruthEvent``); only twitches count, masked ones excluded."""
    det_idx = [i for i, e in enumerate(detected) if e.kind == "twitch"]
    det = [detected[i] for i in det_idx]
    tru = [t for t in truth if t.kind == "twitch" and MASKED not in t.flags and getattr(t, "motor_unit", "")]
    pairs = [(labels[det_idx[i]], tru[j].motor_unit, tru[j].channel) for i, j in
             _match(det, [t for t in tru], ONSET_TOLERANCE_S["twitch"], same_region=True)]
    by_found: dict[str, dict[str, int]] = {}
    by_true: dict[str, dict[str, int]] = {}
    for found, true, _ in pairs:
        by_true.setdefault(true, {}).setdefault(found, 0)
        by_true[true][found] += 1
        if found != unassigned:
            by_found.setdefault(found, {}).setdefault(true, 0)
            by_found[found][true] += 1
    assigned = sum(sum(v.values()) for v in by_found.values())
    purity = sum(max(v.values()) for v in by_found.values()) / assigned if assigned else 1.0
    complete = sum(max([n for f, n in v.items() if f != unassigned], default=0) for v in by_true.values())
    completeness = complete / len(pairs) if pairs else 1.0
    found_per: dict[str, set[str]] = {}
    true_count: dict[tuple[str, str], int] = {}
    for found, true, channel in pairs:
        if found != unassigned:
            found_per.setdefault(channel, set()).add(found)
        true_count[(channel, true)] = true_count.get((channel, true), 0) + 1
    true_per: dict[str, int] = {}
    for (channel, _), n in true_count.items():
        true_per[channel] = true_per.get(channel, 0) + (n >= min_twitches)
    seen = [v for v in by_true.values() if sum(v.values()) >= min_twitches]
    seen_n = sum(sum(v.values()) for v in seen)
    seen_complete = sum(max([n for f, n in v.items() if f != unassigned], default=0) for v in seen)
    return UnitScore(purity, completeness, len(pairs), assigned, {c: len(v) for c, v in found_per.items()}, true_per,
                     seen_complete / seen_n if seen_n else 1.0)
