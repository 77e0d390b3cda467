"""From per-lane activity to classified events, one foot at a time.

Rules (all parameters in DetectorConfig):

1. Activity touching clipped or gap-filled samples, shorter than
   ``min_event_s``, or a brief EMG transient that is one-sided
   (``pop_max_balance``), above ``artifact_peak_uv`` (an electrode pop), or
   whose unfiltered low band swings by more than ``artifact_swing_ratio`` ×
   its peak (a cable or contact artifact) is dropped.
2. **Movement**: low-band acceleration above ``movement_acc_mg``, or
   overlapping activity spans (a channel's discharges with gaps up to
   ``cramp_merge_gap_s``, filled at least ``movement_min_active``) of at
   least ``movement_min_s`` on
   ``movement_min_regions`` regions of the foot (all of them when the foot
   has fewer), each at least ``crosstalk_ratio`` of the largest. Everything
   within ``movement_margin_s`` of a movement belongs to it and is not counted.
3. **Ringing**: activity within ``ringing_window_s`` after a discharge on
   its channel that is smaller than ``ringing_ratio`` of it is the filters'
   ringing (mains band-stop, band-pass), not a new discharge; after a
   discharge on another channel of the foot, smaller than ``ringing_ratio``
   × ``crosstalk_ratio`` of it (the ringing of its copy there).
   **Crosstalk**: activity on channels of one foot peaking within
   ``crosstalk_window_s`` is one discharge, kept on the channel where it is
   largest (volume conduction is instantaneous, so peaks coincide even where
   a small copy crosses the threshold later); activity that starts during a
   larger activity (by 1/``crosstalk_ratio``) on another channel of the foot
   is that activity's echo.
4. Per channel: discharges separated by at most ``multiplet_gap_s`` form a
   cluster; clusters separated by at most ``cramp_merge_gap_s`` that span at
   least ``cramp_min_s`` are one **cramp** when their discharges fill at
   least ``cramp_min_fill`` of the span, else **activity**.
5. **Rest state** (twitches are counted only in a relaxed muscle). A
   cluster is *active*, becoming an ``activity`` event and never a twitch,
   when it is part of a fairly regular train (``activity_*``: a recruited
   unit at 5-25 Hz), when its local background (the CFAR reference around
   it, see the segmenter) exceeds the channel's rest floor by
   ``raised_background_factor``, or when low-level potentials crowd around
   it (``activity_density_*``). Candidates within ``activity_margin_s`` of an
   active stretch belong to it. A remaining cluster whose peak is below
   ``twitch_min_local_snr`` × its local background (``spike_min_local_snr``
   for a spike briefer than ``spike_max_s``) is background, not a twitch. The rest is a **twitch** when every discharge is at most
   ``twitch_max_s`` long and there are at most ``multiplet_max`` of them
   (flagged ``doublet``/``multiplet``), else a **burst**. Repeats smaller
   than ``repeat_min_ratio`` of a cluster's largest discharge are ringing.
6. **Gait**: one muscle bursting at stride intervals (``gait_period_s``,
   ``gait_min_strides``) while another muscle of the foot bursts too is a
   ``movement`` flagged ``gait``, never a cramp. A muscle burst links its
   episode a whole stride ahead (``reach_s``), so a walk is one episode.
7. Accelerometers: where a region has EMG, an accelerometer response
   within ``acc_confirm_window_s`` of an EMG twitch sets ``acc_confirmed``;
   where it has none, accelerometer activity is classified by rules 3-5 itself
   (without the local-background tests, which are tuned on EMG only).

Activity is grouped into *episodes* separated by quiet gaps longer than any
rule looks across; an episode is classified once nothing later can join it,
which keeps the streaming result identical to the whole-file result.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from dataclasses import replace
from typing import NamedTuple

from fascdetect.config import DetectorConfig
from fascdetect.model import Event
from fascdetect.spans import union_s


# Times are seconds derived from sample indices, so an interval can land
# exactly on a rule's limit (bins are 1 ms); comparisons allow for the float
# rounding that depends on where the recording started.
EPS_S = 1e-9


class Activity(NamedTuple):
    """A segment in seconds with its lane's identity. ``source``: emg, acc (twitch band) or motion.

    A named tuple, not a dataclass: an active hour makes ~70,000 and copies many of them, which costs a
    fifth of a frozen dataclass's time.
    """

    source: str
    side: str
    region: str
    channel: str
    unit: str
    onset_s: float
    end_s: float
    peak: float
    mean: float
    bad: bool
    peak_s: float
    high: float
    low: float
    """Largest and smallest filtered sample."""
    floor: float = 0.0
    """The lane's running rest floor at the onset (envelope unit)."""
    local: float = 0.0
    """Its local background: median envelope of the reference window around it (envelope unit)."""
    swing: float = 0.0
    """How far the unfiltered signal's low band moves around it (EMG; 0 where not measured)."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.onset_s

    def stands_out(self, config: DetectorConfig) -> bool:
        """Large enough over its local background to be a twitch; a brief spike must be larger still.

        Distant units' potentials in real rest EMG are sharp spikes (1.5-4.5 ms) a few times the
        background; a fasciculation potential is broader, or much larger.
        """
        snr = config.spike_min_local_snr if self.duration_s < config.spike_max_s - EPS_S else config.twitch_min_local_snr
        return self.peak >= snr * self.local

    @property
    def balance(self) -> float:
        """Smaller over larger phase: a motor-unit potential has phases of both signs (>= ~0.5);
        an electrode pop, a step through the high-pass, is one-sided (~0.25)."""
        small, large = sorted((max(self.high, 0.0), max(-self.low, 0.0)))
        return small / large if large > 0 else 1.0


def link_gap_s(config: DetectorConfig) -> float:
    """Longest quiet gap any rule looks across: episodes are separated by more."""
    # The rest-state rules (activity margin, crowding) look only within an episode: widening episodes
    # to their 1 s reach costs twitches at high fasciculation rates (post-exercise recall 0.96 -> 0.93).
    return max(config.cramp_merge_gap_s, config.movement_margin_s, config.acc_confirm_window_s[1],
               config.multiplet_gap_s) + 1e-3


def reach_s(a: Activity, gap_s: float, config: DetectorConfig) -> float:
    """How far after its end an activity links to the next: a muscle burst looks a whole stride ahead (gait)."""
    if a.source == "emg" and a.duration_s >= config.gait_min_burst_s - EPS_S:
        return max(gap_s, config.gait_period_s[1])
    return gap_s


def split_episodes(acts: list[Activity], gap_s: float, config: DetectorConfig) -> list[list[Activity]]:
    """Activities in onset order, cut wherever a quiet gap exceeds every preceding activity's reach."""
    return [episode for episode, _ in reaching_episodes(acts, gap_s, config)]


