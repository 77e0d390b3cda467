"""Recording: a live Source written to EDF+/BDF+ while the detector runs on the same blocks.

The file side (``Recorder``) and the loop (``record``) are apart so the
monitor can record what it already runs through its own pipeline. Events
become EDF+ annotations (``kind@@channel``) the moment the pipeline makes them
final, and ``EdfWriter`` puts each on disk at once, so a killed recorder
keeps every event it had reported.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Sequence

import numpy as np

from fascdetect.io.annotate import event_annotation
from fascdetect.io.edf_write import EdfWriter
from fascdetect.model import Block, Channel, Event
from fascdetect.pipeline import Pipeline
from fascdetect.sources import Source


class Recorder:
    """Blocks and events → an EDF+/BDF+ file, up to an optional length ``limit_s``.

    The limit cuts blocks at the sample, so a 30 s recording holds exactly
    30 s (whole data records; the writer never pads).
    """

    def __init__(self, path: str | Path, channels: Sequence[Channel], start: datetime, *, bdf: bool = False,
                 overwrite: bool = False, limit_s: float | None = None) -> None:
        self.writer = EdfWriter(path, channels, start, bdf=bdf, overwrite=overwrite)
        self.path = self.writer.path
        self.limit_s = limit_s
        self._end = {c.fs_hz: 0 for c in channels}  # next sample index per rate group
        self.events: Counter[str] = Counter()
        """Events annotated so far, by kind."""
        self.gap_s = 0.0
        """Seconds filled in for lost data, counted on one rate group (every group reports the same loss)."""
        self._gap_rate_hz = channels[0].fs_hz

    def write(self, block: Block) -> Block | None:
        """Write the part of ``block`` within the limit; return that part (None if nothing was left)."""
        if self.limit_s is not None:
            stop = round(self.limit_s * block.fs_hz) - block.start
            if stop <= 0:
                return None
            if stop < block.n:
                block = block.slice(0, stop)
        self.writer.write(block)
        self._end[block.fs_hz] = block.end
        if block.gap is not None and block.fs_hz == self._gap_rate_hz:
            self.gap_s += float(np.count_nonzero(block.gap)) / block.fs_hz
        return block

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
            self.writer.annotate(event.onset_s, event.duration_s, event_annotation(event))
            self.events[event.kind] += 1

    @property
    def data_s(self) -> float:
        """Seconds of signal received for every channel (the slowest rate group decides)."""
        return min(end / fs_hz for fs_hz, end in self._end.items())

    @property
    def file_s(self) -> float:
        """Seconds in the file: whole data records only."""
        return self.writer.n_records * self.writer.record_s

    @property
    def done(self) -> bool:
        return self.limit_s is not None and all(end >= round(self.limit_s * fs) for fs, end in self._end.items())

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record(source: Source, recorder: Recorder, pipeline: Pipeline | None = None, *,
           should_stop: Callable[[], bool] = lambda: False,
           waiting: Callable[[], ContextManager[object]] = contextlib.nullcontext,
           on_block: Callable[[Recorder], None] | None = None,
           on_events: Callable[[list[Event]], None] | None = None) -> None:
    """Copy ``source`` into ``recorder``, detecting events on the way, until the source
    ends, the recorder's limit is reached or ``should_stop()``.

    Only the wait for the next block runs inside ``waiting()``: the CLI lets a
    stop signal interrupt that wait, never the writing of a block, so the file
    and the detector state stay consistent. The pipeline is flushed whatever
    ends the loop, and its last events annotated. ``on_events`` gets every
    final event too, after it is annotated (e.g. an LSL marker outlet).
    """

    def add(events: list[Event]) -> None:
        recorder.add_events(events)
        if on_events is not None and events:
            on_events(events)

    blocks = iter(source.blocks())
    try:
        while not (recorder.done or should_stop()):
            with waiting():
                block = next(blocks, None)
            if block is None:
                break
            part = recorder.write(block)
            if part is not None and pipeline is not None:
                add(pipeline.feed(part).events)
            if on_block is not None:
                on_block(recorder)
    finally:
        if pipeline is not None:
            add(pipeline.flush())
