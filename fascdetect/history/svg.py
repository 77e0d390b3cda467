"""Small inline SVG charts for the report: heatmap, line, bars, raster and the foot map.

Hand-written rather than a plotting library so the report needs nothing
beyond the standard library and prints crisply: every chart is a string of
SVG with its numbers in ``<title>`` tooltips. Coordinates are in CSS pixels
of a ``viewBox``; charts scale to the page width.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

from fascdetect.foot_geometry import OUTLINE, SHAPES

RATE_FULL_SCALE_PER_MIN = 10.0
"""Nightly rates at or above this get the darkest colour (a few per minute is common)."""
INK = "#222"
GRID = "#ddd"
MUTED = "#888"
LINE = "#1f5fa8"
ACCENT = "#c0392b"


def rate_colour(rate_per_min: float, full_scale: float = RATE_FULL_SCALE_PER_MIN) -> str:
    """Pale yellow at zero through orange to dark red at ``full_scale`` (as the monitor's foot map)."""
    f = max(0.0, min(1.0, rate_per_min / full_scale))
    stops = ((0.0, (255, 247, 200)), (0.4, (253, 160, 60)), (1.0, (170, 20, 20)))
    for (f0, c0), (f1, c1) in zip(stops, stops[1:]):
        if f <= f1:
            k = (f - f0) / (f1 - f0)
            return "#%02x%02x%02x" % tuple(round(a + k * (b - a)) for a, b in zip(c0, c1))
    return "#%02x%02x%02x" % stops[-1][1]


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="100%" style="max-width:{width:.0f}px" role="img" aria-label="{escape(label)}">'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, size: int = 11, anchor: str = "start", fill: str = INK,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(s)}</text>")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    for step in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if v <= step:
            return float(step)
    return float(v)


def heatmap(rows: Sequence[str], cols: Sequence[str], cells: dict[tuple[int, int], tuple[float | None, str]],
            label: str) -> str:
    """Rows × columns of coloured cells; ``cells[(i, j)] = (rate or None for no data, tooltip)``."""
    left, top, cw = 250, 30, max(6.0, min(22.0, 700.0 / max(len(cols), 1)))
    ch = 18
    width = left + cw * len(cols) + 20
    height = top + ch * len(rows) + 60
    body = []
    every = max(1, round(len(cols) / 12))
    for j, c in enumerate(cols):
        if j % every == 0:
            body.append(_text(left + j * cw + cw / 2, top - 8, c[5:], 9, "middle", MUTED))
    for i, r in enumerate(rows):
        y = top + i * ch
        body.append(_text(left - 6, y + ch * 0.7, r, 11, "end"))
        for j in range(len(cols)):
            rate, tip = cells.get((i, j), (None, f"{r}, night of {cols[j]}: not recorded"))
            x = left + j * cw
            fill = rate_colour(rate) if rate is not None else "url(#nodata)"
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{cw - 1:.1f}" height="{ch - 1}" fill="{fill}">'
                        f"<title>{escape(tip)}</title></rect>")
    # legend
    ly = top + ch * len(rows) + 20
    for k in range(11):
        v = RATE_FULL_SCALE_PER_MIN * k / 10
        body.append(f'<rect x="{left + k * 22}" y="{ly}" width="22" height="10" fill="{rate_colour(v)}"/>')
    body.append(_text(left, ly + 24, "0", 9, "middle", MUTED))
    body.append(_text(left + 5 * 22, ly + 24, f"{RATE_FULL_SCALE_PER_MIN / 2:g}", 9, "middle", MUTED))
    body.append(_text(left + 11 * 22, ly + 24, f"≥{RATE_FULL_SCALE_PER_MIN:g} twitches/min", 9, "start", MUTED))
    body.append(f'<rect x="{left + 330}" y="{ly}" width="22" height="10" fill="url(#nodata)" stroke="{GRID}"/>')
    body.append(_text(left + 358, ly + 9, "not recorded / no sensor", 9, "start", MUTED))
    defs = ('<defs><pattern id="nodata" width="4" height="4" patternUnits="userSpaceOnUse">'
            '<rect width="4" height="4" fill="#f4f4f4"/><path d="M0,4 L4,0" stroke="#ccc" stroke-width="0.8"/>'
            "</pattern></defs>")
    return _svg(width, height, [defs] + body, label)


