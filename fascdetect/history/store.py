"""The history database: one SQLite file with analysed recordings and diary entries.

Why SQLite: one file the user owns, readable by any SQLite tool, safe when a
process is killed (each recording goes in one transaction, so it is there
with all its events or not at all), and in the standard library.

The file is created owner-readable only (health data) and kept in WAL mode,
so ``history list`` or ``report`` can read while another process adds a
night. ``PRAGMA user_version`` holds the schema version; ``MIGRATIONS[n]``
takes a database from version n to n + 1, so a newer fascdetect opens an
older file (and an older one refuses a newer file rather than guess).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from fascdetect.errors import HistoryError

log = logging.getLogger(__name__)

ENV_VAR = "FASCDETECT_DB"
FILE_NAME = "history.sqlite3"
APPLICATION_ID = 0x46415343
"""'FASC' in the SQLite header, so a file is recognised as ours and not as some other program's database."""
BUSY_TIMEOUT_S = 5.0
"""How long to wait for another fascdetect's write to finish before saying the database is busy."""
NIGHT_TURNS_AT_H = 12
"""A recording that starts before noon belongs to the night that began the evening before."""

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema. Recordings with their channels, events and per-region summary.
    """
    CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        start TEXT NOT NULL,
        night TEXT NOT NULL,
        duration_s REAL NOT NULL,
        settings_json TEXT NOT NULL,
        version TEXT NOT NULL,
        added_at TEXT NOT NULL,
        n_events INTEGER NOT NULL,
        mains_hz_json TEXT NOT NULL DEFAULT '[]',
        skipped_json TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX recordings_by_night ON recordings(night);
    CREATE TABLE channels (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        modality TEXT NOT NULL,
        side TEXT NOT NULL,
        region TEXT NOT NULL,
        axis TEXT,
        unit TEXT NOT NULL,
        fs_hz REAL NOT NULL,
        rest_s REAL NOT NULL,
        PRIMARY KEY (recording_id, label)
    );
    CREATE TABLE events (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        onset_s REAL NOT NULL,
        duration_s REAL NOT NULL,
        side TEXT NOT NULL,
        region TEXT NOT NULL,
        channel TEXT NOT NULL,
        peak REAL NOT NULL,
        unit TEXT NOT NULL,
        flags TEXT NOT NULL DEFAULT '',
        extra_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_recording ON events(recording_id, kind);
    CREATE TABLE regions (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        side TEXT NOT NULL,
        region TEXT NOT NULL,
        twitches INTEGER NOT NULL,
        twitches_per_min REAL NOT NULL,
        rest_s REAL NOT NULL,
        doublets INTEGER NOT NULL,
        bursts INTEGER NOT NULL,
        cramps INTEGER NOT NULL,
        cramp_total_s REAL NOT NULL,
        cramp_longest_s REAL NOT NULL,
        PRIMARY KEY (recording_id, side, region)
    );
    CREATE TABLE movement (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        side TEXT NOT NULL,
        count INTEGER NOT NULL,
        total_s REAL NOT NULL,
        PRIMARY KEY (recording_id, side)
    )
    """,
    # 1 -> 2: the diary of triggers and self-reported warning signs.
    """
    CREATE TABLE diary (
        id INTEGER PRIMARY KEY,
        night TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL
    );
    CREATE INDEX diary_by_night ON diary(night);
    CREATE TABLE diary_tags (
        entry_id INTEGER NOT NULL REFERENCES diary(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE diary_symptoms (
        entry_id INTEGER NOT NULL REFERENCES diary(id) ON DELETE CASCADE,
        symptom TEXT NOT NULL CHECK (symptom IN ('weakness', 'numbness', 'pain', 'wasting'))
    )
    """,
    # 2 -> 3: putative motor units of each recording (issue 13), with their templates for matching across nights.
    """
    CREATE TABLE motor_units (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        side TEXT NOT NULL,
        region TEXT NOT NULL,
        channel TEXT NOT NULL,
        twitches INTEGER NOT NULL,
        twitches_per_min REAL NOT NULL,
        median_peak_uv REAL NOT NULL,
        duration_ms REAL NOT NULL,
        phases INTEGER NOT NULL,
        doublet_fraction REAL NOT NULL,
        first_s REAL NOT NULL,
        last_s REAL NOT NULL,
        template_json TEXT NOT NULL,
        PRIMARY KEY (recording_id, name)
    )
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> Path:
    """``$FASCDETECT_DB``, else ``history.sqlite3`` in the user's data directory (platformdirs)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("fascdetect", appauthor=False) / FILE_NAME