def reaching_episodes(acts: list[Activity], gap_s: float, config: DetectorConfig
                      ) -> list[tuple[list[Activity], float]]:
    """``split_episodes``, each episode with how far it reaches (the latest end + reach of its activities)."""
    out: list[tuple[list[Activity], float]] = []
    episode: list[Activity] = []
    end = -float("inf")
    for a in sorted(acts, key=_ONSET_ORDER):
        if episode and a.onset_s > end + EPS_S:
            out.append((episode, end))
            episode, end = [], -float("inf")
        episode.append(a)
        end = max(end, a.end_s + reach_s(a, gap_s, config))
    if episode:
        out.append((episode, end))
    return out


_ONSET_ORDER = operator.attrgetter("onset_s", "channel")


def classify_episode(acts: list[Activity], emg_regions: frozenset[str], config: DetectorConfig) -> list[Event]:
    """Events of one foot's episode. ``emg_regions``: the foot's regions that have EMG channels."""
    acts = _merge_discharges(acts, config.discharge_gap_s)
    acts = [a for a in acts if not a.bad and (a.source == "motion" or a.duration_s >= config.min_event_s - EPS_S)]
    acts = [a for a in acts if not _is_pop(a, config)]
    movements = _movements(acts, emg_regions, config)
    events = [_movement_event(group, gait) for group, gait in movements]
    spans = [(min(a.onset_s for a in g) - config.movement_margin_s, max(a.end_s for a in g) + config.movement_margin_s)
             for g, _ in movements]
    acts = [a for a in acts if a.source != "motion"
            and not any(a.onset_s < hi - EPS_S and a.end_s > lo + EPS_S for lo, hi in spans)]

    acts = _drop_ringing(acts, config)
    emg_acts = [a for a in acts if a.source == "emg"]
    emg = _drop_crosstalk(emg_acts, config.crosstalk_window_s, config)
    emg_events = _co_contracted([e for ch in _by_channel(emg) for e in _classify_channel(ch, config, config.twitch_max_s, True)],
                                emg_acts, config)
    acc = [a for a in acts if a.source == "acc"]
    emg_events = [_confirm(e, acc, config) for e in emg_events]
    acc_only = _drop_crosstalk([a for a in acc if a.region not in emg_regions], config.acc_crosstalk_window_s, config)
    acc_events = [e for ch in _by_channel(acc_only)
                  for e in _classify_channel(ch, config, config.acc_twitch_max_s, False)]
    return sorted(events + emg_events + acc_events, key=lambda e: (e.onset_s, e.channel))


