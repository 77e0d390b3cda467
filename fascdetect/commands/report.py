"""``fascdetect report``: one self-contained HTML page of the stored nights and diary."""

from __future__ import annotations

import argparse

from fascdetect.commands._history import add_db_argument


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help="write an HTML report of the stored nights, worth showing a clinician",
                       description="Write one self-contained HTML file (no scripts, nothing fetched; prints to "
                                   "PDF from a browser) from the history: nightly twitch rates per region, cramps, "
                                   "movement, one night in detail, persistence and spread, diary associations, and "
                                   "the points worth raising with a clinician. It describes signals; it does not "
                                   "diagnose.")
    p.add_argument("--from", dest="since", metavar="DATE", help="first night, YYYY-MM-DD (default: the first stored)")
    p.add_argument("--to", dest="until", metavar="DATE", help="last night, YYYY-MM-DD (default: the last stored)")
    p.add_argument("--night", metavar="DATE", help="the night shown in detail (default: the last recorded night)")
    p.add_argument("--out", required=True, metavar="REPORT.html", help="file to write (owner-readable only; replaced)")
    add_db_argument(p)
    return p


def run(args: argparse.Namespace) -> int:
    from fascdetect.commands._history import open_history
    from fascdetect.history.diary import parse_date
    from fascdetect.history.nights import clinician_signs, load_period
    from fascdetect.history.report import write_report

    since = parse_date(args.since) if args.since else None
    until = parse_date(args.until) if args.until else None
    detail = parse_date(args.night) if args.night else None
    if since and until and since > until:
        from fascdetect.errors import InputError

        raise InputError(f"--from {since} is after --to {until}")
    with open_history(args, create=False) as history:
        period = load_period(history, since, until, detail)
    path = write_report(period, args.out)
    signs = clinician_signs(period)
    print(f"wrote {path}: {len(period.nights)} recorded night(s) from {period.first} to {period.last}, "
          f"{len(period.diary)} diary entr{'y' if len(period.diary) == 1 else 'ies'}")
    if signs:
        print(f"{len(signs)} point(s) worth showing a clinician: " + "; ".join(s.title for s in signs)
              + " (see the report's box; fascdetect does not diagnose)")
    return 0
