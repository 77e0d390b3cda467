"""From stored recordings to nights, and from nights to plain-word findings with their numbers.

A *night* is every recording whose start falls in it (``store.night_of``).
A region's nightly rate pools its recordings: twitches over minutes at rest
on that region. The *overall* nightly rate adds the regions' rates (every
region's twitches per minute, together); trends and diary comparisons use it.

Every finding here is a description of the recorded signals with the
numbers behind it. None of it is a diagnosis, and nothing names a disease.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any, Sequence

from fascdetect.regions import REGIONS, SIDE_NAMES, describe
from fascdetect.spans import union_s

TWITCHING_MIN_RATE_PER_MIN = 0.2
"""A region 'twitched' on a night at this rate or more..."""
TWITCHING_MIN_COUNT = 3
"""...and with at least this many twitches (one stray detection is not a twitching night)."""
RECENT_NIGHTS = 14
"""Persistence is stated over the last this-many recorded nights ('on 12 of the last 14 nights')."""
PERSIST_DAYS = 21
"""Guidance names twitching that persists for weeks; we flag a run of twitching nights spanning this many days."""
PERSIST_MIN_FRACTION = 0.5
"""...on at least this share of the recorded nights of the run (twitching that comes back now and then is
described under persistence, not flagged as persisting)."""
RUN_BREAK_QUIET_NIGHTS = 3
"""A run of twitching nights ends after this many recorded nights in a row without twitching..."""
RUN_BREAK_GAP_DAYS = 7
"""...or a gap of more than this many days between twitching nights."""
BASELINE_NIGHTS = 7
"""Spread is judged against the first this-many recorded nights (at least MIN_BASELINE_NIGHTS)."""
MIN_BASELINE_NIGHTS = 4
SPREAD_MIN_NIGHTS = 3
"""A region counts as new only when it twitched on this many later nights."""
TREND_MIN_NIGHTS = 7
"""Fewer nights give a trend interval too wide to say anything."""
RISING_MIN_NIGHTS = 10
RISING_MIN_RATIO = 1.25
"""Rates 'rise' when the trend's 95% interval is above zero and the last week's median is this much above the first's."""
ROLLING_NIGHTS = 7
BOOTSTRAP_RESAMPLES = 2000


@dataclass
class RegionNight:
    twitches: int = 0
    rest_s: float = 0.0
    bursts: int = 0
    cramps: int = 0

    @property
    def rate_per_min(self) -> float:
        return 60.0 * self.twitches / self.rest_s if self.rest_s > 0 else 0.0

    @property
    def twitching(self) -> bool:
        return self.twitches >= TWITCHING_MIN_COUNT and self.rate_per_min >= TWITCHING_MIN_RATE_PER_MIN


@dataclass
class Night:
    """One night: its recordings pooled, and its diary entries beside it."""

    night: str
    recording_ids: list[int] = field(default_factory=list)
    start: datetime | None = None
    recorded_s: float = 0.0
    usable_s: float = 0.0
    regions: dict[tuple[str, str], RegionNight] = field(default_factory=dict)
    cramps: int = 0
    cramp_total_s: float = 0.0
    cramp_longest_s: float = 0.0
    movement_s: dict[str, float] = field(default_factory=dict)
    activity_s: float = 0.0
    """Voluntary or tonic activity (``activity`` events), merged over channels and feet: twitches are not
    counted there either."""
    tags: list[tuple[str, str]] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return bool(self.recording_ids)

    @property
    def rate_per_min(self) -> float:
        return sum(r.rate_per_min for r in self.regions.values())

    @property
    def twitches(self) -> int:
        return sum(r.twitches for r in self.regions.values())

    def twitching_regions(self) -> list[tuple[str, str]]:
        return [k for k, r in self.regions.items() if r.twitching]

    def tag_names(self) -> set[str]:
        return {n for n, _ in self.tags}


