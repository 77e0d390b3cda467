"""One recording on a worker: its files, their content hash, the analysis, as plain data.

``run_task`` never raises for a bad recording: a missing, corrupt or
truncated file comes back as a ``failed`` Outcome with a one-line reason,
so one file cannot stop a cohort. The Outcome holds only builtins (the
analysis as ``AnalysisResult.to_json()``), so it travels from any worker
and whatever the analyser adds to its JSON reaches the Parquet unchanged.

A large EDF/BDF with both feet is split as ``analyze`` splits it: ``run_task``
hashes it and answers ``split`` with its feet, ``run_side`` analyses one
foot, and ``merge_sides`` makes the feet one Outcome, exactly
``analyze_path``'s. The runner chains the three on the cluster.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from fascdetect import __version__
from fascdetect.config import DetectorConfig
from fascdetect.errors import FascdetectError
from fascdetect.io.wfdb_import import record_files
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
    split_bytes: int | None = None
    """An EDF/BDF with both feet of at least this many bytes is analysed one foot per task (None: never)."""


@dataclass
class Outcome:
    path: str
    status: str
    """``done``, ``failed``, ``unchanged`` (content equal to ``known_sha256``: nothing analysed), or
    ``split`` (to be analysed by ``run_side`` per foot of ``sides``; never stored)."""
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
    sides: list[str] = field(default_factory=list)
    """The feet of a ``split`` recording, each for a ``run_side`` task."""


@dataclass
class SidePass:
    """One foot of a split recording, as ``run_side`` leaves it for ``merge_sides``."""

    side: str
    run: Any = None
    """The foot's pipeline pass (``fascdetect.analyze.analyze_side``); None when it failed."""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    worker: str = ""


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
    """Hash and analyse one recording, or say how to split it; a bad file is a ``failed`` Outcome, not an exception."""
    from fascdetect.analyze import analyze_path

    t0 = time.perf_counter()
    out = Outcome(path=task.path, status="failed", worker=_worker(),
                  analysed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    try:
        files = record_files(task.path)
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
    with _isolated(out, task.path):
        truncated = truncation(task.path, task.montage)
        if truncated is not None:
            out.error = one_line(f"{task.path}: {truncated}")
        elif task.split_bytes is not None and out.size_bytes >= task.split_bytes and \
                (sides := _sides(task.path, task.montage)):
            out.status, out.sides = "split", sides
        else:
            # One process per task: on a cohort, the files already keep every worker busy, and a
            # Dask worker's process may not start children of its own.
            _done(out, task, analyze_path(task.path, task.montage, task.config, progress=False, workers=1))
    return _finish(out, t0)


def run_side(task: Task, side: str) -> SidePass:
    """One foot of a split recording through the pipeline; a bad file gives a SidePass with its error."""
    from fascdetect.analyze import analyze_side

    t0 = time.perf_counter()
    out = SidePass(side, worker=_worker())
    with _isolated(out, f"{task.path} ({side})"):
        out.run = analyze_side(task.path, task.montage, task.config, side)
    out.elapsed_s = round(time.perf_counter() - t0, 3)
    return out


def merge_sides(task: Task, first: Outcome, *feet: SidePass) -> Outcome:
    """The split recording's Outcome from its feet: ``done`` only when every foot is.

    ``first`` is ``run_task``'s ``split`` answer (hash, size, time); the
    result is ``analyze_path``'s, as each foot's pass is exactly that
    foot's events. ``elapsed_s`` adds up the worker time of all its tasks.
    """
    from fascdetect.analyze import combine_sides

    t0 = time.perf_counter()
    out = replace(first, status="failed", sides=[], warnings=list(first.warnings))
    for foot in feet:
        out.warnings += [w for w in foot.warnings if w not in out.warnings]
    failed = [f for f in feet if f.error is not None]
    if failed:
        out.error = failed[0].error
    else:
        with _isolated(out, task.path):
            _done(out, task, combine_sides(task.path, task.montage, task.config, [f.run for f in feet]))
    workers = [first.worker] + [f.worker for f in feet] + [_worker()]
    out.worker = ",".join(dict.fromkeys(workers))
    out.elapsed_s = round(first.elapsed_s + sum(f.elapsed_s for f in feet) + time.perf_counter() - t0, 3)
    return out


def truncation(path: str, montage: Montage) -> str | None:
    """What a truncated EDF/BDF or WFDB record lacks ("truncated: 412 of 480 data records present"), else None.

    ``analyze`` reads such a file up to its last complete record, with a
    warning; in a cohort it is a failed row, so that no night is counted
    short without anyone asking for it. Raises RecordingError for a file
    that is not readable at all, with the message ``analyze`` gives.
    """
    from fascdetect.io import EDF_SUFFIXES
    from fascdetect.io.edf_read import is_edf, read_layout
    from fascdetect.io.wfdb_import import WfdbSource, is_wfdb

    if is_wfdb(path):
        with WfdbSource(path, montage) as source:
            return source.truncation
    if Path(path).is_file() and (is_edf(path) or Path(path).suffix.lower() in EDF_SUFFIXES):
        return read_layout(path).truncation
    return None


def _sides(path: str, montage: Montage) -> list[str]:
    from fascdetect.analyze import split_sides
    from fascdetect.io import open_recording

    source = open_recording(path, montage)
    try:
        return split_sides(source)
    finally:
        source.close()


def _done(out: Outcome, task: Task, result: Any) -> None:
    out.result = result.to_json()
    out.analysis = result if task.keep_analysis else None
    out.status = "done"


def _worker() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


def _finish(out: Outcome, t0: float) -> Outcome:
    out.elapsed_s = round(time.perf_counter() - t0, 3)
    return out


@contextmanager
def _isolated(out: Outcome | SidePass, what: str) -> Iterator[None]:
    """Run the block; an error in it becomes ``out.error``, and fascdetect's warnings go to ``out.warnings``.

    A reader or analyser bug on odd input must not stop the cohort: it is an
    "internal error" row, with the traceback in the worker's log.
    """
    with _warnings_of_this_thread() as warnings:
        try:
            yield
        except FascdetectError as exc:
            out.error = one_line(str(exc))
        except Exception as exc:
            log.exception("analysing %s failed", what)
            out.error = one_line(f"internal error ({type(exc).__name__}): {exc}")
        finally:
            out.warnings += [w for w in warnings if w not in out.warnings]


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