def _co_contracted(events: list[Event], emg: list[Activity], config: DetectorConfig) -> list[Event]:
    """A cramp is focal: sustained activity while another muscle of the foot is active for at least half of it,
    at a comparable level (not its echo), is a voluntary co-contraction, ``activity``.

    Another muscle is active where its events are sustained, and also where its activity before the crosstalk
    rules (``emg``) is: where two muscles' interference patterns run together, many of the smaller one's
    discharges peak with a larger one of the other and are dropped as its copy, which would leave the smaller
    muscle looking quiet."""
    cramps = [e for e in events if e.kind == "cramp"]
    if not cramps:
        return events
    # Sustained as a cramp must be (filled at least cramp_min_fill): a string of twitches is not a contraction.
    spans = [span for ch in _by_channel(emg) for span, fill in map(_span, _chain([[a] for a in ch], config.cramp_merge_gap_s))
             if fill >= config.cramp_min_fill - EPS_S]
    sustained = spans + [e for e in events if e.kind in ("cramp", "activity", "burst")]
    out = []
    for e in events:
        if e.kind == "cramp":
            # Each other muscle's sustained time within the cramp, overlaps counted once.
            beside = [(max(o.onset_s, e.onset_s), min(o.end_s, e.end_s)) for o in sustained
                      if o.channel != e.channel and o.peak >= config.crosstalk_ratio * e.peak]
            if union_s([(a, b) for a, b in beside if b > a]) >= 0.5 * e.duration_s:
                e = replace(e, kind="activity", extra=())
        out.append(e)
    return out


def _is_pop(a: Activity, config: DetectorConfig) -> bool:
    """A brief EMG transient that is one-sided (a step through the high-pass), implausibly large, or
    mostly low band (a cable tug or contact change: what leaks into the EMG band is only its edge)."""
    return a.source == "emg" and a.duration_s <= config.twitch_max_s + EPS_S and (
        a.peak > config.artifact_peak_uv or a.balance < config.pop_max_balance
        or a.swing > config.artifact_swing_ratio * a.peak)


def _merge_discharges(acts: list[Activity], gap_s: float) -> list[Activity]:
    """Join runs of one lane split by a dip shorter than ``gap_s`` (one potential's phases)."""
    out: list[_Merged | Activity] = []
    last: dict[tuple[str, str], int] = {}
    for a in sorted(acts, key=lambda a: a.onset_s):
        key = (a.source, a.channel)
        i = last.get(key)
        if i is not None and a.onset_s - out[i].end_s < gap_s - EPS_S:
            b = out[i]
            if not isinstance(b, _Merged):
                b = out[i] = _Merged(b)
            b.join(a)
        else:
            last[key] = len(out)
            out.append(a)
    return [a.activity() if isinstance(a, _Merged) else a for a in out]