def line_chart(dates: Sequence[str], values: Sequence[float], smooth: Sequence[float | None], title: str,
               unit: str, width: float = 330, height: float = 150) -> str:
    """Dots for each night's value and a line for the rolling median; dates as 'YYYY-MM-DD' (x by day)."""
    from datetime import date

    left, right, top, bottom = 36, 10, 22, 24
    d = [date.fromisoformat(s).toordinal() for s in dates]
    x0, x1 = (min(d), max(d)) if d else (0, 1)
    span = max(x1 - x0, 1)
    vmax = _nice_max(max(list(values) + [v for v in smooth if v is not None] + [0.0]))
    pw, ph = width - left - right, height - top - bottom

    def xy(day: int, v: float) -> tuple[float, float]:
        return left + pw * (day - x0) / span, top + ph * (1 - v / vmax)

    body = [_text(left, 13, title, 11, extra=' font-weight="600"')]
    for k in (0, 0.5, 1):
        y = top + ph * (1 - k)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 4, y + 3, f"{vmax * k:g}", 9, "end", MUTED))
    if dates:
        body.append(_text(left, height - 8, dates[0][5:], 9, "start", MUTED))
        body.append(_text(width - right, height - 8, dates[-1][5:], 9, "end", MUTED))
    for day, s, v in zip(d, dates, values):
        x, y = xy(day, v)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{LINE}" fill-opacity="0.45">'
                    f"<title>{escape(s)}: {v:.2f} {escape(unit)}</title></circle>")
    pts = [xy(day, v) for day, v in zip(d, smooth) if v is not None]
    if len(pts) >= 2:
        body.append(f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    return _svg(width, height, body, title)


def bar_chart(dates: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]], title: str, unit: str,
              width: float = 460, height: float = 150, outline: Sequence[float] | None = None,
              outline_label: str = "") -> str:
    """Bars per night; ``series`` = [(name, colour, values)] drawn side by side; ``outline``: an unfilled bar behind."""
    left, right, top, bottom = 40, 10, 22, 26
    n = max(len(dates), 1)
    pw, ph = width - left - right, height - top - bottom
    every = [v for _, _, vs in series for v in vs] + list(outline or [])
    vmax = _nice_max(max(every + [0.0]))
    slot = min(pw / n, 36.0)  # a few nights: narrow bars at the left, not slabs
    bw = max(1.0, (slot * 0.8) / max(len(series), 1))
    body = [_text(left, 13, title, 11, extra=' font-weight="600"')]
    lx = width - right
    for name, colour, _ in reversed(series):
        lx -= 8 + 6 * len(name) + 14
        body.append(f'<rect x="{lx}" y="5" width="10" height="10" fill="{colour}"/>')
        body.append(_text(lx + 13, 14, name, 9, "start", MUTED))
    if outline is not None and outline_label:
        lx -= 8 + 6 * len(outline_label) + 14
        body.append(f'<rect x="{lx}" y="5" width="10" height="10" fill="none" stroke="{MUTED}"/>')
        body.append(_text(lx + 13, 14, outline_label, 9, "start", MUTED))
    for k in (0, 0.5, 1):
        y = top + ph * (1 - k)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 4, y + 3, f"{vmax * k:g}", 9, "end", MUTED))
    step = max(1, round(n / 12))
    for j, s in enumerate(dates):
        x = left + j * slot + slot * 0.1
        if outline is not None:
            h = ph * outline[j] / vmax
            body.append(f'<rect x="{x:.1f}" y="{top + ph - h:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
                        f'fill="none" stroke="{MUTED}" stroke-width="0.8"/>')
        for k, (name, colour, values) in enumerate(series):
            v = values[j]
            h = ph * v / vmax
            body.append(f'<rect x="{x + k * bw:.1f}" y="{top + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{escape(s)}: {escape(name)} {v:.2f} {escape(unit)}</title></rect>')
        if j % step == 0:
            body.append(_text(left + j * slot + slot / 2, height - 10, s[5:], 9, "middle", MUTED))
    return _svg(width, height, body, title)


