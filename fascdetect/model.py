"""The shapes every part shares: Channel, Block and Event.

A Block carries its own axes (rate, first-sample index, channels), so a
processor never needs to know whether it came from a file, the simulator or
a Bluetooth link. Time is kept as integer sample indices at the block's rate;
seconds are derived, which keeps chunked and whole-file runs bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fascdetect.regions import Placement

EVENT_KINDS = ("twitch", "burst", "cramp", "movement", "activity")


@dataclass(frozen=True)
class Channel:
    """One signal: its label, where it sits, its unit and rate.

    ``physical_min``/``physical_max`` are the input range of the ADC in the
    channel's unit; samples at either rail are treated as clipped.
    """

    label: str
    placement: Placement
    fs_hz: float
    unit: str = ""
    physical_min: float = -np.inf
    physical_max: float = np.inf

    @property
    def modality(self) -> str:
        return self.placement.modality

    @property
    def side(self) -> str:
        return self.placement.side

    @property
    def region(self) -> str:
        return self.placement.region

    def __post_init__(self) -> None:
        if not self.unit:
            object.__setattr__(self, "unit", "uV" if self.modality == "EMG" else "mg")

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "modality": self.modality,
            "side": self.side,
            "region": self.region,
            "axis": self.placement.axis,
            "unit": self.unit,
            "fs_hz": self.fs_hz,
        }


@dataclass(frozen=True)
class Block:
    """A stretch of samples for channels that share one sampling rate.

    ``data`` is float32, channels × samples, in physical units (µV for EMG,
    mg for ACC). ``start`` is the index of the first sample since recording
    start at ``fs_hz``. ``gap`` marks samples that were filled in because
    packets were lost (None: no gap in this block).
    """

    channels: tuple[Channel, ...]
    fs_hz: float
    start: int
    data: np.ndarray
    gap: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.data.shape[1])

    @property
    def start_s(self) -> float:
        return self.start / self.fs_hz

    @property
    def end(self) -> int:
        return self.start + self.n

    def slice(self, lo: int, hi: int) -> "Block":
        """Samples lo..hi (block-relative) as a new block."""
        gap = None if self.gap is None else self.gap[lo:hi]
        return replace(self, start=self.start + lo, data=self.data[:, lo:hi], gap=gap)


@dataclass(frozen=True)
class Event:
    """One classified event.

    ``peak`` is in the channel's unit (µV for EMG, mg for ACC); ``flags``
    holds extra booleans such as ``doublet`` or ``acc_confirmed``, and
    ``extra`` numbers such as a cramp's ``mean`` amplitude.
    """

    kind: str
    onset_s: float
    duration_s: float
    side: str
    region: str
    channel: str
    peak: float
    unit: str
    flags: frozenset[str] = frozenset()
    extra: tuple[tuple[str, float], ...] = field(default=())

    @property
    def end_s(self) -> float:
        return self.onset_s + self.duration_s

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "onset": round(self.onset_s, 6),
            "duration": round(self.duration_s, 6),
            "side": self.side,
            "region": self.region,
            "channel": self.channel,
            f"peak_{'uv' if self.unit == 'uV' else 'mg'}": round(float(self.peak), 3),
        }
        for flag in ("doublet", "multiplet", "acc_confirmed"):
            out[flag] = flag in self.flags
        if "gait" in self.flags:
            out["pattern"] = "gait"
        for key, value in self.extra:
            out[key] = round(float(value), 3)
        return out
