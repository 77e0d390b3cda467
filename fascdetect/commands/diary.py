"""``fascdetect diary add|list|import|remove``: possible triggers and self-reported warning signs, per night."""

from __future__ import annotations

import argparse
import json
import sys

from fascdetect.commands._history import add_db_argument, add_list_parser, open_history

SYMPTOM_CHOICES = ("weakness", "numbness", "pain", "wasting")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("diary", help="note possible triggers and symptoms per night (add, list, import, remove)",
                       description="A diary beside the recorded nights, kept in the history database. The date "
                                   "is the evening the night begins (default: tonight after noon, last night "
                                   "before noon). The report compares tagged and untagged nights.")
    ds = p.add_subparsers(dest="diary_command", required=True, metavar="ACTION")
    a = ds.add_parser("add", help="add an entry for a night")
    a.add_argument("--date", metavar="YYYY-MM-DD", help="the evening the night begins, or today/tonight, "
                   "yesterday/last-night (default: tonight after noon, last night before noon)")
    a.add_argument("--tag", action="append", default=[], metavar="NAME[=VALUE]",
                   help="a possible trigger, e.g. caffeine=3, exercise=jog, stress=high, hot-soak (repeatable)")
    a.add_argument("--symptom", action="append", default=[], choices=SYMPTOM_CHOICES,
                   help="a warning sign you noticed (repeatable; numbness includes tingling)")
    a.add_argument("--note", default="", metavar="TEXT", help="free text")
    add_db_argument(a)
    add_list_parser(ds, "diary entries")
    im = ds.add_parser("import", help="add the entries of a diary TSV (date, tags, symptoms, note); "
                                      "entries already there are skipped")
    im.add_argument("file", metavar="DIARY.tsv")
    add_db_argument(im)
    rm = ds.add_parser("remove", help="delete a diary entry")
    rm.add_argument("id", type=int, metavar="ID", help="entry id from 'diary list'")
    add_db_argument(rm)
    return p


def run(args: argparse.Namespace) -> int:
    return {"add": _add, "list": _list, "import": _import, "remove": _remove}[args.diary_command](args)


def _describe(night: str, tags, symptoms, note: str) -> str:
    from fascdetect.history.diary import format_tags

    parts = [f"tags {format_tags(tags)}" if tags else "", f"symptoms {', '.join(symptoms)}" if symptoms else "",
             f"note {note!r}" if note else ""]
    return f"night of {night}: " + "; ".join(p for p in parts if p)


def _add(args: argparse.Namespace) -> int:
    from fascdetect.errors import InputError
    from fascdetect.history.diary import default_night, parse_date, parse_symptom, parse_tag

    night = parse_date(args.date, relative=True) if args.date else default_night()
    tags = [parse_tag(t) for t in args.tag]
    symptoms = list(dict.fromkeys(parse_symptom(s) for s in args.symptom))
    note = args.note.strip()
    if not (tags or symptoms or note):
        raise InputError("nothing to note: give --tag, --symptom and/or --note")
    with open_history(args) as history:
        entry = history.add_diary(night, tags, symptoms, note)
    print(f"diary entry {entry}: {_describe(night, tags, symptoms, note)}")
    if symptoms:
        print("Warning signs such as these are worth talking over with a clinician; the report lists them.")
    return 0


def _list(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fascdetect.history.diary import format_tags, parse_date
    from fascdetect.history.store import History, default_path

    since = parse_date(args.since) if args.since else None
    until = parse_date(args.until) if args.until else None
    path = Path(args.db).expanduser() if args.db else default_path()
    entries = []
    if path.exists():
        with History(path, create=False) as history:
            entries = history.diary(since, until)
    if args.json:
        json.dump([dict(e, tags=[{"name": n, "value": v} for n, v in e["tags"]]) for e in entries], sys.stdout,
                  indent=1)
        sys.stdout.write("\n")
        return 0
    if not entries:
        print("no diary entries" + (" in that range" if since or until else "") + f" ({path})")
        return 0
    head = f"{'id':>4}  {'night of':<10}  {'tags':<32}  {'symptoms':<18}  note"
    print(head)
    print("-" * len(head))
    for e in entries:
        print(f"{e['id']:>4}  {e['night']:<10}  {format_tags(e['tags']):<32}  {','.join(e['symptoms']):<18}  "
              f"{e['note']}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from fascdetect.history.diary import read_tsv

    entries = read_tsv(args.file)
    with open_history(args) as history:
        added = history.import_diary(entries)
    print(f"imported {added} diary entr{'y' if added == 1 else 'ies'} from {args.file}"
          + (f"; {len(entries) - added} already there" if len(entries) > added else "") + f" ({history.path})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with open_history(args, create=False) as history:
        history.remove_diary(args.id)
    print(f"removed diary entry {args.id}")
    return 0
