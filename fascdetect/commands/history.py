"""``fascdetect history add|list|remove``: the analysed nights kept in the history database."""

from __future__ import annotations

import argparse
import json
import sys

from fascdetect.commands._history import add_db_argument, add_list_parser, open_history, saved_line


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("history", help="keep analysed nights in a local database (add, list, remove)",
                       description="The history: every analysed recording, stored once (by content), with its "
                                   "events and per-region counts. Nothing leaves this machine. "
                                   "See docs/history.md.")
    hs = p.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    a = hs.add_parser("add", help="analyse recordings and store them (already stored ones are skipped)")
    a.add_argument("files", nargs="+", metavar="FILE", help="recordings (EDF+/BDF+, WFDB, CSV)")
    a.add_argument("--montage", metavar="FILE.toml", help="map labels that do not follow 'EMG L-ADM' style")
    a.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a detector setting (see analyze --show-config); repeatable")
    a.add_argument("--workers", type=int, default=None, metavar="N", help="processes per recording (see analyze)")
    a.add_argument("--replace", action="store_true", help="analyse recordings already stored again and replace "
                   "their results (after an upgrade, or with other --set settings); ids stay")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_db_argument(a)
    add_list_parser(hs, "stored recordings")
    rm = hs.add_parser("remove", help="delete a stored recording (its events and counts too; the file stays)")
    rm.add_argument("id", type=int, metavar="ID", help="recording id from 'history list'")
    add_db_argument(rm)
    return p


def run(args: argparse.Namespace) -> int:
    return {"add": _add, "list": _list, "remove": _remove}[args.history_command](args)


def _add(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fascdetect.analyze import analyze_path
    from fascdetect.commands._history import save_result
    from fascdetect.config import DetectorConfig
    from fascdetect.errors import FascdetectError, HistoryError
    from fascdetect.history.store import file_sha256
    from fascdetect.regions import NO_MONTAGE, Montage

    config = DetectorConfig().with_overrides(args.set)
    montage = Montage.load(args.montage) if args.montage else NO_MONTAGE
    new = old = replaced = 0
    failed: list[FascdetectError] = []
    with open_history(args) as history:
        with tqdm(args.files, unit="file", desc="history add", file=sys.stderr, dynamic_ncols=True,
                  disable=True if args.no_progress else None) as bar:
            for path in bar:
                bar.set_postfix_str(str(path)[-40:])
                try:
                    sha = file_sha256(path)
                    found = history.find(sha)
                    if found is None or args.replace:
                        result = analyze_path(path, montage, config, progress=False, workers=args.workers)
                        found = save_result(history, result, path, sha, replace=args.replace)
                except HistoryError:
                    raise  # the database itself is unusable: stop, nothing more can be stored
                except FascdetectError as exc:
                    failed.append(exc)
                    tqdm.write(f"fascdetect history add: {path}: {exc}", file=sys.stderr)
                    continue
                new += found.new and not found.replaced
                old += not found.new
                replaced += found.replaced
                tqdm.write(saved_line(found, path, history))
        print(f"{new} recording(s) stored, " + (f"{replaced} re-analysed and replaced, " if args.replace else "")
              + f"{old} already in the history"
              + (f", {len(failed)} could not be read" if failed else "") + f" ({history.path})")
    return failed[0].exit_code if failed else 0


def _list(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fascdetect.history.diary import parse_date
    from fascdetect.history.store import History, default_path

    since = parse_date(args.since) if args.since else None
    until = parse_date(args.until) if args.until else None
    path = Path(args.db).expanduser() if args.db else default_path()
    if not path.exists():
        if args.json:
            print("[]")
        else:
            print(f"no history yet at {path} (store a night with: fascdetect history add FILE)")
        return 0
    with History(path, create=False) as history:
        rows = history.recordings(since, until)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print(f"no recordings in {path}" + (" in that range" if since or until else ""))
        return 0
    head = f"{'id':>4}  {'night of':<10}  {'start':<16}  {'length':>8}  {'ch':>3}  {'twitches':>8}  {'cramps':>6}  file"
    print(head)
    print("-" * len(head))
    for r in rows:
        h, rest = divmod(int(round(r["duration_s"])), 3600)
        print(f"{r['id']:>4}  {r['night']:<10}  {r['start'][:16].replace('T', ' '):<16}  "
              f"{h:>2}:{rest // 60:02d}:{rest % 60:02d}  {r['channels']:>3}  {r['twitches']:>8}  {r['cramps']:>6}  "
              f"{r['path']}")
    nights = len({r["night"] for r in rows})
    print(f"{len(rows)} recording(s), {nights} night(s) ({path})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with open_history(args, create=False) as history:
        gone = history.remove(args.id)
    print(f"removed recording {gone['id']} (night of {gone['night']}, {gone['path']}) from the history; "
          "the recording file itself is untouched")
    return 0
