"""Plan a batch, run its tasks on Dask, and stream each outcome into the store as it finishes.

The engine is always ``dask.distributed``: by default a local cluster of
worker processes bound to 127.0.0.1 (dashboard on a loopback port), or an
existing cluster named by its scheduler address. One task per recording,
except that a large EDF/BDF with both feet is split as ``analyze`` splits it:
the task that hashes it answers ``split``, then one task per foot and a
merge that depends on them (the feet's passes go worker to worker, never
through the driver). Results come back through ``as_completed`` and are
written and dropped one by one, so the driver's memory does not grow with
the cohort.

A worker that dies mid-task (killed, out of memory) is the scheduler's
business: it reschedules the task on another worker, up to
``distributed.scheduler.allowed-failures`` times, then the recording is a
``failed`` row. Nothing reaches the output until a task has returned, and
for a split recording that is its merge, which runs only once every foot has.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from fascdetect.batch.discover import discover
from fascdetect.batch.store import (EVENTS_FILE, RECORDINGS_FILE, BatchStore, describe_settings, path_key,
                                    settings_sha256)
from fascdetect.batch.task import Outcome, Task, file_stat, merge_sides, one_line, run_side, run_task
from fascdetect.config import DetectorConfig
from fascdetect.errors import InputError
from fascdetect.io.wfdb_import import record_files
from fascdetect.regions import NO_MONTAGE, Montage

log = logging.getLogger(__name__)

TASK_PREFIX = "fascdetect-batch"
CONNECT_TIMEOUT_S = 20
SPLIT_BYTES = 500_000_000
"""A recording this large is analysed one foot per task: about 4.3 h of 8 EMG channels at 2 kHz, so a
full night is split and an excerpt is not. Splitting reads the file once per foot, which on shared
storage costs bandwidth (docs/batch.md), and spares the cohort's end a night-long task on one core."""


