"""Putative motor units behind the twitches (issue 13): waveform extraction, clustering, matching.

A surface electrode sees a motor unit only as the summed potential of its
muscle fibres under the skin; a 'unit' here is a group of twitches whose
waveforms are alike on one channel. It is a putative unit, not a diagnosis.
"""

from fascdetect.units.config import SortConfig
from fascdetect.units.sorter import NOT_A_UNIT, MotorUnit, UnitSorter, UnitSorting, sort_blocks, unit_name

__all__ = ["NOT_A_UNIT", "MotorUnit", "SortConfig", "UnitSorter", "UnitSorting", "sort_blocks", "unit_name"]
