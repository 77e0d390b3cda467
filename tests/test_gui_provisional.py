"""Provisional twitches: each is shown once, then confirmed or withdrawn (fading), whatever the frame timing;
and on a real session the numbers counted stay the final ones."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fascdetect.model import Event
from fascdetect.pipeline import run_all
from fascdetect.sources.replay import ReplaySource
from firmware_sim.generator import Generator
from firmware_sim.scenarios import get_scenario
from gui.app import application
from gui.main_window import MonitorWindow
from gui.provisional import FADE_S, LatencyMeter, TwitchBook, twitch_key


def twitch(k: int, channel: str = "EMG L-ADM") -> Event:
    return Event("twitch", 10.0 + 0.25 * k, 0.012, "L", channel.split("-")[1], channel, 80.0, "uV")


# Each twitch: frame it opens, frames it stays open, and its fate: final as a twitch, final as something else
# (withdrawn: a burst, movement...), or still open at the end.
lifecycles = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 6), st.sampled_from(["twitch", "burst", "open"])),
                      min_size=0, max_size=25)


@settings(max_examples=120, deadline=None)
@given(lifecycles)
def test_every_twitch_is_shown_once_then_confirmed_or_withdrawn(cycles):
    book = TwitchBook()
    shown: list[Event] = []
    frames = 30
    for frame in range(frames):
        provisional, final = [], []
        for k, (opens, lasts, fate) in enumerate(cycles):
            e = twitch(k)
            if opens <= frame < opens + lasts or (fate == "open" and frame >= opens):
                provisional.append(e)
            elif frame == opens + lasts and fate != "open":
                final.append(e if fate == "twitch" else replace(e, kind="burst", duration_s=0.4))
        shown += book.update(provisional, final, now_wall_s=frame / 30)
    keys = [twitch_key(e) for e in shown]
    assert len(keys) == len(set(keys)), "no twitch appears twice"
    expected = {twitch_key(twitch(k)) for k, (_, lasts, fate) in enumerate(cycles) if fate != "burst" or lasts > 0}
    assert set(keys) == expected
    seen_open = [(k, fate) for k, (opens, lasts, fate) in enumerate(cycles) if lasts > 0 or fate == "open"]
    assert book.confirmed == sum(fate == "twitch" for _, fate in seen_open)
    assert book.withdrawn_total == sum(fate == "burst" for _, fate in seen_open)
    assert set(book.provisional) == {twitch_key(twitch(k)) for k, fate in seen_open if fate == "open"}


def test_a_withdrawn_twitch_fades_out_and_is_then_forgotten():
    book = TwitchBook()
    e = twitch(0)
    assert book.update([e], [], 0.0) == [e]
    book.update([], [replace(e, kind="movement", duration_s=2.0)], 1.0)
    gone = book.withdrawn[twitch_key(e)]
    opacities = [gone.opacity(1.0 + f * FADE_S) for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert opacities == sorted(opacities, reverse=True) and opacities[0] == 1.0 and opacities[-1] == 0.0
    assert 0 < opacities[2] < 1, "it fades, it does not blink out"
    book.update([], [], 1.0 + FADE_S / 2)
    assert twitch_key(e) in book.withdrawn and book.fading
    book.update([], [], 1.0 + FADE_S + 0.01)
    assert not book.withdrawn and not book.fading


def test_a_doublet_that_grows_keeps_its_place():
    """The second discharge of a doublet closes later: same onset, so the same twitch, updated, not new."""
    book = TwitchBook()
    single = twitch(0)
    doublet = replace(single, duration_s=0.03, flags=frozenset({"doublet"}))
    assert book.update([single], [], 0.0) == [single]
    assert book.update([doublet], [], 0.1) == []
    assert book.provisional[twitch_key(single)] is doublet
    assert book.update([], [doublet], 0.6) == [] and book.confirmed == 1


def test_latency_line_has_the_documented_shape():
    meter = LatencyMeter()
    assert meter.line() == "twitch-to-screen latency: median – ms, p99 – ms (n=0)"
    for k in range(11):
        meter.taken(100.0 + k)
        meter.painted(100.0 + k + 0.02 + 0.001 * k)
    meter.taken(None)  # a twitch whose arrival is unknown is not counted
    meter.painted(200.0)
    assert meter.line() == "twitch-to-screen latency: median 25 ms, p99 30 ms (n=11)"


@pytest.fixture
def window(qtbot):
    application()
    win = MonitorWindow(lambda spec: None, ())
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.close()


def test_provisional_twitches_appear_and_final_counts_are_the_simulators(qtbot, window):
    """Twitches are shown while their episode is open; the tally still counts only final events."""
    scenario = get_scenario("rest").with_(twitch_rate_per_min={"L-ADM": 60.0, "R-FDB": 30.0}, movement_rate_per_h=0.0,
                                          pop_rate_per_h=0.0)
    generator = Generator(scenario, seed=7, duration_s=40.0)
    window.start_session(lambda: ReplaySource(generator, speed=4.0), "sim two regions")
    qtbot.waitUntil(lambda: bool(window.book.provisional), timeout=30_000)
    window.refresh()  # the foot map takes a fresh twitch at once; the trace markers at the next frame
    open_now = list(window.book.provisional.values())
    assert all(e.kind == "twitch" for e in open_now)
    counted = sum(c.twitches for c in window.tally.counts.values())
    lanes = window.traces.feet["L"].markers.open.shape[0] + window.traces.feet["R"].markers.open.shape[0]
    assert lanes == len([e for e in open_now if e.channel in {c.label for f in window.traces.feet.values()
                                                              for c in f.channels}])
    qtbot.waitUntil(lambda: not window.session.running, timeout=60_000)
    qtbot.wait(50)
    window.refresh()
    final = sum(c.twitches for c in window.tally.counts.values())
    assert final >= counted
    assert window.book.confirmed + window.book.fresh_final_total == final, "each counted twitch was shown"
    assert not window.book.provisional, "at the end every episode is final: nothing is left provisional"
    assert window.latency.latencies_s, "twitches were painted and timed"
    fresh = Generator(scenario, seed=7, duration_s=40.0)  # the same signal, analysed offline
    offline = run_all(fresh.read(40.0).blocks, fresh.channels)
    assert final == sum(e.kind == "twitch" for e in offline), "the monitor counts exactly what analysis counts"