class _Merged:
    """An activity being joined with the next runs of its lane (one ``Activity`` made at the end, not one per join)."""

    def __init__(self, first: Activity) -> None:
        self.first = first
        self.end_s, self.peak, self.peak_s, self.bad = first.end_s, first.peak, first.peak_s, first.bad
        self.high, self.low, self.swing, self.mean = first.high, first.low, first.swing, first.mean

    def join(self, a: Activity) -> None:
        n_a, n_b = a.duration_s, self.end_s - self.first.onset_s
        if a.peak > self.peak:
            self.peak, self.peak_s = a.peak, a.peak_s
        self.end_s = max(a.end_s, self.end_s)
        self.bad = a.bad or self.bad
        self.high, self.low, self.swing = max(a.high, self.high), min(a.low, self.low), max(a.swing, self.swing)
        self.mean = (a.mean * n_a + self.mean * n_b) / max(n_a + n_b, 1e-12)

    def activity(self) -> Activity:
        return self.first._replace(end_s=self.end_s, peak=self.peak, peak_s=self.peak_s, bad=self.bad,
                       high=self.high, low=self.low, swing=self.swing, mean=self.mean)


def _movements(acts: list[Activity], emg_regions: frozenset[str], config: DetectorConfig
               ) -> list[tuple[list[Activity], bool]]:
    """Groups of activity that together make a movement, each with whether it is gait."""
    need = min(config.movement_min_regions, len(emg_regions))
    emg = _by_channel([a for a in acts if a.source == "emg"])
    # A muscle's activity during a movement comes and goes; judge its whole span.
    # Sustained means mostly active: a string of separate twitches is not.
    chains = [chain for ch in emg for chain in _chain([[a] for a in ch], config.cramp_merge_gap_s)]
    long = [span for span, active in map(_span, chains)
            if span.duration_s >= config.movement_min_s - EPS_S and active >= config.movement_min_active]
    groups = [([a], False) for a in acts if a.source == "motion"]
    if need >= 2:
        for comp in _overlap_components(long):
            top = max(a.peak for a in comp)
            regions = {a.region for a in comp if a.peak >= config.crosstalk_ratio * top}
            if len(regions) >= need:
                groups.append((comp, False))
    groups.extend((g, True) for g in _gait(emg, config))
    merged: list[tuple[list[Activity], bool]] = []
    for g, gait in sorted(groups, key=lambda g: min(a.onset_s for a in g[0])):
        lo = min(a.onset_s for a in g)
        if merged and lo <= max(a.end_s for a in merged[-1][0]) + config.movement_margin_s + EPS_S:
            merged[-1] = (merged[-1][0] + g, merged[-1][1] or gait)
        else:
            merged.append((list(g), gait))
    return merged


def _gait(channels: list[list[Activity]], config: DetectorConfig) -> list[list[Activity]]:
    """Stretches of rhythmic bursting: one muscle bursts at stride intervals while another muscle of the leg bursts
    too, mostly at other moments (``gait_max_overlap``).

    Walking alternates tibialis anterior (swing) with the calf and peroneals
    (stance) at 0.4-2.5 s strides; a cramp is one muscle, sustained, without
    that rhythm. Returns the bursts of every muscle within each such stretch.
    """
    bursts = {ch[0].channel: [b for b in map(lambda c: _span(c)[0], _chain([[a] for a in ch], config.gait_burst_gap_s))
                              if b.duration_s >= config.gait_min_burst_s - EPS_S] for ch in channels}
    lo_s, hi_s = config.gait_period_s
    stretches = []
    for found in bursts.values():
        run = found[:1]
        for prev, b in zip(found, found[1:]):
            if lo_s - EPS_S <= b.onset_s - prev.onset_s <= hi_s + EPS_S:
                run.append(b)
                continue
            stretches.append(run)
            run = [b]
        stretches.append(run)
    out = []
    for run in (r for r in stretches if len(r) >= config.gait_min_strides):
        lo, hi = run[0].onset_s, max(b.end_s for b in run)
        inside = [b for ch in bursts.values() for b in ch if b.onset_s < hi + EPS_S and b.end_s > lo - EPS_S]
        # Muscles that walk burst in earnest: a channel whose bursts are all small beside the stretch's
        # largest only carries a copy of it (a cramp's crosstalk), and two such copies may alternate by chance.
        strong = config.crosstalk_ratio * max(b.peak for b in inside)
        others: dict[str, list[Activity]] = {}
        for b in inside:
            if b.channel != run[0].channel:
                others.setdefault(b.channel, []).append(b)
        if max(b.peak for b in run) >= strong and any(
                max(b.peak for b in theirs) >= strong and _alternate(run, theirs, config.gait_max_overlap)
                for theirs in others.values()):
            out.append(inside)
    return out


