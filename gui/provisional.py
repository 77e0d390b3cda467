"""Twitches on screen before their episode is final: shown, then confirmed or withdrawn.

The pipeline makes an event final only once nothing later can join its
episode (about half a second after a quiet gap), which is too late for a
live display. The worker therefore hands the window, with each block, the
pipeline's own classification of the still-open episodes
(``Pipeline.provisional_events``) together with the final events of the same
step, as one snapshot: an episode is then always in exactly one of the two.
``TwitchBook`` follows each twitch from its first sight to its end:

- provisional → confirmed when the same twitch (channel and onset) is final;
- provisional → withdrawn when a later snapshot no longer has it and no
  final twitch matches (its episode became movement, a cramp, crosstalk or
  ringing); a withdrawn twitch fades out over ``FADE_S``.

Counts never see provisional twitches: the Tally takes final events only,
so the numbers stay exactly those of offline analysis.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from fascdetect.model import Event

FADE_S = 1.5
"""A withdrawn twitch fades out over this long (wall time), so it goes calmly, not in a blink."""

TwitchKey = tuple[str, str, float]


def twitch_key(e: Event) -> TwitchKey:
    """What stays the same between a twitch's provisional and final forms: its channel and onset.

    Activities are fixed once their discharge has closed, so a twitch that
    stays a twitch keeps its onset to the sample; rounding only absorbs float noise.
    """
    return e.side, e.channel, round(e.onset_s, 4)


@dataclass(frozen=True)
class Withdrawn:
    event: Event
    at_wall_s: float

    def opacity(self, now_wall_s: float) -> float:
        """1 when withdrawn, falling linearly to 0 after FADE_S."""
        return max(0.0, 1.0 - (now_wall_s - self.at_wall_s) / FADE_S)


class TwitchBook:
    """The twitches shown and their state; ``update`` once per frame with the worker's snapshot."""

    def __init__(self) -> None:
        self.provisional: dict[TwitchKey, Event] = {}
        self.withdrawn: dict[TwitchKey, Withdrawn] = {}
        self.confirmed = 0
        self.withdrawn_total = 0
        self.shown_total = 0
        self.fresh_final_total = 0
        """Twitches first seen when already final (never shown provisionally)."""
        self.changed = False
        self.version = 0
        """Counts the updates that changed what is marked (a view compares it with the one it drew)."""
        self.fresh_final = 0
        """How many of the last ``update``'s fresh twitches were final when first seen (the first ones returned)."""
        """The last ``update`` changed what is marked (a twitch appeared, was confirmed or withdrawn)."""

    def update(self, provisional: list[Event], final: list[Event], now_wall_s: float) -> list[Event]:
        """Take one snapshot (open episodes classified as they stand, and the final events made since
        the last snapshot); returns the twitches that appear on screen now for the first time."""
        fresh: list[Event] = []
        self.fresh_final = 0
        before = (len(self.provisional), len(self.withdrawn), self.confirmed, self.withdrawn_total)
        for e in final:
            if e.kind != "twitch":
                continue
            key = twitch_key(e)
            if self.provisional.pop(key, None) is not None:
                self.confirmed += 1
            else:  # never seen open (the stream's end, or a slow frame), or back after a withdrawal
                self.withdrawn.pop(key, None)
                fresh.append(e)
                self.fresh_final += 1
                self.fresh_final_total += 1
        current = {twitch_key(e): e for e in provisional if e.kind == "twitch"}
        for key in [k for k in self.provisional if k not in current]:
            self.withdrawn[key] = Withdrawn(self.provisional.pop(key), now_wall_s)
            self.withdrawn_total += 1
        for key, e in current.items():
            if key not in self.provisional:
                self.withdrawn.pop(key, None)
                fresh.append(e)
            self.provisional[key] = e  # a doublet may have grown: keep the latest form
        for key in [k for k, w in self.withdrawn.items() if w.opacity(now_wall_s) <= 0]:
            del self.withdrawn[key]
        self.shown_total += len(fresh)
        self.changed = bool(fresh) or before != (len(self.provisional), len(self.withdrawn), self.confirmed,
                                                 self.withdrawn_total)
        self.version += self.changed
        return fresh

    def clear(self) -> None:
        self.provisional.clear()
        self.withdrawn.clear()

    @property
    def fading(self) -> bool:
        return bool(self.withdrawn)


class LatencyMeter:
    """Twitch-to-screen latency: from the wall time its last sample arrived to the repaint that shows it.

    Every twitch of a session is timed, so the figures are kept as packed arrays (17 bytes a twitch;
    Python lists of floats and bools took 72).
    """

    def __init__(self) -> None:
        self.waiting: list[tuple[float, float, bool]] = []
        """(arrival, handed to the window (monotonic), shown while provisional) of twitches not painted yet."""
        self.latencies_s = array("d")
        self.display_s = array("d")
        """Per latency, the part after the worker handed the twitch over (frame wait and painting)."""
        self.provisional = array("b")
        """Per latency: the twitch was first shown as provisional (else only when final)."""

    def taken(self, arrival_wall_s: float | None, published_wall_s: float | None = None,
              provisional: bool = True) -> None:
        if arrival_wall_s is not None:
            self.waiting.append((arrival_wall_s, arrival_wall_s if published_wall_s is None else published_wall_s,
                                 provisional))

    def painted(self, now_wall_s: float) -> None:
        if self.waiting:
            self.latencies_s.extend(now_wall_s - t for t, _, _ in self.waiting)
            self.display_s.extend(now_wall_s - t for _, t, _ in self.waiting)
            self.provisional.extend(p for _, _, p in self.waiting)
            self.waiting.clear()

    def line(self) -> str:
        """The one line ``fascdetect monitor --duration`` prints."""
        if not self.latencies_s:
            return "twitch-to-screen latency: median – ms, p99 – ms (n=0)"
        ms = np.asarray(self.latencies_s) * 1e3
        return (f"twitch-to-screen latency: median {np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms "
                f"(n={len(ms)})")
