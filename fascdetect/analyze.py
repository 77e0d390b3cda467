"""Offline analysis: a Source run as fast as possible through the Pipeline.

``analyze`` returns an AnalysisResult that can render the human table, the
JSON document and the BIDS-style events TSV. It never returns None: a quiet
recording gives an empty event list.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fascdetect.config import DetectorConfig
from fascdetect.model import Event
from fascdetect.pipeline import ClipReport, Pipeline, sort_events
from fascdetect.sources import Source
from fascdetect.tally import Tally

# Beyond this many twitches per minute in several regions on both feet, we
# suggest showing a clinician; benign fasciculations are usually focal and
# sparse. This is a prompt to ask, not a finding.
WIDESPREAD_RATE_PER_MIN = 10.0
WIDESPREAD_MIN_REGIONS = 4
TSV_COLUMNS = ("onset", "duration", "trial_type", "side", "region", "channel", "peak", "unit", "flags")


@dataclass
class AnalysisResult:
    path: str
    duration_s: float
    start: str
    channels: list[dict[str, Any]]
    skipped: list[tuple[str, str]]
    events: list[Event]
    tally: Tally
    config: DetectorConfig
    clips: dict[str, ClipReport]
    mains_hz: list[float]
    fs_by_label: dict[str, float]

    def summary(self) -> dict[str, Any]:
        out = self.tally.summary(self.duration_s)
        out["clipped"] = {label: {"seconds": round(r.samples / self.fs_by_label[label], 3), "stretches": r.stretches,
                                  "first_s": round(r.first_s or 0.0, 3)} for label, r in self.clips.items()}
        out["mains_hz"] = self.mains_hz
        out["notes"] = self.notes(out)
        return out

    def notes(self, summary: dict[str, Any]) -> list[str]:
        busy = [r for r in summary["regions"] if r["twitches_per_min"] >= WIDESPREAD_RATE_PER_MIN]
        if len(busy) >= WIDESPREAD_MIN_REGIONS and len({r["side"] for r in busy}) == 2:
            return [f"Frequent twitching in {len(busy)} regions on both feet (>= {WIDESPREAD_RATE_PER_MIN:g}/min): "
                    "a pattern worth showing a clinician. fascdetect describes signals; it does not diagnose."]
        return []

    def to_json(self) -> dict[str, Any]:
        return {
            "recording": {
                "path": self.path,
                "duration_s": round(self.duration_s, 6),
                "start": self.start,
                "channels": self.channels,
                "skipped": [{"label": label, "reason": reason} for label, reason in self.skipped],
            },
            "events": [e.to_json() for e in self.events],
            "summary": self.summary(),
        }

    def write_tsv(self, path: str | Path) -> None:
        """BIDS-style events table; written owner-readable only (health data)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(TSV_COLUMNS)
            for e in self.events:
                w.writerow([f"{e.onset_s:.4f}", f"{e.duration_s:.4f}", e.kind, e.side, e.region, e.channel,
                            f"{e.peak:.2f}", e.unit, ",".join(sorted(e.flags)) or "n/a"])

    def table(self) -> str:
        s = self.summary()
        lines = [f"Recording: {self.path}", f"Start: {self.start}   length: {_hms(self.duration_s)}",
                 f"Channels used: {len(self.channels)} ({', '.join(c['label'] for c in self.channels)})"]
        for label, reason in self.skipped:
            lines.append(f"Skipped: {label}: {reason}")
        if s["mains_hz"]:
            lines.append(f"Mains removed: {', '.join(f'{f:g}' for f in s['mains_hz'])} Hz")
        for label, c in s["clipped"].items():
            lines.append(f"Clipped: {label}: {c['seconds']:.2f} s in {c['stretches']} stretch(es), first at "
                         f"{_hms(c['first_s'])}; excluded from detection")
        lines.append("")
        head = f"{'side':<5}{'region':<7}{'twitches':>9}{'per min':>9}{'doublets':>9}{'bursts':>7}{'cramps':>7}" \
               f"{'cramp s':>9}{'longest':>9}  muscle"
        lines.append(head)
        lines.append("-" * len(head))
        for r in s["regions"]:
            lines.append(f"{r['side']:<5}{r['region']:<7}{r['twitches']:>9}{r['twitches_per_min']:>9.2f}"
                         f"{r['doublets']:>9}{r['bursts']:>7}{r['cramps']:>7}{r['cramp_total_s']:>9.1f}"
                         f"{r['cramp_longest_s']:>9.1f}  {r['name']}")
        for side, m in s["movement"].items():
            lines.append(f"Movement, {'left' if side == 'L' else 'right'} foot: {m['count']} episode(s), "
                         f"{_hms(m['total_s'])} (twitches not counted while moving)")
        lines.append(f"Total: {s['twitches']} twitches, {s['bursts']} bursts, {s['cramps']} cramps")
        lines.extend(s["notes"])
        return "\n".join(lines)


def _hms(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h)}:{int(m):02d}:{s:04.1f}"


def analyze(source: Source, config: DetectorConfig | None = None, progress: bool = False,
            path: str = "") -> AnalysisResult:
    """Run ``source`` through the pipeline; ``progress`` shows a bar on stderr."""
    config = config or DetectorConfig()
    pipe = Pipeline(source.channels, config)
    tally = Tally([(c.side, c.region) for c in source.channels])
    events: list[Event] = []
    total = source.duration_s or 0.0
    done_s = 0.0
    with tqdm(total=round(total), unit="s", desc="analysing", file=sys.stderr, disable=not progress,
              dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]") as bar:
        for block in source.blocks():
            step = pipe.feed(block)
            events.extend(step.events)
            end_s = block.end / block.fs_hz
            if end_s > done_s:
                bar.update(end_s - done_s)
                done_s = end_s
        events.extend(pipe.flush())
    events = sort_events(events)
    tally.add(events)
    return AnalysisResult(
        path=path,
        duration_s=source.duration_s if source.duration_s is not None else done_s,
        start=source.start.isoformat(),
        channels=[c.describe() for c in source.channels],
        skipped=list(source.skipped),
        events=events,
        tally=tally,
        config=config,
        clips=pipe.clip_reports(),
        mains_hz=pipe.mains_hz(),
        fs_by_label={c.label: c.fs_hz for c in source.channels},
    )