@dataclass
class Period:
    """The nights between ``first`` and ``last`` (inclusive), recorded or only in the diary."""

    first: str
    last: str
    nights: list[Night]
    """Recorded nights, oldest first."""
    diary_only: list[Night]
    """Nights with a diary entry and no recording."""
    diary: list[dict[str, Any]]
    regions: list[tuple[str, str]]
    """Every (side, region) with a sensor on any night, in catalogue order."""
    recordings: list[dict[str, Any]]
    detail: "NightDetail | None" = None
    motor_units: list[dict[str, Any]] = field(default_factory=list)
    """Stored putative motor units of these nights (``History.motor_units``), matched in the report."""

    def calendar(self) -> list[str]:
        d0, d1 = date.fromisoformat(self.first), date.fromisoformat(self.last)
        return [(d0 + timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]

    def by_night(self) -> dict[str, Night]:
        return {n.night: n for n in self.nights + self.diary_only}


@dataclass
class NightDetail:
    """Everything about one night's events, for the hour-of-night raster and the foot map."""

    night: Night
    start: datetime
    length_s: float
    events: list[dict[str, Any]]
    """Events with ``t_s`` seconds since ``start`` (across the night's recordings)."""
    recordings: list[tuple[float, float]]
    """(offset_s, duration_s) of each recording since ``start``."""


def _wall(iso: str) -> datetime:
    """Wall-clock time of a stored start (an offset, where a file had one, is dropped so starts compare)."""
    return datetime.fromisoformat(iso).replace(tzinfo=None)


def _region_order(key: tuple[str, str]) -> tuple[int, int]:
    order = {code: i for i, code in enumerate(REGIONS)}
    return (0 if key[0] == "L" else 1, order.get(key[1], 99))


def load_period(history: Any, since: str | None = None, until: str | None = None,
                detail_night: str | None = None) -> Period:
    """Read recordings and diary between two nights ('YYYY-MM-DD', inclusive) into a Period."""
    from fascdetect.errors import InputError

    recordings = history.recordings(since, until)
    diary = history.diary(since, until)
    if not recordings:
        where = f" between {since or 'the start'} and {until or 'now'}" if since or until else ""
        raise InputError(f"no recorded nights in the history{where} ({history.path}); store some with: "
                         "fascdetect history add FILE...")
    nights: dict[str, Night] = {}
    regions: set[tuple[str, str]] = set()
    for rec in recordings:
        n = nights.setdefault(rec["night"], Night(rec["night"]))
        n.recording_ids.append(rec["id"])
        start = _wall(rec["start"])
        n.start = min(n.start, start) if n.start else start
        n.recorded_s += rec["duration_s"]
        channels = history.channels(rec["id"])
        emg = [c["rest_s"] for c in channels if c["modality"] == "EMG"] or [c["rest_s"] for c in channels]
        n.usable_s += median(emg) if emg else 0.0
        for r in history.regions(rec["id"]):
            key = (r["side"], r["region"])
            regions.add(key)
            rn = n.regions.setdefault(key, RegionNight())
            rn.twitches += r["twitches"]
            rn.rest_s += r["rest_s"]
            rn.bursts += r["bursts"]
            rn.cramps += r["cramps"]
        for m in history.movement(rec["id"]):
            n.movement_s[m["side"]] = n.movement_s.get(m["side"], 0.0) + m["total_s"]
        spans = []
        for e in history.events(rec["id"], ("cramp", "activity")):
            if e["kind"] == "activity":
                spans.append((e["onset_s"], e["onset_s"] + e["duration_s"]))
                continue
            n.cramps += 1
            n.cramp_total_s += e["duration_s"]
            n.cramp_longest_s = max(n.cramp_longest_s, e["duration_s"])
        n.activity_s += union_s(spans)
    diary_only: dict[str, Night] = {}
    for e in diary:
        n = nights.get(e["night"]) or diary_only.setdefault(e["night"], Night(e["night"]))
        n.tags.extend(tuple(t) for t in e["tags"])
        n.symptoms.extend(s for s in e["symptoms"] if s not in n.symptoms)
        if e["note"]:
            n.notes.append(e["note"])
    ordered = [nights[k] for k in sorted(nights)]
    all_nights = sorted(list(nights) + list(diary_only))
    period = Period(first=since or all_nights[0], last=until or all_nights[-1], nights=ordered,
                    diary_only=[diary_only[k] for k in sorted(diary_only)], diary=diary,
                    regions=sorted(regions, key=_region_order), recordings=recordings)
    chosen = detail_night or ordered[-1].night
    if chosen not in nights:
        raise InputError(f"no recording on the night of {chosen} in the report's range; recorded nights: "
                         f"{', '.join(sorted(nights)[-10:])}")
    period.detail = _detail(history, nights[chosen], recordings)
    period.motor_units = history.motor_units(since, until)
    return period


def _detail(history: Any, night: Night, recordings: list[dict[str, Any]]) -> NightDetail:
    recs = [r for r in recordings if r["id"] in night.recording_ids]
    start = min(_wall(r["start"]) for r in recs)
    events, spans = [], []
    for r in recs:
        offset = (_wall(r["start"]) - start).total_seconds()
        spans.append((offset, r["duration_s"]))
        for e in history.events(r["id"]):
            e["t_s"] = offset + e["onset_s"]
            events.append(e)
    length = max(o + d for o, d in spans)
    return NightDetail(night, start, length, sorted(events, key=lambda e: e["t_s"]), spans)


# --- statistics

def rolling_median(values: Sequence[float], window: int = ROLLING_NIGHTS, min_count: int = 3) -> list[float | None]:
    """Trailing median over the last ``window`` values (None until ``min_count`` are there)."""
    out: list[float | None] = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1): i + 1]
        out.append(median(chunk) if len(chunk) >= min_count else None)
    return out


