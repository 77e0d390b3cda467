"""Recording files: open any supported format as a Source; write EDF+/BDF+.

``open_recording`` decides the format by content where the format has a
signature (EDF/BDF) and by extension otherwise, so a mislabelled EDF still
opens and an unknown file gets a message naming what is supported.
"""

from __future__ import annotations

from pathlib import Path

from fascdetect.errors import RecordingError
from fascdetect.io.edf_read import SUPPORTED, EdfSource, is_edf
from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources import Source

__all__ = ["SUPPORTED", "EdfSource", "open_recording"]

EDF_SUFFIXES = (".edf", ".bdf", ".rec")


def open_recording(path: str | Path, montage: Montage = NO_MONTAGE) -> Source:
    """Open a recording as a Source; RecordingError for missing or unsupported files."""
    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"{path}: file not found")
    if is_edf(path) or path.suffix.lower() in EDF_SUFFIXES:
        return EdfSource(path, montage)
    raise RecordingError(f"{path}: unknown recording format; supported formats: {SUPPORTED}")
