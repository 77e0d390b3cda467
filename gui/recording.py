"""Recording a live stream from the moment the user presses Record.

``fascdetect.record.Recorder`` writes a stream from its first sample; the
monitor joins a stream that has been running for a while, so sample indices
and event times are rebased to the recording's own start (a whole second of
stream time, because an EDF+ header dates a file to the second).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Iterable, Sequence

from fascdetect.model import Block, Channel, Event
from fascdetect.record import Recorder


class LiveRecording:
    """An EDF+ file of a running stream, starting at stream time ``t0_s`` (whole seconds)."""

    def __init__(self, path: str | Path, channels: Sequence[Channel], stream_start, t0_s: int) -> None:
        self.t0_s = t0_s
        self._offset = {c.fs_hz: round(t0_s * c.fs_hz) for c in channels}
        self.recorder = Recorder(path, channels, stream_start + timedelta(seconds=t0_s))
        self.path = self.recorder.path

    @classmethod
    def from_block(cls, path: str | Path, channels: Sequence[Channel], stream_start, block: Block) -> "LiveRecording":
        """Start at the first whole second of stream time not before ``block``."""
        return cls(path, channels, stream_start, math.ceil(block.start / block.fs_hz - 1e-9))

    def write(self, block: Block) -> None:
        offset = self._offset[block.fs_hz]
        if block.end <= offset:
            return
        if block.start < offset:
            block = block.slice(offset - block.start, block.n)
        self.recorder.write(replace(block, start=block.start - offset))

    def add_events(self, events: Iterable[Event]) -> None:
        self.recorder.add_events(replace(e, onset_s=e.onset_s - self.t0_s) for e in events if e.onset_s >= self.t0_s)

    @property
    def size_bytes(self) -> int:
        return self.recorder.size_bytes

    @property
    def data_s(self) -> float:
        return self.recorder.data_s

    def close(self) -> None:
        self.recorder.close()
