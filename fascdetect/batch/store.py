"""The batch's output directory: one part per recording, compacted into two Parquet files.

Layout of ``OUT/``::

    recordings.parquet          one row per recording of the last run
    events.parquet              every event, with its recording's id
    parts/recordings/<k>.json   one per path: the outcome (the resume state)
    parts/events/<id>.<s>.parquet  one per (content hash, settings): its events

A part is written to a temporary name and renamed, and a recording's
events part is written before its recording part, so whatever stops the
batch (Ctrl-C, SIGKILL, power) leaves only whole parts; a recording part
names its events part by content hash and settings, never by path. The two
Parquet files are rebuilt from the parts at the end of each run, streaming
one part at a time, so memory does not grow with the cohort.

Columns: see docs/batch.md. Summary columns are the analyser's JSON summary
flattened (``L_ADM_twitches_per_min``, ``movement_L_total_s``, ...), so a
field the analyser adds becomes a column without a change here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from fascdetect.batch.task import Outcome
from fascdetect.errors import InputError

log = logging.getLogger(__name__)

RECORDINGS_FILE = "recordings.parquet"
EVENTS_FILE = "events.parquet"
ROWS_PER_GROUP = 1000
EVENTS_PER_GROUP = 100_000

BASE_COLUMNS = ("recording_id", "path", "status", "error", "warnings", "size_bytes", "mtime_ns", "settings_sha256",
                "fascdetect_version", "analysed_at", "elapsed_s", "worker", "start", "duration_s", "n_channels",
                "channels", "skipped", "n_events")
TAIL_COLUMNS = ("channels_json", "summary_json", "settings_json")
CHANNEL_DESCRIPTION = frozenset({"label", "modality", "side", "region", "axis", "unit", "fs_hz"})
EVENT_KEY_COLUMNS = ("recording_id",)
_NAME = re.compile(r"[^0-9A-Za-z]+")


def settings_sha256(settings: dict[str, Any]) -> str:
    """Hash of the detector settings and montage: a result is reused only under the same one."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def describe_settings(config, montage) -> dict[str, Any]:
    return {"detector": config.to_json(), "montage": asdict(montage)}


def path_key(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:24]


