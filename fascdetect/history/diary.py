"""Diary entries: free tags (possible triggers) and the fixed list of self-reported warning signs.

A diary date is the evening a night begins: a jog on Tuesday and the night
that follows it share Tuesday's date, the same rule ``store.night_of`` uses
for recordings.

The TSV form (``fascdetect simulate --nights`` writes it, ``diary import``
reads it) has a header ``date  tags  symptoms  note``; tags and symptoms are
comma-separated, a tag ``NAME`` or ``NAME=VALUE``.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Sequence

from fascdetect.errors import InputError

SYMPTOMS = ("weakness", "numbness", "pain", "wasting")
"""The warning signs guidance names besides persistent twitching (numbness includes tingling)."""
TSV_COLUMNS = ("date", "tags", "symptoms", "note")
_TAG_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")

Entry = tuple[str, list[tuple[str, str]], list[str], str]
"""(night 'YYYY-MM-DD', tags [(name, value)], symptoms, note)"""


RELATIVE_DAYS = {"today": 0, "tonight": 0, "yesterday": -1, "last-night": -1}
"""Words for ``diary add --date``: the evening of today, or of yesterday (whose night has just ended)."""


def parse_date(text: str, relative: bool = False, today: date | None = None) -> str:
    """'YYYY-MM-DD' checked as a real date (with ``relative``, also the words in RELATIVE_DAYS), or InputError."""
    from datetime import timedelta

    word = text.strip().lower().replace(" ", "-")
    if relative and word in RELATIVE_DAYS:
        return ((today or date.today()) + timedelta(days=RELATIVE_DAYS[word])).isoformat()
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise InputError(f"cannot read date {text!r}: use YYYY-MM-DD (the evening the night begins)") from None


def default_night(now: datetime | None = None) -> str:
    """The night an entry made now is most likely about: tonight after noon, last night before noon."""
    from fascdetect.history.store import night_of

    return night_of(now or datetime.now()).isoformat()


def parse_tag(text: str) -> tuple[str, str]:
    """'caffeine=3' -> ('caffeine', '3'); 'hot-soak' -> ('hot-soak', ''). Names are case-insensitive."""
    name, _, value = text.partition("=")
    name = name.strip().lower()
    if not _TAG_NAME.match(name):
        raise InputError(f"bad diary tag {text!r}: a tag is NAME or NAME=VALUE, NAME of letters, digits, '-', '_' "
                         "or '.' (e.g. caffeine=3, exercise=jog, hot-soak)")
    return name, value.strip()


def parse_symptom(text: str) -> str:
    s = text.strip().lower()
    if s == "tingling":
        return "numbness"
    if s not in SYMPTOMS:
        raise InputError(f"unknown symptom {text!r}: one of {', '.join(SYMPTOMS)} (free words go in --note or a --tag)")
    return s


def format_tags(tags: Iterable[Sequence[str]]) -> str:
    return ",".join(f"{n}={v}" if v else n for n, v in tags)


def read_tsv(path: str | Path) -> list[Entry]:
    """Entries from a diary TSV; InputError naming the line for anything unreadable."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except OSError as exc:
        raise InputError(f"cannot read diary {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"diary {path} is not UTF-8 text") from None
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["date", "tags"]:
        raise InputError(f"diary {path} must start with a header line: {chr(9).join(TSV_COLUMNS)} (tab-separated)")
    header = [c.strip().lower() for c in rows[0]]
    out: list[Entry] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cells = dict(zip(header, row))
        try:
            night = parse_date(cells.get("date", ""))
            tags = [parse_tag(t) for t in cells.get("tags", "").split(",") if t.strip()]
            symptoms = [parse_symptom(s) for s in cells.get("symptoms", "").split(",") if s.strip()]
        except InputError as exc:
            raise InputError(f"diary {path} line {n}: {exc}") from None
        out.append((night, tags, symptoms, cells.get("note", "").strip()))
    return out


def write_tsv(path: str | Path, entries: Iterable[Entry]) -> None:
    """A diary TSV, owner-readable only."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(TSV_COLUMNS)
        for night, tags, symptoms, note in entries:
            w.writerow([night, format_tags(tags), ",".join(symptoms), note])
