"""Recording files: open any supported format as a Source; write EDF+/BDF+.

``open_recording`` decides the format by content where the format has a
signature (EDF/BDF) and by extension otherwise, so a mislabelled EDF still
opens and an unknown file gets a message naming what is supported.
"""

from __future__ import annotations

from pathlib import Path

from fascdetect.errors import RecordingError
from fascdetect.io.csv_import import CSV_SUFFIXES, CsvSource
from fascdetect.io.edf_read import SUPPORTED, EdfSource, is_edf
from fascdetect.io.wfdb_import import WfdbSource, is_wfdb
from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources import Source

__all__ = ["SUPPORTED", "CsvSource", "EdfSource", "WfdbSource", "open_recording"]

EDF_SUFFIXES = (".edf", ".bdf", ".rec")


def open_recording(path: str | Path, montage: Montage = NO_MONTAGE) -> Source:
    """Open a recording as a Source; RecordingError for missing or unsupported files.

    A WFDB record may be named by its ``.hea``, its ``.dat`` or its bare
    record name.
    """
    path = Path(path)
    if is_wfdb(path):
        return WfdbSource(path, montage)
    if not path.is_file():
        raise RecordingError(f"{path}: file not found")
    if is_edf(path) or path.suffix.lower() in EDF_SUFFIXES:
        return EdfSource(path, montage)
    if path.suffix.lower() in CSV_SUFFIXES:
        return CsvSource(path, montage)
    raise RecordingError(f"{path}: unknown recording format; supported formats: {SUPPORTED}")