class BatchStore:
    """``OUT/`` and its parts; holds an exclusive lock so two batches never write one directory."""

    def __init__(self, out_dir: str | Path) -> None:
        self.root = Path(out_dir)
        self.rec_dir = self.root / "parts" / "recordings"
        self.ev_dir = self.root / "parts" / "events"
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for d in (self.root / "parts", self.rec_dir, self.ev_dir):
                d.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot use {self.root} as the output directory: {exc.strerror or exc}") from None
        self._lock = os.fdopen(os.open(self.root / "parts" / ".lock", os.O_RDWR | os.O_CREAT, 0o600), "r+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise InputError(f"{self.root} is in use by another fascdetect batch") from None
        for d in (self.root, self.rec_dir, self.ev_dir):
            for stale in d.glob("*.tmp-*"):
                stale.unlink(missing_ok=True)

    def close(self) -> None:
        self._lock.close()

    # --- parts ---------------------------------------------------------------
    def previous(self, path: str) -> dict[str, Any] | None:
        """The stored part of ``path`` (None if there is none or it cannot be read)."""
        f = self.rec_dir / f"{path_key(path)}.json"
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable part %s: %s", f, exc)
            return None

    def has_events(self, recording_id: str, settings: str) -> bool:
        return self._events_path(recording_id, settings).is_file()

    def commit(self, outcome: Outcome, settings: str, settings_json: dict[str, Any]) -> dict[str, Any]:
        """Store one finished recording: its events part first, then its recording part (the commit)."""
        part = {f.name: getattr(outcome, f.name) for f in fields(outcome) if f.name not in ("result", "analysis", "sides")}
        result = outcome.result
        part["settings_sha256"] = settings
        part["settings"] = settings_json
        if outcome.status == "done":
            part["recording"] = result["recording"]
            part["summary"] = result["summary"]
            part["n_events"] = len(result["events"])
            self._write_events(outcome.recording_id, settings, result["events"])
        self._write_json(self.rec_dir / f"{path_key(outcome.path)}.json", part)
        return part

    def touch(self, part: dict[str, Any], size_bytes: int, mtime_ns: int) -> None:
        """Same content under a new modification time: keep the result, remember the new stat."""
        part = dict(part, size_bytes=size_bytes, mtime_ns=mtime_ns)
        self._write_json(self.rec_dir / f"{path_key(part['path'])}.json", part)

    def _events_path(self, recording_id: str, settings: str) -> Path:
        return self.ev_dir / f"{recording_id}.{settings[:16]}.parquet"

    def _write_events(self, recording_id: str, settings: str, events: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        names = list(dict.fromkeys(k for e in events for k in e))  # every key of every event, first seen first
        columns = {"recording_id": pa.array([recording_id] * len(events), pa.string())}
        columns.update({k: [e.get(k) for e in events] for k in names if k != "recording_id"})
        table = pa.table(columns)
        _write_parquet(self._events_path(recording_id, settings), [table], table.schema)

    def _write_json(self, path: Path, obj: dict[str, Any]) -> None:
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            with _private(tmp) as f:
                f.write(json.dumps(obj).encode("utf-8"))
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    # --- compaction ----------------------------------------------------------
    def compact(self, paths: list[str]) -> dict[str, int]:
        """Rewrite recordings.parquet (one row per path's part, in order) and events.parquet (their events, once each).

        Parts are read from disk pass by pass rather than held, so memory
        stays flat however large the cohort. Returns the number of events
        per kind. Each output is replaced atomically, events first, so a
        reader that sees a recording row finds its events.
        """
        import pyarrow as pa

        events: list[Path] = []
        seen_ids: set[str] = set()
        schemas = []
        for part in self._parts(paths):
            if part["status"] == "done" and part["recording_id"] not in seen_ids:
                seen_ids.add(part["recording_id"])
                events.append(self._events_path(part["recording_id"], part["settings_sha256"]))
            schemas.append(pa.Table.from_pylist([recording_row(part)]).schema)
        missing = [f for f in events if not f.is_file()]
        for f in missing:
            log.warning("events part %s is missing (deleted by hand?); its recording keeps its row", f)
        kinds = self._compact_events([f for f in events if f not in missing])
        schema = _ordered(_unify(schemas), BASE_COLUMNS, TAIL_COLUMNS) if schemas else _EMPTY_ROWS()
        rows = (_as_text(recording_row(part), schema) for part in self._parts(paths))
        batches = (pa.Table.from_pylist(chunk, schema=schema) for chunk in _chunks(rows, ROWS_PER_GROUP))
        _write_parquet(self.root / RECORDINGS_FILE, batches, schema)
        return kinds

    def _parts(self, paths: list[str]) -> Iterator[dict[str, Any]]:
        for path in paths:
            part = self.previous(path)
            if part is not None:
                yield part

    def _compact_events(self, files: list[Path]) -> dict[str, int]:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        schema = _unify(pq.read_schema(f) for f in files) if files else _EMPTY_EVENTS()
        schema = _ordered(schema, EVENT_KEY_COLUMNS + ("kind", "onset", "duration", "side", "region", "channel"), ())
        kinds: dict[str, int] = {}

        def tables() -> Iterator[Any]:
            for f in files:
                t = _conform(pq.read_table(f), schema)
                if t.num_rows and "kind" in t.column_names:
                    for item in pc.value_counts(t["kind"]).to_pylist():
                        kinds[item["values"]] = kinds.get(item["values"], 0) + item["counts"]
                yield t

        _write_parquet(self.root / EVENTS_FILE, _regroup(tables(), EVENTS_PER_GROUP), schema)
        return kinds


def recording_row(part: dict[str, Any]) -> dict[str, Any]:
    """A recording part as one flat row: the base columns, the flattened summary, then the raw JSON."""
    rec = part.get("recording") or {}
    summary = part.get("summary")
    row: dict[str, Any] = {
        "recording_id": part.get("recording_id"),
        "path": part["path"],
        "status": part["status"],
        "error": part.get("error"),
        "warnings": list(part.get("warnings") or []),
        "size_bytes": part.get("size_bytes"),
        "mtime_ns": part.get("mtime_ns"),
        "settings_sha256": part.get("settings_sha256"),
        "fascdetect_version": part.get("fascdetect_version"),
        "analysed_at": datetime.fromisoformat(part["analysed_at"]) if part.get("analysed_at") else None,
        "elapsed_s": part.get("elapsed_s"),
        "worker": part.get("worker"),
        "start": datetime.fromisoformat(rec["start"]) if rec.get("start") else None,
        "duration_s": rec.get("duration_s"),
        "n_channels": len(rec["channels"]) if "channels" in rec else None,
        "channels": [c["label"] for c in rec.get("channels", [])] or None,
        "skipped": [f"{s['label']}: {s['reason']}" for s in rec.get("skipped", [])] or None,
        "n_events": part.get("n_events"),
    }
    for channel in rec.get("channels", []):
        # Per-channel results the analyser adds to a channel's description (rest_s, ...): <label>_<field>.
        for key, value in channel.items():
            if key not in CHANNEL_DESCRIPTION:
                row[_NAME.sub("_", f"{channel['label']}_{key}").strip("_")] = value
    if summary is not None:
        for name, value in flatten_summary(summary).items():
            row[f"summary_{name}" if name in row or name in TAIL_COLUMNS else name] = value
    row["channels_json"] = json.dumps(rec["channels"]) if "channels" in rec else None
    row["summary_json"] = json.dumps(summary) if summary is not None else None
    row["settings_json"] = json.dumps(part.get("settings"), sort_keys=True)
    return row


def flatten_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Flat columns from the analyser's summary JSON.

    The per-region rows (``regions``) become ``<side>_<region>_<field>``;
    nested objects join their keys (``movement_L_total_s``); lists of numbers
    or strings stay lists; any other list (``motor_units``, ``clipped``, ...)
    is kept whole as JSON text, since its length varies from one recording
    to the next. An empty list is null.
    """
    out: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        name = _NAME.sub("_", name).strip("_")
        if isinstance(value, dict):
            for k, v in value.items():
                put(f"{name}_{k}", v)
        elif isinstance(value, list) and not value:
            _set(name, None)  # no elements, so no element type: null unifies with the type other recordings give
        elif isinstance(value, list) and not all(isinstance(v, (int, float, str, bool)) for v in value):
            _set(name, json.dumps(value))
        else:
            _set(name, value)

    def _set(name: str, value: Any) -> None:
        if name in out:
            log.warning("summary field %s appears twice when flattened; keeping the first", name)
            return
        out[name] = value

    for row in summary.get("regions", []):
        for k, v in row.items():
            if k not in ("side", "region", "name"):
                put(f"{row['side']}_{row['region']}_{k}", v)
    for key, value in summary.items():
        if key != "regions":
            put(key, value)
    return out


# --- pyarrow helpers ------------------------------------------------------------
def _EMPTY_ROWS():
    import pyarrow as pa

    return pa.schema([("recording_id", pa.string()), ("path", pa.string()), ("status", pa.string()),
                      ("error", pa.string())])


def _EMPTY_EVENTS():
    import pyarrow as pa

    return pa.schema([("recording_id", pa.string()), ("kind", pa.string()), ("onset", pa.float64()),
                      ("duration", pa.float64()), ("side", pa.string()), ("region", pa.string()),
                      ("channel", pa.string())])


def _unify(schemas: Iterable[Any]) -> Any:
    """One schema for all parts: numbers widen (int to float), nulls take the other type, and a field
    whose types cannot be merged (a number in one file, text in another) becomes text."""
    import pyarrow as pa

    merged = None
    for s in schemas:
        if merged is None:
            merged = s
            continue
        try:
            merged = pa.unify_schemas([merged, s], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fields = {f.name: f for f in merged}
            for f in s:
                if f.name not in fields:
                    fields[f.name] = f
                elif fields[f.name].type != f.type:
                    try:
                        fields[f.name] = pa.unify_schemas([pa.schema([fields[f.name]]), pa.schema([f])],
                                                          promote_options="permissive").field(0)
                    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                        fields[f.name] = pa.field(f.name, pa.string())
            merged = pa.schema(list(fields.values()))
    return merged


def _as_text(row: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Values of text columns that are not text (see ``_unify``) as their JSON."""
    import pyarrow as pa

    for f in schema:
        v = row.get(f.name)
        if v is not None and f.type == pa.string() and not isinstance(v, str):
            row[f.name] = json.dumps(v)
    return row


def _ordered(schema: Any, first: tuple[str, ...], last: tuple[str, ...]) -> Any:
    """Known columns first, in our order; then the rest as first seen; ``last`` at the end."""
    import pyarrow as pa

    names = [n for n in first if n in schema.names]
    names += [n for n in schema.names if n not in first and n not in last]
    names += [n for n in last if n in schema.names]
    return pa.schema([schema.field(n) for n in names])


def _conform(table: Any, schema: Any) -> Any:
    """``table`` with every column of ``schema`` (nulls where it had none), in order and type."""
    import pyarrow as pa

    cols = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _chunks(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _regroup(tables: Iterable[Any], rows: int) -> Iterator[Any]:
    """Concatenate small tables into row groups of about ``rows`` rows (few, large row groups read fast)."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for t in tables:
        if not t.num_rows:
            continue
        pending.append(t)
        count += t.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _write_parquet(path: Path, tables: Iterable[Any], schema: Any) -> None:
    """Write tables as row groups of one Parquet file, atomically, readable by the owner only."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with _private(tmp) as f:
            with pq.ParquetWriter(f, schema, compression="zstd") as writer:
                for t in tables:
                    writer.write_table(t)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _private:
    """A new file opened for binary writing with mode 0600 (health data), fsynced on close."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.f = os.fdopen(fd, "wb")
        return self.f

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self.f.flush()
                os.fsync(self.f.fileno())
        finally:
            self.f.close()
