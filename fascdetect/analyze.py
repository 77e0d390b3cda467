"""Offline analysis: a Source run as fast as possible through the Pipeline.

``analyze`` returns an AnalysisResult that can render the human table, the
JSON document and the BIDS-style events TSV. It never returns None: a quiet
recording gives an empty event list.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from fascdetect.config import DetectorConfig
from fascdetect.io import open_recording
from fascdetect.model import Event
from fascdetect.pipeline import ClipReport, Pipeline, sort_events
from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources import Source
from fascdetect.tally import Tally
from fascdetect.units import UnitSorter, UnitSorting

# Beyond this many twitches per minute in several regions on both feet, we
# suggest showing a clinician; benign fasciculations are usually focal and
# sparse. This is a prompt to ask, not a finding.
WIDESPREAD_RATE_PER_MIN = 10.0
WIDESPREAD_MIN_REGIONS = 4
# A rate over less rest than this says little (a few twitches in seconds of rest between contractions).
MIN_REST_FOR_RATE_S = 60.0
# Recordings shorter than this finish before a progress bar would help.
PROGRESS_MIN_S = 300.0
TSV_COLUMNS = ("onset", "duration", "trial_type", "side", "region", "channel", "peak", "unit", "flags",
               "motor_unit")


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
    motor_units: UnitSorting = field(default_factory=UnitSorting)
    """Putative motor units behind the twitches (issue 13; ``fascdetect.units``)."""

    def summary(self) -> dict[str, Any]:
        unusable: dict[tuple[str, str], float] = {}
        for c in self.channels:
            report = self.clips.get(c["label"])
            if report is not None:
                key = (c["side"], c["region"])
                unusable[key] = max(unusable.get(key, 0.0), report.samples / c["fs_hz"])
        out = self.tally.summary(self.duration_s, unusable)
        out["clipped"] = {label: {"seconds": round(r.samples / self.fs_by_label[label], 3), "stretches": r.stretches,
                                  "first_s": round(r.first_s or 0.0, 3)} for label, r in self.clips.items()}
        out["mains_hz"] = self.mains_hz
        out["motor_units"] = self.motor_units.summary({(r["side"], r["region"]): r["rest_s"] for r in out["regions"]})
        out["notes"] = self.notes(out)
        return out

    def notes(self, summary: dict[str, Any]) -> list[str]:
        notes = self.rate_notes()
        notes += [f"{r['name']}: only {r['rest_s']:.0f} s at rest, so its rate of {r['twitches_per_min']:g}/min "
                  "says little." for r in summary["regions"]
                  if r["twitches"] and r["rest_s"] < MIN_REST_FOR_RATE_S]
        busy = [r for r in summary["regions"] if r["twitches_per_min"] >= WIDESPREAD_RATE_PER_MIN]
        if len(busy) >= WIDESPREAD_MIN_REGIONS and len({r["side"] for r in busy}) == 2:
            notes.append(f"Frequent twitching in {len(busy)} regions on both feet (>= {WIDESPREAD_RATE_PER_MIN:g}/min):"
                         " a pattern worth showing a clinician. fascdetect describes signals; it does not diagnose.")
        return notes

    def rate_notes(self) -> list[str]:
        """Sampling rates too low to see a twitch are said, not guessed."""
        c = self.config
        slow_acc = sorted({(ch["fs_hz"], f"ACC {ch['side']}-{ch['region']}") for ch in self.channels
                           if ch["modality"] == "ACC" and ch["fs_hz"] < c.acc_min_twitch_fs_hz})
        slow_emg = sorted({(ch["fs_hz"], ch["label"]) for ch in self.channels
                           if ch["modality"] == "EMG" and ch["fs_hz"] < c.emg_min_twitch_fs_hz})
        notes = [f"{label} is sampled at {fs:g} Hz: below {c.acc_min_twitch_fs_hz:g} Hz an accelerometer cannot "
                 "resolve a twitch's mechanical response, so it gives movement only (no twitches)."
                 for fs, label in slow_acc]
        notes += [f"{label} is sampled at {fs:g} Hz: below {c.emg_min_twitch_fs_hz:g} Hz a 3-40 ms potential is "
                  "barely resolved, so twitch detection there is unreliable." for fs, label in slow_emg]
        return notes

    def to_json(self) -> dict[str, Any]:
        summary = self.summary()
        rest = {(r["side"], r["region"]): r["rest_s"] for r in summary["regions"]}
        return {
            "recording": {
                "path": self.path,
                "duration_s": round(self.duration_s, 6),
                "start": self.start,
                "channels": [{**c, "rest_s": rest.get((c["side"], c["region"]), 0.0)} for c in self.channels],
                "skipped": [{"label": label, "reason": reason} for label, reason in self.skipped],
            },
            "events": [self._event_json(e) for e in self.events],
            "summary": summary,
        }

    def _event_json(self, e: Event) -> dict[str, Any]:
        unit = self.motor_units.label(e)
        return e.to_json() if unit is None else {**e.to_json(), "motor_unit": unit}

    def write_tsv(self, path: str | Path) -> None:
        """BIDS-style events table; written owner-readable only (health data)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(TSV_COLUMNS)
            for e in self.events:
                w.writerow([f"{e.onset_s:.4f}", f"{e.duration_s:.4f}", e.kind, e.side, e.region, e.channel,
                            f"{e.peak:.2f}", e.unit, ",".join(sorted(e.flags)) or "n/a",
                            self.motor_units.label(e) or "n/a"])

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
        head = f"{'side':<5}{'region':<7}{'twitches':>9}{'per min':>9}{'rest min':>9}{'doublets':>9}{'bursts':>7}" \
               f"{'cramps':>7}{'cramp s':>9}{'active s':>9}  muscle"
        lines.append(head)
        lines.append("-" * len(head))
        for r in s["regions"]:
            lines.append(f"{r['side']:<5}{r['region']:<7}{r['twitches']:>9}{r['twitches_per_min']:>9.2f}"
                         f"{r['rest_s'] / 60:>9.1f}{r['doublets']:>9}{r['bursts']:>7}{r['cramps']:>7}"
                         f"{r['cramp_total_s']:>9.1f}{r['active_s']:>9.1f}  {r['name']}")
        for side, m in s["movement"].items():
            lines.append(f"Movement, {'left' if side == 'L' else 'right'} foot: {m['count']} episode(s), "
                         f"{_hms(m['total_s'])} (twitches not counted while moving)")
        lines.append("Twitches are counted only at rest: not during movement, voluntary activity or cramps "
                     "('rest min', 'active s').")
        units = self.motor_units.per_region()
        if units:
            lines.append("Putative motor units (twitch waveforms alike on one channel; not a diagnosis): "
                         + ", ".join(f"{side}-{region} {n}" for (side, region), n in sorted(units.items())))
        lines.append(f"Total: {s['twitches']} twitches, {s['bursts']} bursts, {s['cramps']} cramps")
        lines.extend(s["notes"])
        return "\n".join(lines)