def median_difference_interval(a: Sequence[float], b: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval for median(a) - median(b); fixed seed, so a report is reproducible."""
    import numpy as np

    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    da = np.median(rng.choice(xa, (BOOTSTRAP_RESAMPLES, len(xa))), axis=1)
    db = np.median(rng.choice(xb, (BOOTSTRAP_RESAMPLES, len(xb))), axis=1)
    lo, hi = np.percentile(da - db, [2.5, 97.5])
    return float(lo), float(hi)


@dataclass
class Trend:
    slope_per_week: float
    low: float
    high: float
    first_median: float
    last_median: float
    nights: int


def overall_trend(period: Period) -> Trend | None:
    """Theil–Sen slope of the overall nightly rate (per week) with its 95% interval; None with too few nights."""
    if len(period.nights) < TREND_MIN_NIGHTS:
        return None
    from scipy.stats import theilslopes

    d0 = date.fromisoformat(period.nights[0].night)
    x = [(date.fromisoformat(n.night) - d0).days / 7.0 for n in period.nights]
    y = [n.rate_per_min for n in period.nights]
    if len(set(x)) < 2:
        return None
    slope, _, low, high = theilslopes(y, x, alpha=0.95)
    k = min(ROLLING_NIGHTS, len(y) // 2) or 1
    return Trend(float(slope), float(low), float(high), median(y[:k]), median(y[-k:]), len(y))


# --- findings in plain words

@dataclass
class Finding:
    """A sentence for the reader, and the numbers it rests on (shown beside it)."""

    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


def region_name(key: tuple[str, str]) -> str:
    return describe(*key)


def short_name(key: tuple[str, str]) -> str:
    """'right little-toe abductor (ADM)': the catalogue's muscle in a form people say."""
    r = REGIONS[key[1]]
    return f"{SIDE_NAMES[key[0]]} {r.muscle} ({key[1]}, {r.where})"


def persistence(period: Period) -> list[Finding]:
    """Per region that twitched: on how many of the last RECENT_NIGHTS recorded nights, and since when."""
    recent = period.nights[-RECENT_NIGHTS:]
    out = []
    for key in period.regions:
        have = [n for n in recent if key in n.regions]
        hits = [n for n in have if n.regions[key].twitching]
        if not hits:
            continue
        run = current_run(period, key)
        of = (f"the last {len(have)} recorded nights" if len(period.nights) > RECENT_NIGHTS
              else f"{len(have)} recorded night{'s' if len(have) != 1 else ''}")
        text = (f"{short_name(key)}: twitching on {len(hits)} of {of} "
                f"(median {median(n.regions[key].rate_per_min for n in hits):.1f} per minute at rest on those nights)")
        if run and run[1] != run[0]:
            days = (date.fromisoformat(run[1]) - date.fromisoformat(run[0])).days + 1
            text += f"; this run of twitching nights spans {days} days, {run[0]} to {run[1]}"
        out.append(Finding(text + ".", {"region": f"{key[0]}-{key[1]}", "nights": len(hits), "of": len(have),
                                        "run": run}))
    out.sort(key=lambda f: -f.numbers["nights"])
    return out


def current_run(period: Period, key: tuple[str, str]) -> tuple[str, str] | None:
    """First and last night of the latest run of twitching nights for a region (see RUN_BREAK_*)."""
    run_start = run_end = None
    quiet = 0
    for n in period.nights:
        r = n.regions.get(key)
        if r is None:
            continue
        if r.twitching:
            gap = (date.fromisoformat(n.night) - date.fromisoformat(run_end)).days if run_end else 0
            if run_start is None or quiet >= RUN_BREAK_QUIET_NIGHTS or gap > RUN_BREAK_GAP_DAYS:
                run_start = n.night
            run_end = n.night
            quiet = 0
        else:
            quiet += 1
    if run_end is None:
        return None
    if quiet >= RUN_BREAK_QUIET_NIGHTS:
        return None  # the run has ended: the region has been quiet for a while
    return run_start, run_end


def weeks(period: Period) -> list[dict[str, Any]]:
    """Per week (Monday to Sunday): recorded nights, regions with twitching, and which sides."""
    by_week: dict[str, list[Night]] = defaultdict(list)
    for n in period.nights:
        d = date.fromisoformat(n.night)
        by_week[(d - timedelta(days=d.weekday())).isoformat()].append(n)
    out = []
    for monday in sorted(by_week):
        ns = by_week[monday]
        regions = sorted({k for n in ns for k in n.twitching_regions()}, key=_region_order)
        out.append({"week_of": monday, "nights": len(ns), "regions": regions,
                    "sides": sorted({side for side, _ in regions}),
                    "median_rate_per_min": median(n.rate_per_min for n in ns)})
    return out


def sides_sentence(period: Period) -> str:
    sides = sorted({side for n in period.nights for side, _ in n.twitching_regions()})
    if not sides:
        return "No region twitched on any recorded night (by the definition below)."
    if len(sides) == 1:
        return f"Twitching was on one side only: the {SIDE_NAMES[sides[0]]} foot."
    both = [n.night for n in period.nights if len({s for s, _ in n.twitching_regions()}) == 2]
    return (f"Twitching was on both feet, on the same night on {len(both)} of {len(period.nights)} recorded nights"
            + (f" (first {both[0]})." if both else "."))


@dataclass
class TagComparison:
    tag: str
    values: list[str]
    tagged: list[float]
    untagged: list[float]
    interval: tuple[float, float] | None

    @property
    def difference(self) -> float | None:
        if not self.tagged or not self.untagged:
            return None
        return median(self.tagged) - median(self.untagged)

    def sentence(self) -> str:
        label = self.tag + (f" ({', '.join(self.values)})" if self.values else "")
        if not self.tagged or not self.untagged:
            return f"{label}: every recorded night is {'tagged' if self.tagged else 'untagged'}; nothing to compare."
        d = self.difference
        text = (f"{label}: on {len(self.tagged)} tagged night(s) the median rate was {median(self.tagged):.2f} per "
                f"minute, against {median(self.untagged):.2f} on {len(self.untagged)} other night(s) "
                f"(difference {d:+.2f}")
        if not self.interval:
            return text + "). Too few nights on one side to say more. An association at most, not a cause."
        text += f", 95% interval {self.interval[0]:+.2f} to {self.interval[1]:+.2f})."
        if self.interval[0] > 0:
            text += " Tagged nights had more twitching in these records."
        elif self.interval[1] < 0:
            text += " Tagged nights had less twitching in these records."
        else:
            text += " No clear difference in these records."
        return text + " An association, not a cause."


def triggers(period: Period) -> list[TagComparison]:
    """For each diary tag: overall nightly rates on recorded nights with it against those without."""
    names = sorted({n for night in period.nights + period.diary_only for n, _ in night.tags})
    out = []
    for name in names:
        tagged = [n.rate_per_min for n in period.nights if name in n.tag_names()]
        untagged = [n.rate_per_min for n in period.nights if name not in n.tag_names()]
        values = sorted({v for n in period.nights + period.diary_only for t, v in n.tags if t == name and v})
        interval = median_difference_interval(tagged, untagged) if len(tagged) >= 2 and len(untagged) >= 2 else None
        out.append(TagComparison(name, values, tagged, untagged, interval))
    return out


@dataclass
class Sign:
    """One point for the 'worth showing a clinician' box."""

    key: str
    title: str
    detail: str
    guidance: str


GUIDANCE = "Talk to a clinician (your doctor or a neurologist) about this, and bring this report."


def clinician_signs(period: Period) -> list[Sign]:
    """The points guidance suggests raising, each only when it holds in these nights."""
    signs: list[Sign] = []
    reported: dict[str, list[str]] = defaultdict(list)
    for n in period.nights + period.diary_only:
        for s in n.symptoms:
            reported[s].append(n.night)
    words = {"weakness": "weakness", "numbness": "numbness or tingling", "pain": "pain",
             "wasting": "visible wasting (a muscle getting thinner)"}
    for s in ("weakness", "wasting", "numbness", "pain"):
        if reported[s]:
            nights = sorted(set(reported[s]))
            signs.append(Sign(f"symptom-{s}", f"You noted {words[s]}",
                              f"in your diary on {len(nights)} night(s): {', '.join(nights[-8:])}.", GUIDANCE))
    for key in period.regions:
        run = current_run(period, key)
        if not run:
            continue
        days = (date.fromisoformat(run[1]) - date.fromisoformat(run[0])).days + 1
        if days >= PERSIST_DAYS:
            inside = [n for n in period.nights if run[0] <= n.night <= run[1] and key in n.regions]
            hits = sum(n.regions[key].twitching for n in inside)
            if hits < PERSIST_MIN_FRACTION * len(inside):
                continue
            signs.append(Sign(f"persist-{key[0]}-{key[1]}", f"Twitching that has lasted {days // 7} weeks or more",
                              f"{short_name(key)}: twitching on {hits} of {len(inside)} recorded nights from "
                              f"{run[0]} to {run[1]} ({days} days).", GUIDANCE))
    signs.extend(_spread(period))
    trend = overall_trend(period)
    if (trend and trend.nights >= RISING_MIN_NIGHTS and trend.low > 0
            and trend.last_median >= RISING_MIN_RATIO * trend.first_median and trend.last_median > 0):
        signs.append(Sign("rising", "Rising rates",
                          f"The overall nightly rate went from a median of {trend.first_median:.2f} per minute in "
                          f"the first nights to {trend.last_median:.2f} in the last (trend {trend.slope_per_week:+.2f} "
                          f"per minute per week, 95% interval {trend.low:+.2f} to {trend.high:+.2f}).", GUIDANCE))
    return signs


def _spread(period: Period) -> list[Sign]:
    k = min(BASELINE_NIGHTS, len(period.nights) // 2)
    if k < MIN_BASELINE_NIGHTS:
        return []
    base, later = period.nights[:k], period.nights[k:]
    base_regions = {r for n in base for r in n.twitching_regions()}
    base_sides = {s for s, _ in base_regions}
    out = []
    new = []
    for key in period.regions:
        if key in base_regions or not any(key in n.regions for n in base):
            continue  # twitched already at the start, or had no sensor then: not a change we can see
        hits = [n.night for n in later if key in n.regions and n.regions[key].twitching]
        if len(hits) >= SPREAD_MIN_NIGHTS:
            new.append(f"{short_name(key)} from {hits[0]} ({len(hits)} nights)")
    if new:
        out.append(Sign("spread-regions", "Twitching in new regions",
                        f"Compared with the first {k} recorded nights ({base[0].night} to {base[-1].night}): "
                        + "; ".join(new) + ".", GUIDANCE))
    later_sides = {s for n in later for s, _ in n.twitching_regions()
                   if sum(1 for m in later for s2, _ in m.twitching_regions() if s2 == s) >= SPREAD_MIN_NIGHTS}
    if len(base_sides) == 1 and len(later_sides) == 2:
        only = next(iter(base_sides))
        out.append(Sign("spread-sides", "Twitching on both sides",
                        f"In the first {k} recorded nights only the {SIDE_NAMES[only]} foot twitched; later nights "
                        f"show twitching on both feet.", GUIDANCE))
    return out
