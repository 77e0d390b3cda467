"""Rest state per channel: a region whose muscle is active, moving or unusable is greyed, in the foot map,
the counts table and the channel list, with the state named."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from fascdetect.pipeline import Pipeline
from fascdetect.sources.replay import ReplaySource
from fascdetect.tally import Tally
from firmware_sim.generator import Generator
from firmware_sim.scenarios import SCENARIOS, get_scenario
from gui.app import application
from gui.counts_table import GREY, CountsTable
from gui.foot_map import STATE_GREY, FootMap, rate_colour
from gui.main_window import MonitorWindow
from gui.session import region_states

CHANNELS = Generator(get_scenario("rest"), seed=1, duration_s=1.0).channels


def test_a_region_is_at_rest_when_any_lane_counting_it_is():
    states = {c.label: "rest" for c in CHANNELS if c.modality == "EMG"}
    states.update({f"ACC {c.side}-{c.region}": "rest" for c in CHANNELS if c.modality == "ACC"})
    states["EMG L-ADM"] = "active"
    states["ACC R-ADM"] = "movement"  # R-ADM has EMG at rest: its accelerometer does not decide
    states["EMG R-GAS"] = "unusable"
    regions = region_states(states, CHANNELS)
    assert regions[("L", "ADM")] == "active" and regions[("R", "ADM")] == "rest"
    assert regions[("R", "GAS")] == "unusable"
    assert {k for k, v in regions.items() if v != "rest"} == {("L", "ADM"), ("R", "GAS")}
    assert region_states({}, CHANNELS) == {}, "no states reported: nothing is greyed"


def _pixel(widget, key):
    image = widget.grab().toImage()
    rect = widget.region_rects[key]
    # Left of centre, clear of the label text written across the middle.
    return image.pixelColor(round(rect.center().x() - 0.3 * rect.width()), round(rect.center().y())).getRgb()[:3]


def test_the_foot_map_greys_a_region_that_is_not_at_rest(qtbot):
    application()
    fmap = FootMap()
    qtbot.addWidget(fmap)
    fmap.resize(700, 320)
    fmap.show()
    sensed = {(c.side, c.region) for c in CHANNELS}
    fmap.set_sensed(sensed)
    fmap.set_rates({k: 0.0 for k in sensed})
    assert _pixel(fmap, ("L", "ADM")) == rate_colour(0.0).getRgb()[:3]
    fmap.set_states({("L", "ADM"): "active", ("L", "AbH"): "rest"})
    assert _pixel(fmap, ("L", "ADM")) == STATE_GREY.getRgb()[:3]
    assert _pixel(fmap, ("L", "AbH")) == rate_colour(0.0).getRgb()[:3]


def test_the_counts_table_names_the_state_and_greys_the_row(qtbot):
    application()
    table = CountsTable()
    qtbot.addWidget(table)
    tally = Tally([("L", "ADM"), ("L", "AbH")])
    table.refresh(tally, 60.0, 60.0, {("L", "ADM"): "movement", ("L", "AbH"): "rest"})
    assert table.cell_text("L", "ADM", "state") == "movement" and table.cell_text("L", "AbH", "state") == "rest"
    row = table.keys.index(("L", "ADM"))
    assert table.item(row, 0).foreground().color() == GREY
    assert table.item(table.keys.index(("L", "AbH")), 0).foreground().color() != GREY
    table.refresh(tally, 61.0, 61.0, {("L", "ADM"): "rest", ("L", "AbH"): "rest"})
    assert table.item(row, 0).foreground().color() != GREY


@pytest.mark.skipif(not hasattr(Pipeline, "channel_states") or "restless" not in SCENARIOS,
                    reason="this pipeline reports no channel states (or the simulator has no voluntary activity)")
def test_voluntary_activity_in_the_simulator_greys_its_region_while_it_lasts(qtbot):
    """The simulator's truth says where voluntary activity happens; the window shows that region not at rest."""
    application()
    window = MonitorWindow(lambda spec: None, ())
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    generator = Generator(get_scenario("restless"), seed=3, duration_s=90.0)
    window.start_session(lambda: ReplaySource(generator, speed=10.0), "restless")
    seen: set[tuple[tuple[str, str], str]] = set()

    def greyed() -> bool:
        seen.update((k, v) for k, v in window.foot_map.states.items() if v != "rest")
        return bool(seen)

    qtbot.waitUntil(greyed, timeout=60_000)
    busy = {(t.side, t.region) for t in generator.truth if t.kind == "activity"}
    moving = {t.side for t in generator.truth if t.kind == "movement"}
    for (side, region), state in seen:
        assert (side, region) in busy or side in moving, f"{side}-{region} shown {state} with nothing happening there"
    window.refresh_tables()
    labels = {c.label for c in generator.channels}
    assert {window.channel_list.items[label].text(4) for label in labels} <= {"rest", "active", "movement",
                                                                             "unusable", ""}
    window.close()
