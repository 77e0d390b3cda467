"""Where blocks come from: recordings (replay), the simulator, a BLE wearable.

Every source has the same small shape, so the pipeline, the recorder and the
GUI never ask which one they have.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: importing the model (numpy) here would load it for every --help
    from fascdetect.model import Block, Channel


@runtime_checkable
class Source(Protocol):
    """Yields Blocks; describes its channels before the first block.

    ``channels`` lists every channel the source will deliver (all rate
    groups); ``start`` is the wall-clock time of sample 0; ``duration_s`` is
    known for recordings and None for live streams. ``blocks()`` yields blocks
    in time order within each rate group (different rate groups interleave)
    and ends when the source is exhausted or ``close()`` is called.
    ``skipped`` lists labels the source could not map, with the reason.
    """

    channels: tuple[Channel, ...]
    start: datetime
    duration_s: float | None
    skipped: tuple[tuple[str, str], ...]

    def blocks(self) -> Iterator[Block]: ...

    def close(self) -> None: ...
