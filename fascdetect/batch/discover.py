"""Which files a batch analyses: explicit paths, directories (searched recursively) and globs.

A directory is searched for EDF/BDF (``.edf``, ``.bdf``, ``.rec``) and WFDB
headers (``.hea``); CSV/TSV/text files are taken only when named or matched
by a glob, because recording folders are full of sidecar tables (BIDS
``*_events.tsv``, the simulator's ``*.truth.tsv``). A WFDB record counts
once however it is named (``x.hea``, ``x.dat`` or ``x``).
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path

from fascdetect.io.csv_import import CSV_SUFFIXES
from fascdetect.io.wfdb_import import record_name

log = logging.getLogger(__name__)

DIRECTORY_SUFFIXES = (".edf", ".bdf", ".rec", ".hea")
GLOB_CHARS = "*?["


def discover(items: list[str], exclude: Path | None = None) -> list[Path]:
    """Absolute recording paths in the order given (each directory's and glob's matches sorted), no duplicates.

    An explicit path that does not exist is kept: the batch reports it as a
    failed row ("file not found") rather than silently dropping it. Files
    under ``exclude`` (the batch's own output directory) are never taken.
    """
    seen: set[Path] = set()
    out: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None

    def take(path: Path) -> None:
        path = _canonical(path)
        if path in seen or (skip is not None and path.is_relative_to(skip)):
            return
        seen.add(path)
        out.append(path)

    for item in items:
        if any(c in item for c in GLOB_CHARS):
            before = len(out)
            for match in sorted(glob.glob(os.path.expanduser(item), recursive=True)):
                p = Path(match)
                if p.is_dir():
                    for f in _walk(p):
                        take(f)
                elif _is_recording(p, named=True):
                    take(p)
            if len(out) == before:
                log.warning("%s: no recording matches (other than ones already listed)", item)
        else:
            p = Path(os.path.expanduser(item))
            if p.is_dir():
                for f in _walk(p):
                    take(f)
            else:
                take(p)
    return out


def _walk(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if _is_recording(p, named=False):
                found.append(p)
    return found


def _is_recording(path: Path, named: bool) -> bool:
    suffix = path.suffix.lower()
    if suffix in DIRECTORY_SUFFIXES:
        return True
    if suffix == ".dat":
        # x.dat is the WFDB record x only when its header is there; x.hea is taken instead.
        return named and record_name(path).with_suffix(".hea").is_file()
    return named and suffix in CSV_SUFFIXES


def _canonical(path: Path) -> Path:
    path = path.absolute()
    if path.suffix.lower() == ".dat" and path.with_suffix(".hea").is_file():
        path = path.with_suffix(".hea")
    elif not path.exists() and path.with_name(path.name + ".hea").is_file():
        path = path.with_name(path.name + ".hea")  # a WFDB record by its bare name
    try:
        return path.resolve()
    except OSError:
        return path
