"""Nights to findings: persistence, spread, rising rates, diary associations and the clinician box."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fascdetect.history import nights as N
from fascdetect.history.report import render

FIRST = date(2026, 1, 5)
HOUR_S = 3600.0


def period(per_night: list[dict[tuple[str, str], int]], tags: dict[int, list[tuple[str, str]]] | None = None,
           symptoms: dict[int, list[str]] | None = None,
           regions: tuple[tuple[str, str], ...] = (("L", "ADM"), ("R", "AbH"), ("R", "ADM"))) -> N.Period:
    """Nights of one hour at rest each; ``per_night[i]`` maps (side, region) to that night's twitch count."""
    nights = []
    for i, counts in enumerate(per_night):
        day = (FIRST + timedelta(days=i)).isoformat()
        n = N.Night(day, [i + 1], datetime.fromisoformat(day + "T23:00:00"), HOUR_S, HOUR_S)
        for key in regions:
            n.regions[key] = N.RegionNight(twitches=counts.get(key, 0), rest_s=HOUR_S)
        n.tags = list((tags or {}).get(i, []))
        n.symptoms = list((symptoms or {}).get(i, []))
        nights.append(n)
    recs = [{"id": i + 1, "night": n.night, "path": f"/x/{n.night}.edf", "duration_s": HOUR_S, "version": "0.1.0",
             "sha256": "0" * 64, "settings": {}} for i, n in enumerate(nights)]
    p = N.Period(nights[0].night, nights[-1].night, nights, [], [], list(regions), recs)
    p.detail = N.NightDetail(nights[-1], nights[-1].start, HOUR_S,
                             [{"kind": "twitch", "t_s": 60.0 * k, "onset_s": 60.0 * k, "duration_s": 0.02, "side": "R",
                               "region": "ADM", "channel": "EMG R-ADM", "peak": 80.0, "unit": "uV", "flags": []}
                              for k in range(30)], [(0.0, HOUR_S)])
    return p


def keys(p: N.Period) -> set[str]:
    return {s.key for s in N.clinician_signs(p)}


R_ADM, L_ADM, R_ABH = ("R", "ADM"), ("L", "ADM"), ("R", "AbH")


def test_twitching_on_nights_spanning_three_weeks_is_flagged():
    assert "persist-R-ADM" in keys(period([{R_ADM: 120}] * 22))
    assert "persist-R-ADM" not in keys(period([{R_ADM: 120}] * 14))
    # the run ended: three quiet nights at the end
    assert "persist-R-ADM" not in keys(period([{R_ADM: 120}] * 22 + [{}] * 3))


def test_twitching_that_only_comes_back_now_and_then_is_not_flagged_as_persisting():
    p = period([{R_ADM: 120} if i % 3 == 0 else {} for i in range(25)])
    assert "persist-R-ADM" not in keys(p)
    assert "twitching on 5 of the last 14" in N.persistence(p)[0].text
    assert "twitching on 2 of 4 recorded nights" in N.persistence(period([{R_ADM: 120}, {}] * 2))[0].text


def test_persistence_in_plain_words():
    p = period([{R_ADM: 120}] * 14 + [{}] * 2)
    (f,) = N.persistence(p)
    assert f.text.startswith("right abductor digiti minimi (ADM, lateral sole, little toe): twitching on 12 of the "
                             "last 14 recorded nights")


def test_one_stray_twitch_is_not_a_twitching_night():
    assert N.RegionNight(twitches=1, rest_s=60.0).twitching is False
    assert N.RegionNight(twitches=3, rest_s=600.0).twitching is True


def test_spread_to_a_new_region_and_to_both_sides():
    p = period([{R_ADM: 100}] * 7 + [{R_ADM: 100, L_ADM: 60}] * 7)
    assert {"spread-regions", "spread-sides"} <= keys(p)
    assert not {"spread-regions", "spread-sides"} & keys(period([{R_ADM: 100, L_ADM: 60}] * 14))


def test_rising_rates_need_a_clear_trend():
    assert "rising" in keys(period([{R_ADM: 30 + 20 * i} for i in range(14)]))
    assert "rising" not in keys(period([{R_ADM: 120 + (7 if i % 2 else -7)} for i in range(14)]))


def test_diary_symptoms_are_listed_with_their_nights():
    signs = N.clinician_signs(period([{R_ADM: 10}] * 3, symptoms={1: ["weakness"], 2: ["numbness"]}))
    by_key = {s.key: s for s in signs}
    assert "2026-01-06" in by_key["symptom-weakness"].detail
    assert by_key["symptom-numbness"].title == "You noted numbness or tingling"
    assert all(s.guidance.startswith("Talk to a clinician") for s in signs)


def test_tag_association_has_the_right_sign_and_an_interval():
    counts = [{R_ADM: 600 if i % 3 == 1 else 120} for i in range(12)]
    tags = {i: [("exercise", "jog")] for i in range(12) if i % 3 == 1} | {i: [("caffeine", "2")] for i in (0, 5, 9)}
    comps = {c.tag: c for c in N.triggers(period(counts, tags))}
    ex = comps["exercise"]
    assert len(ex.tagged) == 4 and len(ex.untagged) == 8
    assert ex.difference > 0 and ex.interval[0] > 0
    assert "association, not a cause" in ex.sentence() and "more twitching" in ex.sentence()
    assert comps["caffeine"].difference < 0 or comps["caffeine"].interval[0] <= 0


def test_a_tag_on_every_night_has_nothing_to_compare():
    (c,) = N.triggers(period([{R_ADM: 100}] * 3, {0: [("x", "")], 1: [("x", "")], 2: [("x", "")]}))
    assert c.difference is None and "nothing to compare" in c.sentence()


def test_report_box_lists_every_sign_that_holds_and_says_it_does_not_diagnose():
    p = period([{R_ADM: 100}] * 7 + [{R_ADM: 100 + 40 * i, L_ADM: 60} for i in range(16)],
               symptoms={3: ["pain"]})
    html = render(p, datetime(2026, 2, 1, 9, 0))
    box = html.split('id="clinician"')[1].split("</section>")[0]
    for key in ("symptom-pain", "persist-R-ADM", "spread-regions", "spread-sides", "rising"):
        assert f'data-sign="{key}"' in box, key
    assert "does not diagnose" in box and "names no disease" in box
    quiet = render(period([{}] * 5), datetime(2026, 2, 1, 9, 0))
    assert "None of the points below held" in quiet


@given(st.lists(st.floats(0, 100), max_size=30), st.integers(1, 10))
def test_rolling_median_stays_within_its_window(values, window):
    out = N.rolling_median(values, window, min_count=1)
    assert len(out) == len(values)
    for i, m in enumerate(out):
        chunk = values[max(0, i - window + 1): i + 1]
        assert min(chunk) <= m <= max(chunk)


@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 100)), max_size=20))
def test_union_of_spans_is_at_most_their_sum_and_at_least_the_longest(raw):
    spans = [(a, a + d) for a, d in raw]
    u = N.union_s(spans)
    assert u <= sum(d for _, d in raw) + 1e-6
    assert u >= max((d for _, d in raw), default=0.0) - 1e-6
    assert N.union_s([(0, 10), (5, 15), (20, 30)]) == 25