def _alternate(mine: list[Activity], theirs: list[Activity], max_overlap: float) -> bool:
    """Two muscles' bursts mostly apart in time, as in walking (not one burst pattern seen twice: crosstalk)."""
    shared = sum(_shared_s(a, b) for a in mine for b in theirs)
    briefer = min(sum(a.duration_s for a in mine), sum(b.duration_s for b in theirs))
    return shared <= max_overlap * briefer + EPS_S


def _shared_s(a: Activity | Event, b: Activity | Event) -> float:
    """Seconds during which both are going on."""
    return max(0.0, min(a.end_s, b.end_s) - max(a.onset_s, b.onset_s))


def _span(acts: list[Activity]) -> tuple[Activity, float]:
    """One activity covering a run of a channel's discharges, and the fraction of it they fill."""
    top = max(acts, key=lambda a: a.peak)
    span = top._replace(onset_s=acts[0].onset_s, end_s=max(a.end_s for a in acts))
    return span, sum(a.duration_s for a in acts) / max(span.duration_s, EPS_S)


def _overlap_components(acts: list[Activity]) -> list[list[Activity]]:
    comps: list[list[Activity]] = []
    end = -float("inf")
    for a in sorted(acts, key=lambda a: a.onset_s):
        if comps and a.onset_s < end - EPS_S:
            comps[-1].append(a)
            end = max(end, a.end_s)
        else:
            comps.append([a])
            end = a.end_s
    return comps


def _movement_event(group: list[Activity], gait: bool) -> Event:
    top = max(group, key=lambda a: (a.source == "emg", a.peak))
    onset = min(a.onset_s for a in group)
    return Event("movement", onset, max(a.end_s for a in group) - onset, top.side, "*", top.channel,
                 top.peak, top.unit, frozenset({"gait"}) if gait else frozenset())


def _drop_ringing(acts: list[Activity], config: DetectorConfig) -> list[Activity]:
    """Drop activity that follows a much larger discharge on the foot within the ringing window.

    The same channel rings through its own filters; a neighbour rings through
    its filters after the volume-conducted copy of that discharge, which is at
    most ``crosstalk_ratio`` of it, so there the limit is that much lower. (A
    foot-wide ``ringing_ratio`` dropped real twitches a few tenths of a second
    after a large one on another muscle: at high rates, 2-3 % of them.)
    """
    kept: list[Activity] = []
    recent: list[Activity] = []
    beside = config.ringing_ratio * config.crosstalk_ratio
    for a in sorted(acts, key=lambda a: a.onset_s):
        recent = [b for b in recent if a.onset_s - b.end_s <= config.ringing_window_s + EPS_S]
        if any(b.source == a.source and a.peak < (config.ringing_ratio if b.channel == a.channel else beside) * b.peak
               for b in recent):
            continue
        kept.append(a)
        recent.append(a)
    return kept


