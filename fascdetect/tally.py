"""Counts and rates per side and region: what the CLI table, JSON summary and GUI show.

Twitch rates are per minute of *rest* on that region: time when its foot
does not move and its muscle is neither active (voluntary or tonic
activity) nor cramping, each with the margin within which twitches are not
counted, because twitches are counted only in a relaxed muscle.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fascdetect.model import Event
from fascdetect.regions import REGIONS, describe


@dataclass
class RegionCount:
    side: str
    region: str
    twitches: int = 0
    doublets: int = 0
    acc_confirmed: int = 0
    bursts: int = 0
    cramps: int = 0
    cramp_total_s: float = 0.0
    cramp_longest_s: float = 0.0
    activities: int = 0
    active_s: float = 0.0
    last_event_s: float | None = None
    recent: deque = field(default_factory=deque, repr=False)
    """Onsets of recent twitches, for sliding-window rates."""


class Tally:
    """Accumulates events; ``rows()`` gives per-region counts in catalogue order."""

    def __init__(self, regions: list[tuple[str, str]], window_s: float = 60.0,
                 margins_s: tuple[float, float] = (0.5, 1.0), origin_s: float = 0.0) -> None:
        """``margins_s``: how far around a movement and around a muscle's activity twitches are not counted;
        ``origin_s``: stream time the tally counts from (a live display's reset), so durations start there."""
        self.window_s = window_s
        self.margins_s = margins_s
        self.origin_s = origin_s
        self.not_rest: dict[tuple[str, str], list[tuple[float, float]]] = {}
        order = {code: i for i, code in enumerate(REGIONS)}
        self.counts = {key: RegionCount(*key) for key in sorted(set(regions), key=lambda k: (k[0], order[k[1]]))}
        self.movement_s: dict[str, float] = {side: 0.0 for side, _ in self.counts}
        self.movements: dict[str, int] = {side: 0 for side, _ in self.counts}

    def add(self, events: list[Event]) -> None:
        for e in events:
            if e.kind == "movement":
                self.movement_s[e.side] = self.movement_s.get(e.side, 0.0) + e.duration_s
                self.movements[e.side] = self.movements.get(e.side, 0) + 1
                pad = self.margins_s[0]
                self.not_rest.setdefault((e.side, "*"), []).append((e.onset_s - pad, e.end_s + pad))
                continue
            if e.kind in ("activity", "cramp"):
                pad = self.margins_s[1]
                self.not_rest.setdefault((e.side, e.region), []).append((e.onset_s - pad, e.end_s + pad))
            c = self.counts.setdefault((e.side, e.region), RegionCount(e.side, e.region))
            c.last_event_s = max(c.last_event_s or 0.0, e.onset_s)
            if e.kind == "twitch":
                c.twitches += 1
                c.doublets += bool(e.flags & {"doublet", "multiplet"})
                c.acc_confirmed += "acc_confirmed" in e.flags
                c.recent.append(e.onset_s)
                while c.recent and c.recent[0] < e.onset_s - self.window_s:
                    c.recent.popleft()
            elif e.kind == "burst":
                c.bursts += 1
            elif e.kind == "activity":
                c.activities += 1
                c.active_s += e.duration_s
            elif e.kind == "cramp":
                c.cramps += 1
                c.cramp_total_s += e.duration_s
                c.cramp_longest_s = max(c.cramp_longest_s, e.duration_s)

    def recent_rate_per_min(self, side: str, region: str, now_s: float) -> float:
        """Twitches per minute over the last ``window_s`` before ``now_s`` (for the live display)."""
        c = self.counts.get((side, region))
        if c is None:
            return 0.0
        n = sum(1 for t in c.recent if t >= now_s - self.window_s)
        return 60.0 * n / min(self.window_s, max(now_s, 1e-9))

    def rest_s(self, side: str, region: str, duration_s: float, unusable_s: float = 0.0) -> float:
        """Seconds of ``duration_s`` when twitches could be counted on this region (overlaps counted once)."""
        spans = sorted((lo - self.origin_s, hi - self.origin_s)
                       for lo, hi in self.not_rest.get((side, "*"), []) + self.not_rest.get((side, region), []))
        busy, end = 0.0, 0.0
        for lo, hi in spans:
            lo, hi = max(lo, end, 0.0), min(hi, duration_s)
            if hi > lo:
                busy += hi - lo
                end = hi
        return max(duration_s - busy - unusable_s, 0.0)

    def summary(self, duration_s: float, unusable_s: dict[tuple[str, str], float] | None = None) -> dict[str, Any]:
        """``unusable_s``: clipped or gap-filled seconds per (side, region), not rest either."""
        rows = []
        for c in self.counts.values():
            rest_s = self.rest_s(c.side, c.region, duration_s, (unusable_s or {}).get((c.side, c.region), 0.0))
            quiet_min = rest_s / 60.0
            rows.append({
                "side": c.side,
                "region": c.region,
                "name": describe(c.side, c.region),
                "twitches": c.twitches,
                "twitches_per_min": round(c.twitches / quiet_min, 3) if quiet_min > 0 else 0.0,
                "doublets": c.doublets,
                "acc_confirmed": c.acc_confirmed,
                "bursts": c.bursts,
                "cramps": c.cramps,
                "cramp_total_s": round(c.cramp_total_s, 3),
                "cramp_longest_s": round(c.cramp_longest_s, 3),
                "activity": c.activities,
                "active_s": round(c.active_s, 3),
                "rest_s": round(rest_s, 3),
            })
        return {
            "regions": rows,
            "movement": {side: {"count": self.movements[side], "total_s": round(self.movement_s[side], 3)}
                         for side in self.movement_s},
            "twitches": sum(c.twitches for c in self.counts.values()),
            "bursts": sum(c.bursts for c in self.counts.values()),
            "cramps": sum(c.cramps for c in self.counts.values()),
        }
