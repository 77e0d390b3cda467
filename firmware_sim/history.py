"""A simulated person over many nights, so the history and report can be tried without hardware.

The pattern (fixed for a seed, documented in docs/history.md):
- a right little toe (R-ADM) that twitches a little every night;
- after exercise days (every third day, starting with the second night),
  much more twitching there and some in the right arch (R-AbH);
- from the eighth night, a week in which it spreads to the left little toe (L-ADM);
- one or two cramp nights (the middle night, and the second-last of 10 or more);
- caffeine, stress and a hot foot soak noted on some days, with no effect.
The diary uses the same tags a person would type.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from firmware_sim.scenarios import Scenario, get_scenario

# Elsewhere a stray twitch now and then, well below the report's 'twitching night' (0.2 per minute).
BASE_RATES_PER_MIN = {"AbH": 0.03, "FDB": 0.03, "ADM": 0.03, "EDB": 0.02, "PER": 0.03, "FHL": 0.02, "EHL": 0.02,
                      "TA": 0.03, "GAS": 0.05}
LITTLE_TOE_PER_MIN = 2.0
AFTER_EXERCISE_PER_MIN = 9.0
ARCH_AFTER_EXERCISE_PER_MIN = 3.0
SPREAD_PER_MIN = 4.0
SPREAD_NIGHTS = range(7, 14)
EXERCISE = ("jog", "hike", "long-walk")


@dataclass(frozen=True)
class PlannedNight:
    night: date
    scenario: Scenario
    seed: int
    tags: tuple[tuple[str, str], ...]
    note: str


def plan(nights: int, first: date, duration_s: float, seed: int = 0,
         base: str | Scenario = "night") -> list[PlannedNight]:
    """One PlannedNight per evening from ``first``; the same arguments give the same plan.

    Cramp nights get about 1.5 cramps per foot whatever the recording's length ``duration_s``.
    """
    rng = random.Random(seed)
    scenario = get_scenario(base)
    cramp_nights = {nights // 2} | ({nights - 2} if nights >= 10 else set())
    out = []
    for i in range(nights):
        day = first + timedelta(days=i)
        rates = dict(BASE_RATES_PER_MIN)
        rates["R-ADM"] = LITTLE_TOE_PER_MIN
        tags: list[tuple[str, str]] = []
        notes = []
        if i % 3 == 1:
            kind = EXERCISE[(i // 3) % len(EXERCISE)]
            tags.append(("exercise", kind))
            rates["R-ADM"] = AFTER_EXERCISE_PER_MIN
            rates["R-AbH"] = ARCH_AFTER_EXERCISE_PER_MIN
            notes.append(f"{kind.replace('-', ' ')} in the afternoon")
        if i in SPREAD_NIGHTS:
            rates["L-ADM"] = SPREAD_PER_MIN
        if rng.random() < 0.4:
            tags.append(("caffeine", str(rng.randint(1, 4))))
        if rng.random() < 0.15:
            tags.append(("stress", "high"))
        if rng.random() < 0.1:
            tags.append(("hot-soak", ""))
        start = datetime.combine(day, time(22, 30)) + timedelta(minutes=rng.randint(0, 75))
        sc = replace(scenario, name=f"{scenario.name}-history", start=start, twitch_rate_per_min=rates,
                     clustering=None, clustered_regions=())
        if i in cramp_nights:
            sc = replace(sc, cramp_rate_per_h=max(sc.cramp_rate_per_h, 1.5 * 3600.0 / duration_s),
                         cramp_duration_s=(8.0, max(10.0, min(40.0, duration_s / 4))))
            notes.append("woke with a cramp")
        out.append(PlannedNight(day, sc, seed * 1000 + i, tuple(tags), "; ".join(notes)))
    return out