def _drop_crosstalk(acts: list[Activity], window_s: float, config: DetectorConfig) -> list[Activity]:
    acts = sorted(acts, key=lambda a: a.peak_s)
    kept: list[Activity] = []
    i = 0
    while i < len(acts):
        j = i + 1
        while j < len(acts) and acts[j].peak_s - acts[i].peak_s <= window_s + EPS_S:
            j += 1
        group = acts[i:j]
        # Same channel within the window is one discharge anyway; across channels keep the largest,
        # unless another channel sees it nearly as large: a brief potential that is not focal is the
        # heart (ECG on calf and shin channels) or the cable, not one muscle's motor unit.
        best = max(group, key=lambda a: a.peak)
        if any(a.channel != best.channel and a.peak >= config.nonfocal_ratio * best.peak
               and a.duration_s <= config.twitch_max_s + EPS_S for a in group):
            i = j
            continue
        kept.extend(a for a in group if a is best or a.channel == best.channel)
        i = j
    by_size = sorted(kept, key=lambda b: -b.peak)
    return [a for a in kept if not _is_echo(a, by_size, config)]


def _is_echo(a: Activity, by_size: list[Activity], config: DetectorConfig) -> bool:
    """``a`` starts during (±crosstalk window) an activity on another channel 1/ratio its size.

    ``by_size`` is sorted largest first, so only the few much larger activities are looked at.
    """
    w = config.crosstalk_window_s
    for b in by_size:
        if not a.peak < config.crosstalk_ratio * b.peak:
            return False
        if b.channel != a.channel and b.onset_s - w - EPS_S <= a.onset_s <= b.end_s + w + EPS_S:
            return True
    return False


def _by_channel(acts: list[Activity]) -> list[list[Activity]]:
    chans: dict[tuple[str, str], list[Activity]] = {}
    for a in sorted(acts, key=lambda a: a.onset_s):
        chans.setdefault((a.source, a.channel), []).append(a)
    return list(chans.values())


def _chain(items: list[list[Activity]], gap_s: float) -> list[list[Activity]]:
    """Join consecutive groups (in onset order) separated by at most ``gap_s``."""
    out: list[list[Activity]] = []
    end = -float("inf")
    for item in items:
        if out and item[0].onset_s - end <= gap_s + EPS_S:
            out[-1].extend(item)
        else:
            out.append(list(item))
            end = -float("inf")
        end = max(end, max(a.end_s for a in item))
    return out


def _classify_channel(acts: list[Activity], config: DetectorConfig, twitch_max_s: float, emg: bool) -> list[Event]:
    """One channel's events: cramps, voluntary/tonic activity, then twitches and bursts where it is at rest.

    For EMG a twitch candidate must also stand out from its local background
    (``twitch_min_local_snr``); potentials that do not are low-level activity.
    A candidate is *active*, not counted, when its background is raised, when
    it is part of a regular train, or when low-level potentials crowd around it.
    """
    clusters = _chain([[a] for a in acts], config.multiplet_gap_s)
    out: list[Event] = []
    rest: list[list[Activity]] = []
    for span in _chain(clusters, config.cramp_merge_gap_s):
        onset, end = span[0].onset_s, max(a.end_s for a in span)
        if end - onset >= config.cramp_min_s - EPS_S:
            active = sum(a.duration_s for a in span)
            if active >= config.cramp_min_fill * (end - onset) - EPS_S:
                out.append(_event("cramp", span, extra=(("mean", sum(a.mean * a.duration_s for a in span) / active),)))
            else:
                out.append(_event("activity", span))
            continue
        rest.append(span)
    # Low-level potentials, and stretches too long for a twitch, are the background of a muscle that is not at rest.
    low = [a for a in acts if emg and (not a.stands_out(config) or a.duration_s > twitch_max_s + EPS_S)]
    low_onsets = sorted(a.onset_s for a in low)
    low_ids = {id(a) for a in low}
    active: list[Activity] = [a for span in rest for t in _chain([[a] for a in span], config.activity_gap_s)
                              if _is_train(t, config) for a in t]
    candidates: list[list[Activity]] = []
    for span in rest:
        for cluster in _chain([[a] for a in span], config.multiplet_gap_s):
            lead = max(cluster, key=lambda a: a.peak)
            if emg and lead.local > config.raised_background_factor * lead.floor:
                # The background is raised over the reference windows it was measured on.
                ref = config.local_reference_s + config.local_guard_s
                active.extend(a._replace(onset_s=a.onset_s - ref, end_s=a.end_s + ref) for a in cluster)
            elif emg and _crowded(lead, low_onsets, id(lead) in low_ids, config):
                active.extend(cluster)
            elif not emg or lead.stands_out(config):
                candidates.append(cluster)
    margin = config.activity_margin_s
    busy = sorted((a.onset_s - margin + EPS_S, a.end_s + margin - EPS_S) for a in active)
    starts = [lo for lo, _ in busy]
    reach = list(itertools.accumulate((hi for _, hi in busy), max))
    for cluster in candidates:
        # Overlaps a busy interval: one that starts before the cluster ends and ends after it starts.
        k = bisect.bisect_left(starts, max(a.end_s for a in cluster))
        if k and cluster[0].onset_s < reach[k - 1]:
            continue
        top = max(a.peak for a in cluster)
        cluster = [a for a in cluster if a.peak >= config.repeat_min_ratio * top]
        brief = all(a.duration_s <= twitch_max_s + EPS_S for a in cluster)
        if brief and len(cluster) <= config.multiplet_max:
            out.append(_event("twitch", cluster, _repeat_flags(len(cluster))))
        else:
            out.append(_event("burst", cluster))
    grouped = _chain([[a] for a in sorted(set(active), key=lambda a: a.onset_s)], config.activity_margin_s)
    out.extend(_event("activity", group) for group in grouped)
    return sorted(out, key=lambda e: e.onset_s)


