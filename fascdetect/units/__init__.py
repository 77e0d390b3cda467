"""Putative motor units behind the twitches (issue 13): waveform extraction, clustering, matching.

A surface electrode sees a motor unit only as the summed potential of its
muscle fibres under the skin; a 'unit' here is a group of twitches whose
waveforms are alike on one channel. It is a putative unit, not a diagnosis.

Only ``SortConfig`` is imported with the package: the detector's settings
carry it (``DetectorConfig.motor_units``), and showing them must load no
numpy. The sorter itself loads on first use.
"""

from importlib import import_module
from typing import Any

from fascdetect.units.config import SortConfig

_FROM_SORTER = ("NOT_A_UNIT", "MotorUnit", "UnitSorter", "UnitSorting", "sort_blocks", "unit_name")

__all__ = ["SortConfig", *_FROM_SORTER]


def __getattr__(name: str) -> Any:
    if name in _FROM_SORTER:
        return getattr(import_module("fascdetect.units.sorter"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