def _hms(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h)}:{int(m):02d}:{s:04.1f}"


@dataclass
class _Pass:
    """What one pipeline pass over (part of) a recording produced."""

    events: list[Event]
    clips: dict[str, ClipReport]
    mains_hz: list[float]
    done_s: float
    units: UnitSorting


def _run_pipeline(source: Source, config: DetectorConfig, on_progress: Callable[[float], None]) -> _Pass:
    pipe = Pipeline(source.channels, config)
    sorter = UnitSorter(source.channels, detector=config, live=False)  # in each foot's own pass
    events: list[Event] = []
    done_s = 0.0
    for block in source.blocks():
        step = pipe.feed(block)
        sorter.feed(block, step.filtered, step.events, pipe.earliest_open_s)
        events.extend(step.events)
        done_s = max(done_s, block.end / block.fs_hz)
        on_progress(done_s)
    last = pipe.flush()
    events.extend(last)
    return _Pass(events, pipe.clip_reports(), pipe.mains_hz(), done_s, sorter.finish(last))


class _Progress:
    """A tqdm bar on stderr driven by 'seconds of signal done'."""

    def __init__(self, total_s: float | None, show: bool) -> None:
        self.bar = tqdm(total=round(total_s or 0.0), unit="s", desc="analysing", file=sys.stderr, disable=not show,
                        dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")
        self.done_s = 0.0

    def advance_to(self, done_s: float) -> None:
        if done_s > self.done_s:
            self.bar.update(done_s - self.done_s)
            self.done_s = done_s

    def close(self) -> None:
        self.bar.close()


def _show_progress(source: Source, progress: bool | None) -> bool:
    return progress if progress is not None else (source.duration_s or 0.0) >= PROGRESS_MIN_S


def analyze(source: Source, config: DetectorConfig | None = None, progress: bool | None = False,
            path: str = "") -> AnalysisResult:
    """Run ``source`` through the pipeline; ``progress`` shows a bar on stderr (None: for long recordings)."""
    config = config or DetectorConfig()
    bar = _Progress(source.duration_s, _show_progress(source, progress))
    try:
        run = _run_pipeline(source, config, bar.advance_to)
    finally:
        bar.close()
    return _result(source, config, path, [run])


def analyze_path(path: str | Path, montage: Montage = NO_MONTAGE, config: DetectorConfig | None = None,
                 progress: bool | None = None, workers: int | None = None) -> AnalysisResult:
    """Open and analyse a recording file.

    The feet are independent (each has its own chains and classifier), so for
    an EDF/BDF with both feet and a second core, each foot runs in its own
    process over the same file: the very same pipeline, half the channels
    each, and exactly the events of a single pass.
    """
    config = config or DetectorConfig()
    source = open_recording(path, montage)
    try:
        sides = split_sides(source)
        n = min(workers or os.cpu_count() or 1, len(sides))
        if n < 2:
            return analyze(source, config, progress, str(path))
        ctx = mp.get_context()
        done = ctx.Array("d", len(sides))
        bar = _Progress(source.duration_s, _show_progress(source, progress))
        try:
            with ProcessPoolExecutor(n, mp_context=ctx, initializer=_share_progress, initargs=(done,)) as pool:
                futures = [pool.submit(_analyze_side, str(path), montage, config, i, side)
                           for i, side in enumerate(sides)]
                while wait(futures, timeout=0.25).not_done:
                    bar.advance_to(min(done[:]))
                runs = [f.result() for f in futures]
        finally:
            bar.close()
        return _result(source, config, str(path), runs)
    finally:
        source.close()


def split_sides(source: Source) -> list[str]:
    """The feet a recording can be analysed by, one pass each: [] for one foot, or a reader that cannot restrict."""
    sides = sorted({c.side for c in source.channels})
    return sides if len(sides) > 1 and hasattr(source, "restrict") else []


def analyze_side(path: str | Path, montage: Montage, config: DetectorConfig, side: str,
                 on_progress: Callable[[float], None] | None = None) -> _Pass:
    """One foot's channels of the recording through the pipeline; ``combine_sides`` makes the passes one result.

    ``on_progress`` is called with the seconds of signal done so far.
    """
    source = open_recording(path, montage)
    try:
        source.restrict({c.label for c in source.channels if c.side == side})
        return _run_pipeline(source, config, on_progress or (lambda done_s: None))
    finally:
        source.close()


def combine_sides(path: str | Path, montage: Montage, config: DetectorConfig, runs: list[_Pass]) -> AnalysisResult:
    """The passes of ``analyze_side`` over every foot (in ``split_sides`` order) as ``analyze_path``'s result."""
    source = open_recording(path, montage)
    try:
        return _result(source, config, str(path), runs)
    finally:
        source.close()


_progress_shared = None


def _share_progress(done) -> None:
    global _progress_shared
    _progress_shared = done


def _analyze_side(path: str, montage: Montage, config: DetectorConfig, index: int, side: str) -> _Pass:
    """Worker process: one foot's channels of the recording through the pipeline."""

    def report(done_s: float) -> None:
        _progress_shared[index] = done_s

    return analyze_side(path, montage, config, side, report)


def _result(source: Source, config: DetectorConfig, path: str, runs: list[_Pass]) -> AnalysisResult:
    events = sort_events([e for r in runs for e in r.events])
    tally = Tally([(c.side, c.region) for c in source.channels],
                  margins_s=(config.movement_margin_s, config.activity_margin_s))
    tally.add(events)
    done_s = max(r.done_s for r in runs)
    return AnalysisResult(
        path=path,
        duration_s=source.duration_s if source.duration_s is not None else done_s,
        start=source.start.isoformat(),
        channels=[c.describe() for c in source.channels],
        skipped=list(source.skipped),
        events=events,
        tally=tally,
        config=config,
        clips={label: c for r in runs for label, c in r.clips.items()},
        mains_hz=sorted({f for r in runs for f in r.mains_hz}),
        fs_by_label={c.label: c.fs_hz for c in source.channels},
        motor_units=UnitSorting.combine(r.units for r in runs),
    )
