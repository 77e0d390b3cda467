"""Turning a file's signal description into a Channel, or a reason to skip it.

Every reader (EDF/BDF, WFDB, CSV) meets the same questions: does the label
map to a foot placement, and can its unit be converted to ours (µV for EMG,
mg for ACC)? Answering them in one place keeps the skip reasons identical
whatever the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fascdetect.errors import RecordingError
from fascdetect.model import Channel
from fascdetect.regions import Montage

STANDARD_G_MS2 = 9.80665

# Factors from a file's unit to ours; keys are lower-cased, spaces removed.
_TO_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
_TO_MG = {"mg": 1.0, "g": 1e3, "m/s^2": 1e3 / STANDARD_G_MS2, "m/s2": 1e3 / STANDARD_G_MS2, "m/s²": 1e3 / STANDARD_G_MS2}
OUR_UNIT = {"EMG": "uV", "ACC": "mg"}
ACCEPTED_UNITS = {"EMG": "uV, µV, mV or V", "ACC": "mg, g or m/s^2"}

UNKNOWN_START = datetime(1985, 1, 1)
"""Start time for files that do not record one (WFDB without a date, CSV):
EDF's own "unknown" date, so a later EDF copy shows it for what it is."""

UNMAPPED_REASON = "label does not follow '<MOD> <SIDE>-<REGION>[-<AXIS>]' and is not in the montage"


@dataclass(frozen=True)
class MappedChannel:
    """A usable channel and how file values become our unit: ``(value - offset) * scale``."""

    channel: Channel
    scale: float
    offset: float = 0.0


def unit_scale(modality: str, unit: str) -> float | None:
    """Factor from ``unit`` to the modality's unit (µV or mg), or None if unknown."""
    table = _TO_UV if modality == "EMG" else _TO_MG
    return table.get(unit.replace(" ", "").lower())


def map_channel(
    label: str,
    fs_hz: float,
    unit: str | None,
    montage: Montage,
    physical_min: float = float("-inf"),
    physical_max: float = float("inf"),
) -> MappedChannel | str:
    """The channel for a file signal, or the reason (a sentence) it is skipped.

    ``unit`` None means the format states no unit: values are taken as µV
    (EMG) or mg (ACC), as documented for CSV import, unless the montage gives
    the label a calibration from raw ADC counts.
    """
    placement = montage.resolve(label)
    if placement is None:
        return UNMAPPED_REASON
    calibration = montage.calibrations.get(label.strip()) if unit is None else None
    if calibration is None:
        unit = unit or OUR_UNIT[placement.modality]
        scale = unit_scale(placement.modality, unit)
        if scale is None:
            return (
                f"unit {unit!r} cannot be interpreted for {placement.modality} "
                f"(accepted: {ACCEPTED_UNITS[placement.modality]})"
            )
        offset, physical_min, physical_max = 0.0, physical_min * scale, physical_max * scale
    else:
        scale, offset = calibration.scale, calibration.offset
        physical_min, physical_max = calibration.physical_range()
    if not fs_hz > 0:
        return f"sampling rate {fs_hz!r} Hz is not positive"
    channel = Channel(
        label=label.strip(),
        placement=placement,
        fs_hz=float(fs_hz),
        unit=OUR_UNIT[placement.modality],
        physical_min=physical_min,
        physical_max=physical_max,
    )
    return MappedChannel(channel, scale, offset)


def no_usable_channels_message(path: object, skipped: list[tuple[str, str]]) -> str:
    """One line naming every skipped signal and why (for RecordingError)."""
    if not skipped:
        return f"{path}: no signals in the file"
    listed = "; ".join(f"{label!r}: {reason}" for label, reason in skipped)
    return f"{path}: no usable channels (skipped {listed}); a --montage file can map other labels"


def split_mapped(results: list[tuple[int, str, MappedChannel | str]], where: object
                 ) -> tuple[list[tuple[int, MappedChannel]], tuple[tuple[str, str], ...]]:
    """Sort ``(index, label, map_channel result)`` into usable channels and ``(label, reason)`` skips.

    RecordingError naming every skip when nothing is usable.
    """
    mapped = [(i, r) for i, _, r in results if not isinstance(r, str)]
    skipped = tuple((label, r) for _, label, r in results if isinstance(r, str))
    if not mapped:
        raise RecordingError(no_usable_channels_message(where, list(skipped)))
    return mapped, skipped