@dataclass
class BatchReport:
    """What a batch did; ``text()`` is the CLI's summary, ``to_json()`` its ``--json``."""

    out_dir: Path
    found: int
    analysed: int = 0
    """Tasks that ran to an outcome in this run (done or failed)."""
    unchanged: int = 0
    """Recordings already done with the same content and settings: not analysed again."""
    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of every failed row in the output."""
    events: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def in_output(self) -> int:
        return self.done + len(self.failed)

    def to_json(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "found": self.found, "analysed": self.analysed,
                "unchanged": self.unchanged, "done": self.done, "failed": len(self.failed),
                "failures": [{"path": p, "error": e} for p, e in self.failed], "events": self.events,
                "interrupted": self.interrupted, "recordings_parquet": str(self.out_dir / RECORDINGS_FILE),
                "events_parquet": str(self.out_dir / EVENTS_FILE)}

    def text(self, max_failures: int = 10) -> str:
        lines = [f"{self.found} recording(s): {self.done} done, {len(self.failed)} failed "
                 f"({self.analysed} analysed now, {self.unchanged} unchanged since an earlier run)"]
        if self.events:
            lines.append("events: " + ", ".join(f"{n} {kind}" for kind, n in sorted(self.events.items())))
        for path, reason in self.failed[:max_failures]:
            lines.append(f"failed: {reason}" if reason.startswith(path) else f"failed: {path}: {reason}")
        if len(self.failed) > max_failures:
            lines.append(f"... and {len(self.failed) - max_failures} more failed (see the error column)")
        if self.interrupted:
            lines.append(f"interrupted: {self.in_output} of {self.found} recordings are in the output; "
                         "run the same command again to continue")
        lines.append(f"output: {self.out_dir / RECORDINGS_FILE}, {self.out_dir / EVENTS_FILE}")
        return "\n".join(lines)


def run_batch(items: list[str], out_dir: str | Path, montage: Montage = NO_MONTAGE,
              config: DetectorConfig | None = None, workers: int | None = None, scheduler: str | None = None,
              force: bool = False, progress: bool | None = None,
              on_done: Callable[[Outcome], None] | None = None,
              reuse_if: Callable[[str], bool] | None = None, split_bytes: int | None = SPLIT_BYTES) -> BatchReport:
    """Analyse every recording ``items`` name into ``out_dir``; see the module docstring.

    ``workers``: local worker processes (default: one per core), ignored
    with ``scheduler`` (``tcp://HOST:PORT`` of a running Dask scheduler).
    ``force`` analyses again what is already done. ``progress`` shows a bar
    on stderr (None: when stderr is a terminal). ``on_done`` is called in
    this process with each newly done outcome; its ``analysis`` holds the
    AnalysisResult. ``reuse_if(recording_id)`` False makes a recording that
    is already done be analysed again (e.g. it is not yet in the history).
    ``split_bytes``: an EDF/BDF with both feet of at least this size runs
    one task per foot (0: every such file; None: none).
    """
    config = config or DetectorConfig()
    out_dir = Path(out_dir)
    paths = [str(p) for p in discover(items, exclude=out_dir)]
    if not paths:
        raise InputError(f"no recordings found in {' '.join(items)} (EDF/BDF/WFDB; CSV only when named)")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if split_bytes is not None and split_bytes < 0:
        raise InputError(f"--split-mb must be 0 or more, not {split_bytes / 1e6:g}")
    batch = _Batch(BatchStore(out_dir), montage, config, BatchReport(out_dir, len(paths)), on_done, split_bytes)
    try:
        tasks = batch.plan(paths, force, reuse_if)
        if tasks:
            try:
                batch.run(tasks, workers, scheduler, progress)
            except KeyboardInterrupt:
                # Every part on disk is whole; the output below is rebuilt from them.
                batch.report.interrupted = True
    finally:
        batch.finish(paths)
    return batch.report


class _Batch:
    """One run: the store, the settings, and what is known so far about each path."""

    def __init__(self, store: BatchStore, montage: Montage, config: DetectorConfig, report: BatchReport,
                 on_done: Callable[[Outcome], None] | None, split_bytes: int | None) -> None:
        self.store = store
        self.montage = montage
        self.config = config
        self.settings_json = describe_settings(config, montage)
        self.settings = settings_sha256(self.settings_json)
        self.report = report
        self.on_done = on_done
        self.split_bytes = split_bytes
        self.current: dict[str, tuple[str, str | None]] = {}
        """path -> (status, error) of its part valid for this run: what the output holds if the run stops now."""
        self.previous: dict[str, dict[str, Any]] = {}
        """Done parts whose file has a new size or time: kept if the worker finds the same content."""
        self.sizes: dict[str, int] = {}

    def plan(self, paths: list[str], force: bool, reuse_if: Callable[[str], bool] | None) -> list[Task]:
        """The tasks to run; paths done with the same settings and an unchanged file need none."""
        tasks = []
        for path in paths:
            prev = self.store.previous(path)
            try:
                size, mtime = file_stat(record_files(path))
            except OSError as exc:
                reason = f"{path}: file not found" if isinstance(exc, FileNotFoundError) else \
                    one_line(f"{path}: cannot read: {exc.strerror or exc}")
                self._commit(Outcome(path, "failed", error=reason))
                continue
            same = prev is not None and prev.get("settings_sha256") == self.settings
            fresh = same and (prev.get("size_bytes"), prev.get("mtime_ns")) == (size, mtime)
            reusable = same and not force and prev["status"] == "done" and \
                self.store.has_events(prev["recording_id"], self.settings) and \
                (reuse_if is None or reuse_if(prev["recording_id"]))
            if fresh:
                self.current[path] = (prev["status"], prev.get("error"))
            if reusable and fresh:
                self.report.unchanged += 1
                continue
            if reusable:
                self.previous[path] = prev
            tasks.append(Task(path, self.montage, self.config, prev["recording_id"] if reusable else None,
                              keep_analysis=self.on_done is not None, split_bytes=self.split_bytes))
            self.sizes[path] = size
        return tasks

    def run(self, tasks: list[Task], workers: int | None, scheduler: str | None, progress: bool | None) -> None:
        """Submit every task and store each outcome as it arrives; Ctrl-C cancels what has not run."""
        from tqdm import tqdm

        show = progress if progress is not None else sys.stderr.isatty()
        bar = tqdm(total=sum(self.sizes.values()), unit="B", unit_scale=True, unit_divisor=1024, desc="batch",
                   file=sys.stderr, disable=not show, dynamic_ncols=True)
        finished = failed = 0
        try:
            bar.set_postfix_str(f"0/{len(tasks)} files, 0 failed")
            with _client(workers, scheduler) as client:
                from distributed import as_completed

                pending = {client.submit(run_task, t, pure=False,
                                         key=f"{TASK_PREFIX}-{path_key(t.path)}-{uuid.uuid4().hex[:8]}"): t
                           for t in tasks}
                feet: dict[str, list[Any]] = {}  # a split recording's foot tasks, held to cancel them on Ctrl-C
                arrivals = as_completed(list(pending), loop=client.loop)
                try:
                    for future in arrivals:
                        task = pending.pop(future)
                        outcome = _outcome(future, task, self.sizes[task.path])
                        future.release()
                        if outcome.status == "split":
                            merged, feet[task.path] = _submit_split(client, task, outcome, future.key)
                            pending[merged] = task
                            arrivals.add(merged)
                            continue
                        for foot in feet.pop(task.path, []):
                            foot.release()
                        self._take(outcome)
                        finished += 1
                        failed += outcome.status == "failed"
                        bar.update(self.sizes[task.path])
                        bar.set_postfix_str(f"{finished}/{len(tasks)} files, {failed} failed")
                except KeyboardInterrupt:
                    client.cancel(list(pending) + [f for fs in feet.values() for f in fs], force=True)
                    raise
        finally:
            bar.close()

    def _take(self, outcome: Outcome) -> None:
        if outcome.status == "unchanged":
            self.store.touch(self.previous[outcome.path], outcome.size_bytes, outcome.mtime_ns)
            self.current[outcome.path] = ("done", None)
            self.report.unchanged += 1
            return
        self._commit(outcome)
        if outcome.status == "done" and self.on_done is not None:
            self.on_done(outcome)

    def _commit(self, outcome: Outcome) -> None:
        part = self.store.commit(outcome, self.settings, self.settings_json)
        self.current[outcome.path] = (part["status"], part["error"])
        self.report.analysed += 1

    def finish(self, paths: list[str]) -> None:
        """Rebuild the two tables from the parts valid for this run, and count what they hold."""
        try:
            included = [p for p in paths if p in self.current]
            self.report.events = self.store.compact(included)
            self.report.done = sum(1 for p in included if self.current[p][0] == "done")
            self.report.failed = [(p, self.current[p][1] or "") for p in included if self.current[p][0] == "failed"]
        finally:
            self.store.close()


def _submit_split(client: Any, task: Task, first: Outcome, key: str) -> tuple[Any, list[Any]]:
    """One task per foot of ``first.sides``, and their merge, which runs once every foot has returned.

    They go ahead of the recordings not yet started (Dask runs equal priorities first come, first
    served): a recording that was started is finished first, and a large one does not wait for the
    whole cohort's queue, to end up last on too few workers.
    """
    feet = [client.submit(run_side, task, side, pure=False, key=f"{key}-{side}", priority=1)
            for side in first.sides]
    merged = client.submit(merge_sides, task, first, *feet, pure=False, key=f"{key}-merge", priority=1)
    return merged, feet


def _outcome(future: Any, task: Task, size: int) -> Outcome:
    """The task's Outcome, or a failed one when the task itself could not run (worker deaths, no fascdetect)."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        reason = "the worker analysing it died repeatedly (out of memory, or a crash in a file reader)"
    except Exception as exc:
        reason = one_line(f"task failed on the cluster: {type(exc).__name__}: {exc}")
    return Outcome(task.path, "failed", error=reason, size_bytes=size)


@contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of a local cluster of processes on loopback."""
    from distributed import Client, LocalCluster

    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # Dask logs every connection at INFO through its own logger levels; keep the terminal to our output.
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {one_line(str(exc))}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    # Processes, one thread each: the analysis is numpy-heavy Python that holds the GIL. Bound to
    # loopback, dashboard on a random loopback port: nothing is reachable from the network.
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