def night_of(start: datetime) -> date:
    """The evening a night began: a recording started at 01:30 belongs to the previous date."""
    return (start - timedelta(hours=NIGHT_TURNS_AT_H)).date()


def file_sha256(path: str | Path) -> str:
    """Content hash of a recording's bytes: the same night copied or renamed is still the same night.

    A WFDB record (named by its .hea, its .dat or its bare name) is its header and the signal files the
    header names, hashed in that order.
    """
    # Here, not at the top: the readers behind fascdetect.io (numpy, pyEDFlib) are not needed to list nights.
    from fascdetect.io.wfdb_import import record_files

    h = hashlib.sha256()
    for part in record_files(path):
        try:
            with open(part, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as exc:
            from fascdetect.errors import RecordingError

            raise RecordingError(f"cannot read {part}: {exc.strerror or exc}") from None
    return h.hexdigest()


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Stored:
    """What ``History.add`` did: the recording's id, and whether it was new."""

    id: int
    night: str
    new: bool
    replaced: bool = False


class History:
    """An open history database. Use as a context manager, or call ``close()``.

    Every SQLite failure surfaces as a HistoryError naming the file, with
    nothing written: reads happen outside transactions, and each write is
    one ``BEGIN IMMEDIATE … COMMIT``, rolled back on any error.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        self.path = Path(path).expanduser() if path else default_path()
        self._checked = False
        exists = self.path.exists()
        if not exists and not create:
            raise HistoryError(f"no history database at {self.path} (add a recording first: fascdetect history add FILE)")
        if not exists:
            self._create_file()
        with self._guard("open"):
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            with self._guard("open"):
                self._prepare_when_free()
        except BaseException:
            self.conn.close()
            raise

    # --- opening, creating, migrating

    def _create_file(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        except FileExistsError:
            pass  # another fascdetect created it a moment ago
        except OSError as exc:
            raise HistoryError(f"cannot create the history database {self.path}: {exc.strerror or exc}") from None

    def _prepare_when_free(self) -> None:
        """Prepare, retrying while another process opens the same new file.

        Switching a fresh file to WAL takes a moment alone with it, and SQLite
        answers "locked" at once instead of waiting for the busy timeout then.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._prepare()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _prepare(self) -> None:
        # One statement, so one snapshot: another process may be creating the schema right now.
        version, tables, app_id = self.conn.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master), "
            "(SELECT application_id FROM pragma_application_id)").fetchone()
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path} was written by a newer fascdetect (schema {version}; this one knows up "
                               f"to {SCHEMA_VERSION}); nothing was changed: upgrade fascdetect")
        if version == 0 and tables:
            raise HistoryError(f"{self.path} is an SQLite database of another program, not a fascdetect history; "
                               "nothing was changed (give another --db)")
        if version > 0 and app_id != APPLICATION_ID:
            raise HistoryError(f"{self.path} is not a fascdetect history; nothing was changed (give another --db)")
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            # Needs a moment alone with the file; harmless if another process did it first.
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if version < SCHEMA_VERSION:
            self.migrate(SCHEMA_VERSION)

    def migrate(self, to_version: int) -> None:
        """Apply ``MIGRATIONS`` up to ``to_version`` in one transaction (tests stop early to build old files)."""
        with self.transaction():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for n in range(version, to_version):
                log.info("history %s: schema %d -> %d", self.path, n, n + 1)
                for statement in MIGRATIONS[n].split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
            if version == 0:
                self.conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self.conn.execute(f"PRAGMA user_version={max(version, to_version)}")

    @property
    def schema_version(self) -> int:
        with self._guard("read"):
            return self.conn.execute("PRAGMA user_version").fetchone()[0]

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise HistoryError(f"the history database {self.path} is busy (another fascdetect is writing to it); "
                                   "nothing was changed: try again in a moment") from None
            if "readonly" in text or "read-only" in text:
                raise HistoryError(f"cannot write the history database {self.path} (read-only); nothing was changed") \
                    from None
            raise HistoryError(f"cannot {doing} the history database {self.path}: {text}; nothing was changed") \
                from None
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path} is not a readable fascdetect history ({exc}); nothing was changed "
                               "(move it aside, or give another --db)") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside is stored, or (on any error, or a kill) nothing is."""
        with self._guard("write"):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_before_writing()
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def _check_before_writing(self) -> None:
        """Refuse to write into a damaged file (writing could spread the damage); once per open database."""
        if self._checked:
            return
        problem = self.conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise sqlite3.DatabaseError("damaged: " + " ".join(str(problem).replace("*", "").split())[:160])
        self._checked = True

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- recordings

    def find(self, sha256: str) -> Stored | None:
        with self._guard("read"):
            row = self.conn.execute("SELECT id, night FROM recordings WHERE sha256 = ?", (sha256,)).fetchone()
        return Stored(row[0], row[1], False) if row else None

    def add(self, result: Any, sha256: str, path: str | Path, replace: bool = False) -> Stored:
        """Store an AnalysisResult once: its row, channels, events, per-region summary and movement.

        A recording already stored (same content hash) is left as it is, unless ``replace``: then its old
        results go and these take their place under the same id (a re-analysis after an upgrade).
        """
        summary = result.summary()
        start = datetime.fromisoformat(result.start)
        night = night_of(start).isoformat()
        rest = channel_rest_s(summary, result.channels, result.duration_s)
        from fascdetect import __version__

        with self.transaction() as c:
            row = c.execute("SELECT id, night FROM recordings WHERE sha256 = ?", (sha256,)).fetchone()
            if row and not replace:
                return Stored(row[0], row[1], False)
            if row:
                c.execute("DELETE FROM recordings WHERE id = ?", (row[0],))
            cur = c.execute(
                "INSERT INTO recordings (id, sha256, path, start, night, duration_s, settings_json, version, "
                "added_at, n_events, mains_hz_json, skipped_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row[0] if row else None, sha256, str(Path(path).resolve()), start.isoformat(), night, float(result.duration_s),
                 json.dumps(result.config.to_json(), sort_keys=True), __version__, _utc_now(), len(result.events),
                 json.dumps(summary.get("mains_hz", [])),
                 json.dumps([{"label": label, "reason": reason} for label, reason in result.skipped])))
            rid = cur.lastrowid
            c.executemany(
                "INSERT INTO channels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(rid, ch["label"], ch["modality"], ch["side"], ch["region"], ch.get("axis"), ch["unit"],
                  float(ch["fs_hz"]), rest[ch["label"]]) for ch in result.channels])
            c.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(rid, e.kind, float(e.onset_s), float(e.duration_s), e.side, e.region, e.channel, float(e.peak),
                  e.unit, ",".join(sorted(e.flags)), json.dumps(dict(e.extra))) for e in result.events])
            movement = summary.get("movement", {})
            c.executemany(
                "INSERT INTO regions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(rid, r["side"], r["region"], int(r["twitches"]), float(r["twitches_per_min"]),
                  region_rest_s(r, result.channels, rest, result.duration_s, movement),
                  int(r.get("doublets", 0)), int(r.get("bursts", 0)), int(r.get("cramps", 0)),
                  float(r.get("cramp_total_s", 0.0)), float(r.get("cramp_longest_s", 0.0)))
                 for r in summary["regions"]])
            c.executemany("INSERT INTO movement VALUES (?, ?, ?, ?)",
                          [(rid, side, int(m["count"]), float(m["total_s"])) for side, m in movement.items()])
            c.executemany("INSERT INTO motor_units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [(rid, u["name"], u["side"], u["region"], u["channel"], int(u["twitches"]),
                            float(u["twitches_per_min"]), float(u["median_peak_uv"]), float(u["duration_ms"]),
                            int(u["phases"]), float(u["doublet_fraction"]), float(u["first_s"]), float(u["last_s"]),
                            json.dumps(u["template"])) for u in summary.get("motor_units", [])])
        return Stored(rid, night, True, replaced=bool(row))

    def remove(self, recording_id: int) -> dict[str, Any]:
        """Delete one recording with everything stored for it; HistoryError if there is no such id."""
        with self.transaction() as c:
            row = c.execute("SELECT id, night, path FROM recordings WHERE id = ?", (recording_id,)).fetchone()
            if row is None:
                raise HistoryError(f"no recording with id {recording_id} in {self.path} (see: fascdetect history list)")
            c.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
        return {"id": row[0], "night": row[1], "path": row[2]}

    def recordings(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """One dict per stored recording (oldest night first), with its totals; nights as 'YYYY-MM-DD', inclusive."""
        where, params = _night_range(since, until)
        with self._guard("read"):
            rows = self.conn.execute(
                "SELECT r.id, r.night, r.start, r.duration_s, r.path, r.sha256, r.version, r.added_at, r.n_events, "
                "r.settings_json, "
                "(SELECT count(*) FROM channels c WHERE c.recording_id = r.id), "
                "(SELECT coalesce(sum(twitches), 0) FROM regions g WHERE g.recording_id = r.id), "
                "(SELECT coalesce(sum(cramps), 0) FROM regions g WHERE g.recording_id = r.id) "
                f"FROM recordings r {where} ORDER BY r.night, r.start, r.id", params).fetchall()
        keys = ("id", "night", "start", "duration_s", "path", "sha256", "version", "added_at", "n_events",
                "settings", "channels", "twitches", "cramps")
        out = []
        for row in rows:
            d = dict(zip(keys, row))
            d["settings"] = json.loads(d["settings"])
            out.append(d)
        return out

    def channels(self, recording_id: int) -> list[dict[str, Any]]:
        return self._dicts("SELECT label, modality, side, region, axis, unit, fs_hz, rest_s FROM channels "
                           "WHERE recording_id = ? ORDER BY rowid", (recording_id,))

    def regions(self, recording_id: int) -> list[dict[str, Any]]:
        return self._dicts("SELECT side, region, twitches, twitches_per_min, rest_s, doublets, bursts, cramps, "
                           "cramp_total_s, cramp_longest_s FROM regions WHERE recording_id = ? ORDER BY rowid",
                           (recording_id,))

    def movement(self, recording_id: int) -> list[dict[str, Any]]:
        return self._dicts("SELECT side, count, total_s FROM movement WHERE recording_id = ? ORDER BY side",
                           (recording_id,))

    def motor_units(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Every stored putative motor unit with its recording's id and night (oldest first), template decoded."""
        where, params = _night_range(since, until)
        rows = self._dicts(
            "SELECT r.night, r.start, u.* FROM motor_units u JOIN recordings r ON r.id = u.recording_id "
            f"{where.replace('night', 'r.night')} ORDER BY r.night, r.start, u.recording_id, u.side, u.region, "
            "u.twitches DESC, u.name", params)
        for r in rows:
            r["template"] = json.loads(r.pop("template_json"))
        return rows

    def events(self, recording_id: int, kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT kind, onset_s, duration_s, side, region, channel, peak, unit, flags FROM events "
               "WHERE recording_id = ?")
        params: tuple = (recording_id,)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += tuple(kinds)
        rows = self._dicts(sql + " ORDER BY onset_s", params)
        for r in rows:
            r["flags"] = [f for f in r["flags"].split(",") if f]
        return rows

    def _dicts(self, sql: str, params: tuple) -> list[dict[str, Any]]:
        with self._guard("read"):
            cur = self.conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    # --- diary

    def add_diary(self, night: str, tags: Sequence[tuple[str, str]], symptoms: Sequence[str], note: str) -> int:
        with self.transaction() as c:
            rid = c.execute("INSERT INTO diary (night, note, added_at) VALUES (?, ?, ?)",
                            (night, note, _utc_now())).lastrowid
            c.executemany("INSERT INTO diary_tags VALUES (?, ?, ?)", [(rid, n, v) for n, v in tags])
            c.executemany("INSERT INTO diary_symptoms VALUES (?, ?)", [(rid, s) for s in symptoms])
        return rid

    def import_diary(self, entries: Sequence[tuple[str, Sequence[tuple[str, str]], Sequence[str], str]]) -> int:
        """Add entries in one transaction, skipping any identical to one already stored; returns how many were new."""
        existing = {_diary_key(e["night"], e["tags"], e["symptoms"], e["note"]) for e in self.diary()}
        added = 0
        with self.transaction() as c:
            for night, tags, symptoms, note in entries:
                key = _diary_key(night, tags, symptoms, note)
                if key in existing:
                    continue
                existing.add(key)
                rid = c.execute("INSERT INTO diary (night, note, added_at) VALUES (?, ?, ?)",
                                (night, note, _utc_now())).lastrowid
                c.executemany("INSERT INTO diary_tags VALUES (?, ?, ?)", [(rid, n, v) for n, v in tags])
                c.executemany("INSERT INTO diary_symptoms VALUES (?, ?)", [(rid, s) for s in symptoms])
                added += 1
        return added

    def remove_diary(self, entry_id: int) -> None:
        with self.transaction() as c:
            if c.execute("DELETE FROM diary WHERE id = ?", (entry_id,)).rowcount == 0:
                raise HistoryError(f"no diary entry with id {entry_id} in {self.path} (see: fascdetect diary list)")

    def diary(self, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Diary entries, oldest night first: id, night, tags [(name, value)], symptoms, note."""
        where, params = _night_range(since, until)
        with self._guard("read"):
            rows = self.conn.execute(f"SELECT id, night, note, added_at FROM diary {where} ORDER BY night, id",
                                     params).fetchall()
            tags: dict[int, list[tuple[str, str]]] = {}
            for eid, name, value in self.conn.execute("SELECT entry_id, name, value FROM diary_tags ORDER BY rowid"):
                tags.setdefault(eid, []).append((name, value))
            symptoms: dict[int, list[str]] = {}
            for eid, s in self.conn.execute("SELECT entry_id, symptom FROM diary_symptoms ORDER BY rowid"):
                symptoms.setdefault(eid, []).append(s)
        return [{"id": i, "night": n, "tags": tags.get(i, []), "symptoms": symptoms.get(i, []), "note": note,
                 "added_at": at} for i, n, note, at in rows]


def _diary_key(night: str, tags: Sequence[Sequence[str]], symptoms: Sequence[str], note: str) -> tuple:
    return night, tuple(sorted(tuple(t) for t in tags)), tuple(sorted(symptoms)), note


def _night_range(since: str | None, until: str | None) -> tuple[str, tuple]:
    clauses, params = [], []
    if since:
        clauses.append("night >= ?")
        params.append(since)
    if until:
        clauses.append("night <= ?")
        params.append(until)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params)


def channel_rest_s(summary: dict[str, Any], channels: Sequence[dict[str, Any]], duration_s: float) -> dict[str, float]:
    """Seconds at rest per channel: the analysis's own ``rest_s`` for the channel where it gives one, else its
    region's (the detector judges rest per region), else the duration less that foot's movement time (the
    time in which twitches were counted)."""
    found: dict[str, float] = {}
    per_channel = summary.get("channels")
    if isinstance(per_channel, dict):
        items = [dict(v, label=k) for k, v in per_channel.items() if isinstance(v, dict)]
    elif isinstance(per_channel, list):
        items = [v for v in per_channel if isinstance(v, dict)]
    else:
        items = []
    items += [c for c in channels if isinstance(c, dict)]
    for item in items:
        if "label" in item and isinstance(item.get("rest_s"), (int, float)):
            found.setdefault(item["label"], float(item["rest_s"]))
    if isinstance(summary.get("rest_s"), dict):
        for label, value in summary["rest_s"].items():
            found.setdefault(label, float(value))
    by_region = {(r["side"], r["region"]): float(r["rest_s"]) for r in summary.get("regions", [])
                 if isinstance(r.get("rest_s"), (int, float))}
    movement = summary.get("movement", {})
    for c in channels:
        if c["label"] not in found and (c["side"], c.get("region")) in by_region:
            found[c["label"]] = by_region[(c["side"], c["region"])]
        elif c["label"] not in found:
            moving = float(movement.get(c["side"], {}).get("total_s", 0.0))
            found[c["label"]] = max(float(duration_s) - moving, 0.0)
    return found


def region_rest_s(row: dict[str, Any], channels: Sequence[dict[str, Any]], rest: dict[str, float],
                  duration_s: float, movement: dict[str, Any]) -> float:
    """Seconds in which a region's twitches were counted, so nightly rates can be pooled over recordings."""
    if isinstance(row.get("rest_s"), (int, float)):
        return float(row["rest_s"])
    if row["twitches"] > 0 and row["twitches_per_min"] > 0:
        return 60.0 * row["twitches"] / row["twitches_per_min"]
    own = [rest[c["label"]] for c in channels if c["side"] == row["side"] and c["region"] == row["region"]]
    if own:
        return max(own)
    return max(float(duration_s) - float(movement.get(row["side"], {}).get("total_s", 0.0)), 0.0)
