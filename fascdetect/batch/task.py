"""One recording on a worker: its files, their content hash, the analysis, as plain data.

``run_task`` never raises for a bad recording: a missing, corrupt or
truncated file comes back as a ``failed`` Outcome with a one-line reason,
so one file cannot stop a cohort. The Outcome holds only builtins (the
analysis as ``AnalysisResult.to_json()``), so it travels from any worker
and whatever the analyser adds to its JSON reaches the Parquet unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from fascdetect import __version__
from fascdetect.config import DetectorConfig
from fascdetect.errors import FascdetectError
from fascdetect.regions import Montage

log = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Task:
    """What a worker needs: the recording, the settings, and the hash already done with them."""

    path: str
    """Absolute path, readable by the worker (shared storage on a cluster)."""
    montage: Montage
    config: DetectorConfig
    known_sha256: str | None = None
    """Content hash of this path's earlier result with the same settings: equal content skips the analysis."""
    keep_analysis: bool = False
    """Also return the AnalysisResult itself (for the history database), not only its JSON."""


@dataclass
class Outcome:
    path: str
    status: str
    """``done``, ``failed``, or ``unchanged`` (content equal to ``known_sha256``: nothing analysed)."""
    recording_id: str | None = None
    """SHA-256 of the recording's bytes (for a single file, what ``sha256sum`` prints)."""
    size_bytes: int = 0
    mtime_ns: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    """``AnalysisResult.to_json()`` when done."""
    analysed_at: str = ""
    elapsed_s: float = 0.0
    fascdetect_version: str = __version__
    worker: str = ""
    analysis: Any = None
    """The AnalysisResult, when the task asked to keep it; never stored in the batch's parts."""


def recording_files(path: str | Path) -> list[Path]:
    """The files whose bytes make up a recording: the file itself, or a WFDB header and its signal files."""
    path = Path(path)
    if path.suffix.lower() != ".hea":
        return [path]
    files = [path]
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="latin-1").splitlines()]
    except OSError:
        return files
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    for ln in lines[1:]:
        name = ln.split()[0]
        candidate = path.parent / name
        if "/" not in name and name != "~" and candidate not in files and candidate.is_file():
            files.append(candidate)
    return files


def file_stat(files: list[Path]) -> tuple[int, int]:
    """(total bytes, newest modification time in ns): a cheap 'has it changed' check."""
    stats = [f.stat() for f in files]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def content_sha256(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK_BYTES):
                h.update(chunk)
    return h.hexdigest()


def one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_REASON_CHARS else line[:MAX_REASON_CHARS - 1] + "…"


def run_task(task: Task) -> Outcome:
    """Hash and analyse one recording; a bad file gives a ``failed`` Outcome, never an exception."""
    from fascdetect.analyze import analyze_path

    t0 = time.perf_counter()
    out = Outcome(path=task.path, status="failed", worker=f"{os.uname().nodename}:{os.getpid()}",
                  analysed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    try:
        files = recording_files(task.path)
        out.size_bytes, out.mtime_ns = file_stat(files)
        out.recording_id = content_sha256(files)
    except FileNotFoundError:
        out.error = f"{task.path}: file not found"
        return _finish(out, t0)
    except OSError as exc:
        out.error = one_line(f"{task.path}: cannot read: {exc.strerror or exc}")
        return _finish(out, t0)
    if task.known_sha256 is not None and task.known_sha256 == out.recording_id:
        out.status = "unchanged"
        return _finish(out, t0)
    with _warnings_of_this_thread() as warnings:
        try:
            # One process per task: on a cohort, the files already keep every worker busy, and a
            # Dask worker's process may not start children of its own.
            result = analyze_path(task.path, task.montage, task.config, progress=False, workers=1)
            out.result = result.to_json()
            out.analysis = result if task.keep_analysis else None
            out.status = "done"
        except FascdetectError as exc:
            out.error = one_line(str(exc))
        except Exception as exc:  # a reader or analyser bug on odd input must not stop the cohort
            log.exception("analysing %s failed", task.path)
            out.error = one_line(f"internal error ({type(exc).__name__}): {exc}")
    out.warnings = warnings
    return _finish(out, t0)


def _finish(out: Outcome, t0: float) -> Outcome:
    out.elapsed_s = round(time.perf_counter() - t0, 3)
    return out


@contextmanager
def _warnings_of_this_thread() -> Iterator[list[str]]:
    """Collect fascdetect's warnings (e.g. 'truncated: recovered 13 records') logged by this thread."""
    messages: list[str] = []
    me = threading.get_ident()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == me:
                messages.append(one_line(record.getMessage()))

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("fascdetect")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
