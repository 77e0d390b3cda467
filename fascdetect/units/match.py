"""Is this the same motor unit as last week's? Template similarity across recordings.

Two templates (median waveforms, possibly at different sampling rates) are
compared on a common 0.1 ms grid over ``MATCH_WINDOW_MS`` around their peaks,
at the best lag within ±``MATCH_LAG_MS`` and the best gain within
×/÷``MATCH_GAIN`` (electrodes are never put back exactly where they were, so
amplitude changes between nights more than within one). The distance is the
remaining difference as a fraction of the larger template's norm.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

SAME_UNIT_DISTANCE = 0.2
"""Two templates closer than this are taken for the same unit: the within-recording merge tolerance
(``SortConfig.merge_tolerance``), so two units one night tells apart are never one unit across nights. The same
simulated unit on two nights measures 0.01-0.04 and different units of one muscle 0.23-1.1
(tests/test_units_history.py); a match is of shape only: different people's simulated units came as close as
0.17 (three 10-minute nights at seeds 1-3, 2 of about 60 pairs of one region under 0.2)."""
MATCH_WINDOW_MS = (-5.0, 8.0)
MATCH_LAG_MS = 4.0
MATCH_GAIN = 1.5
GRID_MS = 0.1


def _on_grid(template: dict[str, Any], lo_ms: float, hi_ms: float) -> np.ndarray:
    uv = np.asarray(template["uv"], dtype=float)
    t = template["start_ms"] + np.arange(len(uv)) * 1e3 / template["fs_hz"]
    grid = np.arange(lo_ms, hi_ms + GRID_MS / 2, GRID_MS)
    return np.interp(grid, t, uv, left=0.0, right=0.0)


def template_distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Relative difference of two stored templates (``{"fs_hz", "start_ms", "uv"}``), 0 = identical shape."""
    lo, hi = MATCH_WINDOW_MS
    ta = _on_grid(a, lo, hi)
    if not ta.any():
        return np.inf
    best = np.inf
    lag_steps = int(round(MATCH_LAG_MS / GRID_MS))
    for k in range(-lag_steps, lag_steps + 1):
        tb = _on_grid(b, lo + k * GRID_MS, hi + k * GRID_MS)
        tt, bb, ab = float(ta @ ta), float(tb @ tb), float(ta @ tb)
        if bb <= 0:
            continue
        gain = float(np.clip(ab / bb, 1 / MATCH_GAIN, MATCH_GAIN))
        d2 = max(tt - 2 * gain * ab + gain * gain * bb, 0.0)
        best = min(best, d2 / max(tt, gain * gain * bb))
    return float(np.sqrt(best))


class Track:
    """One unit followed across recordings of the same side and region."""

    def __init__(self, number: int, side: str, region: str, first: dict[str, Any]) -> None:
        self.number, self.side, self.region = number, side, region
        self.seen: list[dict[str, Any]] = [first]

    @property
    def name(self) -> str:
        return f"{self.side}-{self.region} unit {self.number}"

    @property
    def template(self) -> dict[str, Any]:
        return self.seen[-1]["template"]  # the latest: follows a slow change of shape

    @property
    def nights(self) -> list[str]:
        return sorted({u["night"] for u in self.seen})

    @property
    def twitches(self) -> int:
        return sum(int(u["twitches"]) for u in self.seen)


def match_units(units: Sequence[dict[str, Any]], threshold: float = SAME_UNIT_DISTANCE) -> list[Track]:
    """Follow units across recordings: each recording's units (of one side and region) join the closest track
    within ``threshold``, one unit per track and closest pairs first; the others start new tracks.

    ``units``: rows of ``History.motor_units()`` (night, recording_id, side, region, twitches, template, ...)
    in time order. Deterministic: tracks are numbered in the order they first appear.
    """
    tracks: list[Track] = []
    by_recording: dict[int, list[dict[str, Any]]] = {}
    for u in units:
        by_recording.setdefault(u["recording_id"], []).append(u)
    order = sorted(by_recording, key=lambda rid: (by_recording[rid][0]["night"],
                                                  by_recording[rid][0].get("start", ""), rid))
    counters: dict[tuple[str, str], int] = {}
    for rid in order:
        rec_units = by_recording[rid]
        pairs = []
        for i, u in enumerate(rec_units):
            for j, t in enumerate(tracks):
                if (t.side, t.region) == (u["side"], u["region"]) and rid not in {s["recording_id"] for s in t.seen}:
                    d = template_distance(t.template, u["template"])
                    if d <= threshold:
                        pairs.append((d, i, j))
        used_u: set[int] = set()
        used_t: set[int] = set()
        for _, i, j in sorted(pairs):
            if i not in used_u and j not in used_t:
                used_u.add(i)
                used_t.add(j)
                tracks[j].seen.append(rec_units[i])
        for i, u in enumerate(rec_units):
            if i not in used_u:
                key = (u["side"], u["region"])
                counters[key] = counters.get(key, 0) + 1
                tracks.append(Track(counters[key], u["side"], u["region"], u))
    return tracks