def _crowded(a: Activity, low_onsets: list[float], is_low: bool, config: DetectorConfig) -> bool:
    """Low-level potentials (``low_onsets``, sorted) crowd around ``a``: weak voluntary activity recruits small units."""
    w = config.activity_density_window_s + EPS_S
    near = bisect.bisect_right(low_onsets, a.onset_s + w) - bisect.bisect_left(low_onsets, a.onset_s - w) - is_low
    return near >= config.activity_density_min


def _is_train(acts: list[Activity], config: DetectorConfig) -> bool:
    """A motor-unit train of voluntary activity: enough discharges, long enough, at a fairly regular interval.

    Recruited units fire at 5-25 Hz with an interval CV of ~0.1-0.3; fasciculations
    are close to Poisson (CV ~1), so even a flurry of them does not look like this.
    """
    if len(acts) < config.activity_min_discharges:
        return False
    if max(a.end_s for a in acts) - acts[0].onset_s < config.activity_min_s - EPS_S:
        return False
    peaks = sorted(a.peak_s for a in acts)
    intervals = [b - a for a, b in zip(peaks, peaks[1:])]
    mean = sum(intervals) / len(intervals)
    sd = (sum((i - mean) ** 2 for i in intervals) / len(intervals)) ** 0.5
    return sd <= config.activity_max_cv * mean


def _repeat_flags(discharges: int) -> frozenset[str]:
    if discharges == 2:
        return frozenset({"doublet"})
    return frozenset({"multiplet"}) if discharges > 2 else frozenset()


def _event(kind: str, acts: list[Activity], flags: frozenset[str] = frozenset(),
           extra: tuple[tuple[str, float], ...] = ()) -> Event:
    a0 = acts[0]
    end = max(a.end_s for a in acts)
    return Event(kind, a0.onset_s, end - a0.onset_s, a0.side, a0.region, a0.channel,
                 max(a.peak for a in acts), a0.unit, flags, extra)


def _confirm(event: Event, acc: list[Activity], config: DetectorConfig) -> Event:
    if event.kind != "twitch":
        return event
    lo, hi = config.acc_confirm_window_s
    if any(a.region == event.region and lo - EPS_S <= a.onset_s - event.onset_s <= hi + EPS_S for a in acc):
        return replace(event, flags=event.flags | {"acc_confirmed"})
    return event
