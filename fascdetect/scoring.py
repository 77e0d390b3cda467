"""Detector output against ground truth: one scoring function for tests and benchmarks.

A detected event matches a true one of the same kind, side and region when
their onsets differ by at most the kind's tolerance; each event matches at
most once (closest onsets first). Region mistakes therefore count as both a
miss and a false alarm, as a user would see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fascdetect.model import EVENT_KINDS, Event

ONSET_TOLERANCE_S = {"twitch": 0.025, "burst": 0.25, "cramp": 0.5, "movement": 0.5}


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
        }


def score(detected: list[Event], truth: list[Event], tolerance_s: dict[str, float] | None = None
          ) -> dict[str, KindScore]:
    """Per-kind scores of ``detected`` against ``truth``."""
    tol = {**ONSET_TOLERANCE_S, **(tolerance_s or {})}
    out = {}
    for kind in EVENT_KINDS:
        det = [e for e in detected if e.kind == kind]
        tru = [e for e in truth if e.kind == kind]
        s = KindScore(kind)
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
        out[kind] = s
    return out


def region_accuracy(detected: list[Event], truth: list[Event], kind: str = "twitch",
                    tolerance_s: float | None = None) -> tuple[int, int]:
    """(right region, matched) for events of ``kind`` matched to truth by onset and side only.

    Separates "found it, named the wrong muscle" from "missed it", which
    ``score`` counts alike; accuracy is the first number over the second.
    """
    tol = ONSET_TOLERANCE_S[kind] if tolerance_s is None else tolerance_s
    det = [e for e in detected if e.kind == kind]
    tru = [e for e in truth if e.kind == kind]
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
        lines.append(f"{s.kind:<10}{s.true_positives:>6}{s.false_positives:>6}{s.false_negatives:>6}"
                     f"{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}{onset:>20}")
    return "\n".join(lines)
