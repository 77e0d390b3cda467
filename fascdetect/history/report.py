"""The report: one self-contained HTML page about the stored nights, for the person and their clinician.

Inline CSS and inline SVG only: no script, no font, no image fetched from
anywhere, so it opens offline, can be mailed or printed to PDF, and shows
nothing to anyone but its reader. Every statement comes with its numbers;
nothing in it is a diagnosis, and it names no disease.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import date, datetime
from html import escape
from pathlib import Path
from statistics import median

from fascdetect.history import nights as N
from fascdetect.history import svg
from fascdetect.history.diary import format_tags
from fascdetect.regions import REGIONS, SIDE_NAMES

CSS = """
:root { --ink:#222; --muted:#666; --line:#ddd; --warn:#8a4b00; --warnbg:#fff6e5; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 980px; padding: 24px; line-height: 1.45; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; } h3 { font-size: 14px; margin: 16px 0 6px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.glance { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.glance div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.glance b { display: block; font-size: 18px; }
.clinician { border: 2px solid var(--warn); background: var(--warnbg); border-radius: 8px; padding: 12px 16px; }
.clinician h2 { border: 0; margin-top: 0; color: var(--warn); }
.clinician li { margin-bottom: 6px; } .guidance { display: block; color: var(--warn); }
.small { font-size: 12px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.norec td { color: var(--muted); }
td:first-child { white-space: nowrap; }
#nightly td:last-child { overflow-wrap: anywhere; } .rc { white-space: nowrap; }
#nightly td:nth-child(-n+2) { white-space: nowrap; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.charts > div { flex: 0 0 330px; }
.charts.wide > div { flex: 1 1 440px; }
ul.findings li { margin-bottom: 4px; }
.tag { display: inline-block; background: #eef3fa; border-radius: 3px; padding: 0 4px; margin: 1px; }
.sym { display: inline-block; background: #fde8e4; border-radius: 3px; padding: 0 4px; margin: 1px; }
footer { margin-top: 32px; font-size: 12px; color: var(--muted); }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11.5px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .clinician, .charts > div, svg, tr, li, .glance { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  #nightly-section { break-before: page; }
  table { font-size: 10px; } th, td { padding: 2px 3px; }
}
"""

NO_DIAGNOSIS = ("fascdetect describes the signals its sensors recorded. It does not diagnose, it names no "
                "disease, and it cannot tell a harmless twitch from one that matters: only a clinician can, "
                "with an examination.")


def _fmt_h(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h}:{rest // 60:02d}"


def _region_label(key: tuple[str, str]) -> str:
    r = REGIONS[key[1]]
    return f"{SIDE_NAMES[key[0]]} {r.muscle} ({key[1]})"


def render(period: N.Period, generated: datetime | None = None) -> str:
    """The whole report as one HTML string."""
    from fascdetect import __version__

    generated = generated or datetime.now()
    nights = period.nights
    calendar = period.calendar()
    by_night = period.by_night()
    rates = [n.rate_per_min for n in nights]
    twitched = sorted({k for n in nights for k in n.twitching_regions()}, key=N._region_order)
    cramp_nights = [n for n in nights if n.cramps]
    parts: list[str] = []
    add = parts.append
    add(f"<h1>Foot twitching over {len(nights)} recorded night{'s' if len(nights) != 1 else ''}</h1>")
    add(f'<p class="sub">Nights of {escape(period.first)} to {escape(period.last)} · made {generated:%Y-%m-%d %H:%M} '
        f"by fascdetect {escape(__version__)} on this computer from your own recordings; nothing was sent anywhere.</p>")
    add('<div class="glance">'
        f"<div>nights recorded<b>{len(nights)} of {len(calendar)}</b></div>"
        f"<div>hours recorded<b>{sum(n.recorded_s for n in nights) / 3600:.1f}</b></div>"
        f"<div>median nightly rate<b>{median(rates):.2f}/min</b></div>"
        f"<div>regions that twitched<b>{len(twitched)}</b></div>"
        f"<div>nights with cramps<b>{len(cramp_nights)}</b></div>"
        f"<div>diary entries<b>{len(period.diary)}</b></div></div>")
    add(_clinician_box(period))
    add(_rates_section(period, calendar, by_night))
    add(_cramps_movement_section(period))
    add(_persistence_section(period))
    add(_motor_units_section(period))
    add(_triggers_section(period))
    add(_detail_section(period))
    add(_nightly_table(period, calendar, by_night))
    add(_rates_table(period))
    add(_method_section(period))
    add(f"<footer>{escape(NO_DIAGNOSIS)}</footer>")
    title = f"fascdetect report, nights of {period.first} to {period.last}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<meta name=\"referrer\" content=\"no-referrer\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _clinician_box(period: N.Period) -> str:
    signs = N.clinician_signs(period)
    out = ['<section class="clinician" id="clinician"><h2>Worth showing a clinician</h2>']
    if signs:
        out.append("<p>These points held in the nights of this report. Guidance on muscle twitching suggests "
                   "raising each of them with a clinician:</p><ul>")
        for s in signs:
            out.append(f'<li data-sign="{escape(s.key)}"><b>{escape(s.title)}</b> {escape(s.detail)}'
                       f'<span class="guidance">{escape(s.guidance)}</span></li>')
        out.append("</ul>")
    else:
        out.append("<p>None of the points below held in these nights. That is not a clean bill of health: if you "
                   "are worried, or notice any of them, talk to a clinician.</p>")
    out.append('<p class="small">What is checked: warning signs you noted in the diary (weakness, visible wasting, '
               "numbness or tingling, pain); twitching in one region on nights spanning about "
               f"{N.PERSIST_DAYS} days or more; twitching in regions, or on a side, that were quiet in the first "
               "recorded nights; a rising nightly rate. " + escape(NO_DIAGNOSIS) + "</p></section>")
    return "".join(out)


def _rates_section(period: N.Period, calendar: list[str], by_night: dict[str, N.Night]) -> str:
    rows = [_region_label(k) for k in period.regions]
    cells = {}
    for i, key in enumerate(period.regions):
        for j, d in enumerate(calendar):
            n = by_night.get(d)
            if n is None or not n.recorded:
                continue
            r = n.regions.get(key)
            if r is None:
                cells[(i, j)] = (None, f"{rows[i]}, night of {d}: no sensor")
            else:
                cells[(i, j)] = (r.rate_per_min, f"{rows[i]}, night of {d}: {r.rate_per_min:.2f}/min "
                                                 f"({r.twitches} twitches in {r.rest_s / 60:.0f} min at rest)")
    out = ['<section id="rates"><h2>Nightly twitch rates</h2>',
           "<p>Twitches per minute at rest, per region and night (each column a night, grey where nothing was "
           "recorded). Hover a cell for its numbers.</p>",
           svg.heatmap(rows, calendar, cells, "heatmap of twitch rates, regions by nights"),
           f"<h3>Trends (dots: nights; line: median of the last {N.ROLLING_NIGHTS} recorded nights)</h3>",
           '<div class="charts">']
    dates = [n.night for n in period.nights]
    overall = [n.rate_per_min for n in period.nights]
    out.append(f"<div>{svg.line_chart(dates, overall, N.rolling_median(overall), 'All regions together', '/min')}</div>")
    shown = [k for k in period.regions if any(n.regions.get(k) and n.regions[k].twitching for n in period.nights)]
    for key in shown[:11]:
        have = [n for n in period.nights if key in n.regions]
        vals = [n.regions[key].rate_per_min for n in have]
        out.append(f"<div>{svg.line_chart([n.night for n in have], vals, N.rolling_median(vals), _region_label(key), '/min')}"
                   "</div>")
    out.append("</div>")
    trend = N.overall_trend(period)
    if trend:
        out.append(f"<p>Trend of the nightly rate (all regions together, Theil–Sen): {trend.slope_per_week:+.2f} per "
                   f"minute per week (95% interval {trend.low:+.2f} to {trend.high:+.2f}) over {trend.nights} "
                   "recorded nights.</p>")
    out.append("</section>")
    return "".join(out)


def _cramps_movement_section(period: N.Period) -> str:
    dates = [n.night for n in period.nights]
    out = ['<section id="cramps"><h2>Cramps, movement and usable hours</h2><div class="charts wide">']
    out.append(f"<div>{svg.bar_chart(dates, [('cramps', '#c0392b', [n.cramps for n in period.nights])], 'Cramps per night', 'cramps')}"
               "</div>")
    out.append("<div>" + svg.bar_chart(dates, [("longest", "#e67e22", [n.cramp_longest_s for n in period.nights]),
                                               ("total", "#8e44ad", [n.cramp_total_s for n in period.nights])],
                                       "Cramp time per night (s)", "s") + "</div>")
    sides = sorted({s for n in period.nights for s in n.movement_s})
    colours = {"L": "#5d6d7e", "R": "#45b39d"}
    series = [(f"{SIDE_NAMES[s]} foot", colours[s], [n.movement_s.get(s, 0.0) / 60 for n in period.nights])
              for s in sides]
    if any(n.activity_s for n in period.nights):
        series.append(("voluntary activity", "#d4ac0d", [n.activity_s / 60 for n in period.nights]))
    out.append("<div>" + svg.bar_chart(dates, series, "Movement per night (min)", "min") + "</div>")
    out.append("<div>" + svg.bar_chart(dates, [("usable", "#2e86c1", [n.usable_s / 3600 for n in period.nights])],
                                       "Usable hours per night", "h",
                                       outline=[n.recorded_s / 3600 for n in period.nights],
                                       outline_label="recorded") + "</div>")
    out.append("</div>")
    if any(n.cramps for n in period.nights):
        worst = max(period.nights, key=lambda n: n.cramp_longest_s)
        out.append(f"<p>{sum(n.cramps for n in period.nights)} cramp(s) on {sum(1 for n in period.nights if n.cramps)} "
                   f"night(s); the longest lasted {worst.cramp_longest_s:.0f} s (night of {worst.night}).</p>")
    else:
        out.append("<p>No cramps were detected.</p>")
    out.append('<p class="small">Usable hours: time at rest with a usable signal, in which twitches were counted '
               "(the median over the EMG channels). Twitches are not counted while a foot moves, nor during "
               "voluntary activity of a muscle (tensing, walking), shown with the movement.</p></section>")
    return "".join(out)


def _persistence_section(period: N.Period) -> str:
    out = ['<section id="persistence"><h2>Persistence and spread</h2>']
    found = N.persistence(period)
    if found:
        out.append('<ul class="findings">' + "".join(f"<li>{escape(f.text)}</li>" for f in found) + "</ul>")
    else:
        out.append("<p>No region twitched on any recorded night (by the definition below).</p>")
    out.append(f"<p>{escape(N.sides_sentence(period))}</p>")
    out.append('<table id="weeks"><tr><th>week of</th><th class="num">nights</th><th class="num">regions with '
               'twitching</th><th>which</th><th>sides</th><th class="num">median rate /min</th></tr>')
    for w in N.weeks(period):
        which = ", ".join(f"{s}-{r}" for s, r in w["regions"]) or "none"
        sides = " and ".join(SIDE_NAMES[s] for s in w["sides"]) or "–"
        out.append(f'<tr><td>{w["week_of"]}</td><td class="num">{w["nights"]}</td><td class="num">'
                   f'{len(w["regions"])}</td><td>{escape(which)}</td><td>{sides}</td>'
                   f'<td class="num">{w["median_rate_per_min"]:.2f}</td></tr>')
    out.append("</table>")
    out.append(f'<p class="small">A region “twitched” on a night with at least {N.TWITCHING_MIN_COUNT} twitches and '
               f"{N.TWITCHING_MIN_RATE_PER_MIN:g} per minute at rest. A run of twitching nights ends after "
               f"{N.RUN_BREAK_QUIET_NIGHTS} recorded quiet nights in a row or a gap of more than "
               f"{N.RUN_BREAK_GAP_DAYS} days.</p></section>")
    return "".join(out)


def _motor_units_section(period: N.Period) -> str:
    """Which putative motor units recur night after night, and when new ones appear (issue 13)."""
    from fascdetect.units.match import SAME_UNIT_DISTANCE, match_units

    if not period.motor_units:
        return ""
    tracks = match_units(period.motor_units)
    out = ['<section id="motor-units"><h2>Motor units behind the twitches</h2>',
           "<p>Twitches whose waveforms are alike on one electrode are grouped into putative motor units; a unit "
           "of one night is taken for the same unit on another when their median waveforms are alike. Seen from "
           "the skin this is an estimate, not a count of nerve cells, and not a diagnosis.</p>",
           '<table id="units"><tr><th>region</th><th>unit</th><th>seen on</th><th>first seen</th><th>last seen</th>'
           '<th class="num">twitches</th><th class="num">median peak µV</th><th class="num">phases</th></tr>']
    new: list[str] = []
    for key in sorted({(t.side, t.region) for t in tracks}, key=N._region_order):
        recorded = [n.night for n in period.nights if key in n.regions]
        first_night = min(recorded) if recorded else ""
        for t in [t for t in tracks if (t.side, t.region) == key]:
            latest = t.seen[-1]
            out.append(f"<tr><td>{escape(N.short_name(key))}</td><td>{t.number}</td>"
                       f"<td>{len(t.nights)} of {len(recorded)} nights</td><td>{t.nights[0]}</td>"
                       f"<td>{t.nights[-1]}</td>"
                       f'<td class="num">{t.twitches}</td><td class="num">{latest["median_peak_uv"]:.0f}</td>'
                       f'<td class="num">{latest["phases"]}</td></tr>')
            if t.nights[0] > first_night:
                new.append(f"{N.short_name(key)} unit {t.number} first appeared on the night of {t.nights[0]}")
    out.append("</table>")
    if new:  # one line each: a cohort of nights can bring dozens
        out.append('<p>New units, after the region\'s first recorded night:</p><ul id="new-units">'
                   + "".join(f"<li>{escape(line)}</li>" for line in new) + "</ul>")
    else:
        out.append("<p>No new unit appeared after the first recorded night.</p>")
    out.append(f'<p class="small">A unit is a group of at least 3 alike twitches on one channel. Units of two nights '
               f"match when their median waveforms differ by less than {SAME_UNIT_DISTANCE:g} of their size at the "
               "best alignment and gain (docs/motor-units.md).</p></section>")
    return "".join(out)


def _triggers_section(period: N.Period) -> str:
    comps = N.triggers(period)
    out = ['<section id="triggers"><h2>Diary tags and twitching</h2>']
    if not comps:
        out.append("<p>No diary tags in these nights. Note possible triggers with, for example, "
                   "<code>fascdetect diary add --tag exercise=jog</code>.</p></section>")
        return "".join(out)
    out.append("<p>For each tag, the nightly rate (all regions together) on recorded nights with the tag against "
               "those without. A difference is an association in your own records, not proof of a cause: "
               "tagged nights can differ in other ways too.</p>")
    out.append('<table id="tags"><tr><th>tag</th><th class="num">tagged nights</th><th class="num">median /min</th>'
               '<th class="num">other nights</th><th class="num">median /min</th><th class="num">difference</th>'
               '<th>95% interval</th></tr>')
    for c in comps:
        d = c.difference
        iv = f"{c.interval[0]:+.2f} to {c.interval[1]:+.2f}" if c.interval else "too few nights"
        out.append(f'<tr data-tag="{escape(c.tag)}" data-difference="{"" if d is None else f"{d:.4f}"}">'
                   f'<td><span class="tag">{escape(c.tag)}</span> {escape(", ".join(c.values))}</td>'
                   f'<td class="num">{len(c.tagged)}</td>'
                   f'<td class="num">{median(c.tagged) if c.tagged else float("nan"):.2f}</td>'
                   f'<td class="num">{len(c.untagged)}</td>'
                   f'<td class="num">{median(c.untagged) if c.untagged else float("nan"):.2f}</td>'
                   f'<td class="num">{"–" if d is None else f"{d:+.2f}"}</td><td>{iv}</td></tr>')
    out.append("</table><ul class=\"findings\">" + "".join(f"<li>{escape(c.sentence())}</li>" for c in comps)
               + "</ul>")
    out.append(f'<p class="small">Interval: {N.BOOTSTRAP_RESAMPLES} bootstrap resamples of each group\'s median '
               "(fixed seed; needs two nights on each side).</p></section>")
    return "".join(out)


def _detail_section(period: N.Period) -> str:
    d = period.detail
    assert d is not None
    n = d.night
    rows = list(period.regions)
    index = {k: i for i, k in enumerate(rows)}
    marks, bands, ticks = [], [], []
    for e in d.events:
        key = (e["side"], e["region"])
        clock = f"{(datetime.combine(date.today(), d.start.time()) + _td(e['t_s'])):%H:%M:%S}"
        if e["kind"] in ("movement", "activity"):
            what = "movement" + (" (gait)" if "gait" in e["flags"] else "") if e["kind"] == "movement" else "activity"
            bands.append((e["t_s"], e["duration_s"], f"{what}, {SIDE_NAMES.get(e['side'], e['side'])} foot, {clock}, "
                                                     f"{e['duration_s']:.0f} s"))
            continue
        if key not in index:
            continue
        if e["kind"] == "twitch":
            ticks.append((index[key], e["t_s"]))
            continue
        colour = {"burst": "#e67e22", "cramp": "#c0392b"}.get(e["kind"], "#555")
        marks.append((index[key], e["t_s"], e["duration_s"], colour,
                      f"{e['kind']} {e['side']}-{e['region']} at {clock}"
                      + (f", {e['duration_s']:.0f} s" if e["kind"] == "cramp" else "")))
    start_clock = d.start.hour * 3600 + d.start.minute * 60 + d.start.second
    out = [f'<section id="detail"><h2>The night of {escape(n.night)} in detail</h2>',
           f"<p>Recorded from {d.start:%H:%M} for {_fmt_h(n.recorded_s)} h ({len(n.recording_ids)} recording(s)); "
           f"{n.twitches} twitches, overall {n.rate_per_min:.2f} per minute at rest; {n.cramps} cramp(s).</p>",
           "<h3>When in the night (blue: twitch; orange: burst; red: cramp; grey band: movement)</h3>",
           svg.raster([_region_label(k) for k in rows], d.length_s, start_clock, marks, bands, d.recordings,
                      f"hour-of-night raster, night of {n.night}", ticks=ticks)]
    cramped = {(e["side"], e["region"]) for e in d.events if e["kind"] == "cramp"}
    rates = {k: (r.rate_per_min, f"{_region_label(k)}: {r.rate_per_min:.2f}/min, {r.twitches} twitches")
             for k, r in n.regions.items()}
    out.append("<h3>Foot map of the night (twitches per minute at rest)</h3>")
    out.append(svg.foot_map(rates, f"foot map, night of {n.night}", cramped))
    out.append('<table id="detail-regions"><tr><th>region</th><th class="num">twitches</th><th class="num">min at rest'
               '</th><th class="num">rate /min</th><th class="num">bursts</th><th class="num">cramps</th></tr>')
    for key in rows:
        r = n.regions.get(key)
        if r is not None:
            out.append(f"<tr><td>{escape(_region_label(key))}</td><td class=\"num\">{r.twitches}</td>"
                       f"<td class=\"num\">{r.rest_s / 60:.0f}</td><td class=\"num\">{r.rate_per_min:.2f}</td>"
                       f"<td class=\"num\">{r.bursts}</td><td class=\"num\">{r.cramps}</td></tr>")
    out.append("</table>")
    if n.tags or n.symptoms or n.notes:
        out.append(f"<p>Diary: {_diary_cell(n)}</p>")
    out.append("</section>")
    return "".join(out)


def _td(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)


def _diary_cell(n: N.Night) -> str:
    bits = [f'<span class="tag">{escape(format_tags([t]))}</span>' for t in n.tags]
    bits += [f'<span class="sym">{escape(s)}</span>' for s in n.symptoms]
    bits += [escape(note) for note in n.notes]
    return " ".join(bits)


def _nightly_table(period: N.Period, calendar: list[str], by_night: dict[str, N.Night]) -> str:
    out = ['<section id="nightly-section"><h2>Night by night</h2><table id="nightly"><thead><tr>'
           '<th>night of</th><th>start</th><th class="num">recorded h</th><th class="num">usable h</th>'
           '<th class="num">twitches</th><th class="num">rate /min</th><th>regions twitching</th>'
           '<th class="num">cramps</th><th class="num">total / longest s</th><th class="num">movement min</th>'
           "<th>diary</th></tr></thead><tbody>"]
    for day in calendar:
        n = by_night.get(day)
        if n is None:
            continue
        if not n.recorded:
            out.append(f'<tr class="norec" data-night="{day}"><td>{day}</td><td colspan="9">not recorded</td>'
                       f"<td>{_diary_cell(n)}</td></tr>")
            continue
        regions = ", ".join(f'<span class="rc">{s}-{r}</span>'
                            for s, r in sorted(n.twitching_regions(), key=N._region_order)) or "–"
        out.append(f'<tr data-night="{day}"><td>{day}</td><td>{n.start:%H:%M}</td>'
                   f'<td class="num">{n.recorded_s / 3600:.2f}</td><td class="num">{n.usable_s / 3600:.2f}</td>'
                   f'<td class="num">{n.twitches}</td><td class="num">{n.rate_per_min:.2f}</td><td>{regions}</td>'
                   f'<td class="num">{n.cramps}</td><td class="num">{n.cramp_total_s:.0f} / {n.cramp_longest_s:.0f}</td>'
                   f'<td class="num">{sum(n.movement_s.values()) / 60:.1f}</td><td>{_diary_cell(n)}</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _rates_table(period: N.Period) -> str:
    """The heatmap's numbers, for print (tooltips do not print): nights × regions, twitches per minute at rest."""
    head = "".join(f'<th class="num" title="{escape(_region_label(k))}">{k[0]}-{k[1]}</th>' for k in period.regions)
    out = ['<section id="rates-table"><h2>Nightly rates per region (twitches per minute at rest)</h2>'
           f'<table><tr><th>night of</th>{head}</tr>']
    for n in period.nights:
        cells = "".join(f'<td class="num">{n.regions[k].rate_per_min:.2f}</td>' if k in n.regions
                        else '<td class="num">–</td>' for k in period.regions)
        out.append(f"<tr><td>{n.night}</td>{cells}</tr>")
    out.append('</table><p class="small">– : no sensor on that region that night.</p></section>')
    return "".join(out)


def _method_section(period: N.Period) -> str:
    versions = Counter(r["version"] for r in period.recordings)
    settings = {repr(sorted(r["settings"].items())) for r in period.recordings}
    recs = "".join(f"<tr><td>{r['id']}</td><td>{r['night']}</td><td>{escape(Path(r['path']).name)}</td>"
                   f"<td class=\"num\">{r['duration_s'] / 3600:.2f}</td><td>{escape(r['version'])}</td>"
                   f"<td><code>{r['sha256'][:12]}</code></td></tr>" for r in period.recordings)
    return ('<section id="method"><h2>How these numbers were made</h2>'
            "<p>Each recording was analysed by fascdetect (version "
            + escape(", ".join(f"{v} ({k} recordings)" for v, k in versions.items()))
            + ("; the same detector settings for all" if len(settings) == 1 else
               f"; {len(settings)} different detector settings, so nights may not compare exactly")
            + "). A region's nightly rate is its twitches divided by its minutes at rest over the night's "
              "recordings; the overall rate adds the regions' rates. A night is dated by the evening it begins "
              "(a recording started before noon belongs to the night before).</p>"
              '<table><tr><th>id</th><th>night of</th><th>file</th><th class="num">hours</th><th>version</th>'
              f"<th>content hash</th></tr>{recs}</table></section>")


def write_report(period: N.Period, out: str | Path, generated: datetime | None = None) -> Path:
    """Write the report owner-readable only (0600), replacing ``out`` atomically."""
    from fascdetect.errors import InputError

    out = Path(out)
    html = render(period, generated)
    directory = out.parent if str(out.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=directory)  # mkstemp creates it 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"cannot write the report {out}: {exc.strerror or exc}") from None
    return out
