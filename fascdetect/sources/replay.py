"""Replay a recording as if it were arriving live: real time, N× speed, or flat out.

The live monitor and the recorder only know the Source interface; wrapping a
file source here gives them the same small blocks, released when a device
would have delivered them (a stretch of samples is "available" at its end
time), so a recorded night can be watched or re-recorded like a live one.
"""

from __future__ import annotations

import heapq
import itertools
import time
from datetime import datetime
from typing import Iterator

from fascdetect.errors import InputError
from fascdetect.model import Block, Channel
from fascdetect.sources import Source


LIVE_BLOCK_S = 0.05
"""Block length of a paced replay (and the monitor's simulated wearable). A twitch closes only once the samples
after it have arrived, so it can wait a whole block: 50 ms blocks keep it on screen within 150 ms."""


class ReplaySource:
    """Wraps a recording Source and paces its blocks.

    ``speed`` 1.0 is real time, 4.0 four times faster, None as fast as
    possible. Blocks are cut to about ``chunk_s`` and released in time order
    across rate groups. With ``loop`` the recording starts again after its
    end, sample indices continuing (so downstream time keeps increasing), and
    ``duration_s`` is None, as for a live stream.
    """

    def __init__(
        self,
        source: Source,
        speed: float | None = 1.0,
        loop: bool = False,
        chunk_s: float = LIVE_BLOCK_S,
    ) -> None:
        if speed is not None and not speed > 0:
            raise InputError(f"replay speed must be positive (or None for as fast as possible), not {speed}")
        if not chunk_s > 0:
            raise InputError(f"replay chunk must be positive, not {chunk_s} s")
        self.source = source
        self.speed = speed
        self.loop = loop
        self.chunk_s = chunk_s
        self.channels: tuple[Channel, ...] = source.channels
        self.start: datetime = source.start
        self.duration_s: float | None = None if loop else source.duration_s
        self.skipped: tuple[tuple[str, str], ...] = source.skipped
        self._closed = False

    def blocks(self) -> Iterator[Block]:
        t0 = time.monotonic()
        for block in self._pieces():
            if self._closed:
                return
            if self.speed is not None:
                wait_s = t0 + (block.end / block.fs_hz) / self.speed - time.monotonic()
                if wait_s > 0:
                    time.sleep(wait_s)
            yield block

    def _pieces(self) -> Iterator[Block]:
        """Source blocks cut to ~chunk_s, merged across rate groups by end time.

        A piece is released only once every rate group has been read past its
        end, so the order is right whatever the source's own chunk size.
        """
        rates = sorted({c.fs_hz for c in self.channels})
        frontier_s = dict.fromkeys(rates, 0.0)
        offset = dict.fromkeys(rates, 0)  # samples of earlier passes (looping)
        heap: list[tuple[float, int, Block]] = []
        seq = itertools.count()
        passes = itertools.count() if self.loop else range(1)
        for _ in passes:
            pass_samples = dict.fromkeys(rates, 0)
            for block in self.source.blocks():
                if self._closed:
                    return
                block = Block(block.channels, block.fs_hz, block.start + offset[block.fs_hz], block.data, block.gap)
                pass_samples[block.fs_hz] = max(pass_samples[block.fs_hz], block.end - offset[block.fs_hz])
                step = max(1, round(self.chunk_s * block.fs_hz))
                for lo in range(0, block.n, step):
                    piece = block.slice(lo, min(lo + step, block.n))
                    heapq.heappush(heap, (piece.end / piece.fs_hz, next(seq), piece))
                frontier_s[block.fs_hz] = block.end / block.fs_hz
                ready_s = min(frontier_s.values())
                while heap and heap[0][0] <= ready_s:
                    yield heapq.heappop(heap)[2]
            if not any(pass_samples.values()):
                break  # an empty recording would loop forever
            for fs_hz in rates:
                offset[fs_hz] += pass_samples[fs_hz]
            frontier_s = {fs_hz: offset[fs_hz] / fs_hz for fs_hz in rates}
            ready_s = min(frontier_s.values())
            while heap and (heap[0][0] <= ready_s or not self.loop):
                yield heapq.heappop(heap)[2]

    def close(self) -> None:
        self._closed = True
        self.source.close()

    def __enter__(self) -> "ReplaySource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
