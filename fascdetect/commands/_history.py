"""What the history-aware commands share: the ``--db`` option and saving an analysis.

Light at import time (the CLI imports every command module to build its
parser): the database code loads inside the functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fascdetect.history.store import History, Stored

DB_HELP = "history database file (default: $FASCDETECT_DB, else history.sqlite3 in your user data directory)"


def add_db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help=DB_HELP)


def add_list_parser(sub: argparse._SubParsersAction, what: str) -> None:
    """The ``list`` subcommand both history commands have: JSON or a table, between two nights."""
    ls = sub.add_parser("list", help=f"list {what}")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.add_argument("--from", dest="since", metavar="DATE", help="first night, YYYY-MM-DD")
    ls.add_argument("--to", dest="until", metavar="DATE", help="last night, YYYY-MM-DD")
    add_db_argument(ls)


def open_history(args: argparse.Namespace, create: bool = True) -> "History":
    from fascdetect.history.store import History

    return History(getattr(args, "db", None) or None, create=create)


def save_result(history: "History", result: Any, path: str | Path, sha256: str | None = None,
                replace: bool = False) -> "Stored":
    """Store an AnalysisResult under the content hash of ``path`` (once: a stored recording is left alone
    unless ``replace``)."""
    from fascdetect.history.store import file_sha256

    return history.add(result, sha256 or file_sha256(path), path, replace=replace)


def saved_line(stored: "Stored", path: str | Path, history: "History") -> str:
    if stored.replaced:
        return f"re-analysed {path}: its stored results replaced (id {stored.id}, night of {stored.night})"
    if stored.new:
        return f"saved {path} to the history: id {stored.id}, night of {stored.night} ({history.path})"
    return f"already in the history: {path} (id {stored.id}, night of {stored.night}); nothing new stored"