RASTER_BIN_PX = 2.0
"""Twitches are drawn per 2-pixel column: one mark per column, darker for more twitches (an 8-hour night of
frequent twitching stays a small file and a readable picture)."""


def _clock(start_clock_s: float, t: float) -> str:
    c = (start_clock_s + t) % 86400
    return f"{int(c // 3600):02d}:{int(c % 3600 // 60):02d}:{int(c % 60):02d}"


def raster(rows: Sequence[str], length_s: float, start_clock_s: float,
           marks: Sequence[tuple[int, float, float, str, str]], bands: Sequence[tuple[float, float, str]],
           recorded: Sequence[tuple[float, float]], label: str, width: float = 760,
           ticks: Sequence[tuple[int, float]] = (), tick_colour: str = LINE) -> str:
    """Hour-of-night raster: one row per region, twitches as ticks and bursts or cramps as bars at their time.

    ``ticks`` = (row, t_s) of twitches, binned per RASTER_BIN_PX column; ``marks`` = (row, t_s, duration_s,
    colour, tooltip) drawn one by one; ``bands`` = (t_s, duration_s, tooltip) shaded across all rows
    (movement); ``recorded`` = spans with signal (elsewhere is hatched: nothing recorded).
    ``start_clock_s`` is the clock time of t = 0 (seconds after midnight), for the axis labels.
    """
    left, right, top, rh = 250, 12, 16, 16
    height = top + rh * len(rows) + 30
    pw = width - left - right
    total = max(length_s, 1.0)

    def x(t: float) -> float:
        return left + pw * t / total

    body = ['<defs><pattern id="norec" width="4" height="4" patternUnits="userSpaceOnUse">'
            '<rect width="4" height="4" fill="#f7f7f7"/><path d="M0,4 L4,0" stroke="#ddd" stroke-width="0.8"/>'
            "</pattern></defs>",
            f'<rect x="{left}" y="{top}" width="{pw}" height="{rh * len(rows)}" fill="url(#norec)"/>']
    for t0, d in recorded:
        body.append(f'<rect x="{x(t0):.1f}" y="{top}" width="{max(x(t0 + d) - x(t0), 0.5):.1f}" '
                    f'height="{rh * len(rows)}" fill="#fff"/>')
    for t0, d, tip in bands:
        body.append(f'<rect x="{x(t0):.1f}" y="{top}" width="{max(x(t0 + d) - x(t0), 0.8):.1f}" '
                    f'height="{rh * len(rows)}" fill="#9aa" fill-opacity="0.25"><title>{escape(tip)}</title></rect>')
    for i, r in enumerate(rows):
        y = top + i * rh
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y + rh:.1f}" y2="{y + rh:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + rh * 0.72, r, 10, "end"))
    bin_s = RASTER_BIN_PX * total / pw
    bins: dict[tuple[int, int], int] = {}
    for i, t in ticks:
        k = (i, int(t // bin_s))
        bins[k] = bins.get(k, 0) + 1
    most = max(bins.values(), default=1)
    for (i, b), n in sorted(bins.items()):
        y = top + i * rh
        t0 = b * bin_s
        opacity = 1.0 if most <= 2 else 0.3 + 0.7 * (n - 1) / (most - 1)
        body.append(f'<rect x="{x(t0):.1f}" y="{y + 2}" width="{RASTER_BIN_PX * 0.75:.1f}" height="{rh - 4}" '
                    f'fill="{tick_colour}" fill-opacity="{opacity:.2f}"><title>{rows[i]}: {n} twitch'
                    f'{"es" if n > 1 else ""}, {_clock(start_clock_s, t0)}–{_clock(start_clock_s, t0 + bin_s)}'
                    "</title></rect>")
    for i, t, d, colour, tip in marks:
        y = top + i * rh
        w = max(x(t + d) - x(t), 1.2)
        body.append(f'<rect x="{x(t):.1f}" y="{y + 2}" width="{w:.1f}" height="{rh - 4}" fill="{colour}">'
                    f"<title>{escape(tip)}</title></rect>")
    # hour ticks on the clock
    first_hour = (int(start_clock_s // 3600) + 1) * 3600 - start_clock_s
    step_h = 1 if total <= 12 * 3600 else 2
    t = first_hour if total > 2 * 3600 else 0.0
    ticks = []
    if total <= 2 * 3600:
        step = 600.0 if total > 1200 else 60.0
        ticks = [k * step for k in range(int(total // step) + 1)]
    else:
        while t <= total:
            ticks.append(t)
            t += 3600 * step_h
    for t in ticks:
        clock = (start_clock_s + t) % 86400
        body.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + rh * len(rows) + 4}" '
                    f'stroke="{GRID}"/>')
        body.append(_text(x(t), top + rh * len(rows) + 16, f"{int(clock // 3600):02d}:{int(clock % 3600 // 60):02d}",
                          9, "middle", MUTED))
    return _svg(width, height, body, label)


def foot_map(rates: dict[tuple[str, str], tuple[float, str]], label: str, cramped: set[tuple[str, str]] = frozenset()
             ) -> str:
    """Both feet, top and sole, regions coloured by rate; ``rates[(side, region)] = (rate, tooltip)``.

    Left foot on the left, big toes towards the middle, as you look down at your own feet. Regions without
    a sensor are hatched: no data, not zero. A region that cramped has a thick red outline.
    """
    fw, fh, gap = 90.0, 150.0, 24.0
    panels = [("L", "top"), ("L", "sole"), ("R", "sole"), ("R", "top")]
    width = 4 * fw + 5 * gap
    height = fh + 70
    body = ['<defs><pattern id="nosensor" width="4" height="4" patternUnits="userSpaceOnUse">'
            '<rect width="4" height="4" fill="#f0f0f0"/><path d="M0,4 L4,0" stroke="#bbb" stroke-width="0.8"/>'
            "</pattern></defs>"]
    for k, (side, view) in enumerate(panels):
        ox = gap + k * (fw + gap)
        oy = 26.0
        sx = fw * 0.75  # a foot is narrower than its cell; the leg regions sit below the heel

        def px(xf: float, side: str = side) -> float:
            # medial edge towards the middle of the picture: the left foot is mirrored
            xf = 1 - xf if side == "L" else xf
            return ox + (fw - sx) / 2 + xf * sx

        def py(yf: float) -> float:
            return oy + yf * fh * 0.78

        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in OUTLINE)
        body.append(f'<polygon points="{pts}" fill="#fafafa" stroke="{MUTED}" stroke-width="1.2"/>')
        body.append(_text(ox + fw / 2, 14, f"{'left' if side == 'L' else 'right'} {view}", 10, "middle", MUTED))
        for code, (v, cx, cy, w, h) in SHAPES.items():
            if v != view:
                continue
            key = (side, code)
            rate, tip = rates.get(key, (None, f"{side}-{code}: no sensor"))
            fill = rate_colour(rate) if rate is not None else "url(#nosensor)"
            stroke = f'stroke="{ACCENT}" stroke-width="3"' if key in cramped else f'stroke="{MUTED}" stroke-width="0.6"'
            body.append(f'<ellipse cx="{px(cx):.1f}" cy="{py(cy):.1f}" rx="{w * sx / 2:.1f}" ry="{h * fh * 0.78 / 2:.1f}" '
                        f'fill="{fill}" {stroke}><title>{escape(tip)}</title></ellipse>')
            body.append(_text(px(cx), py(cy) + 3, code, 8, "middle", INK))
    body.append(_text(width / 2, height - 8, "left foot on the left, big toes towards the middle; hatched: no sensor; "
                      "red outline: a cramp", 9, "middle", MUTED))
    return _svg(width, height, body, label)
