"""``fascdetect analyze PATH``: events and per-region counts for a recording."""

from __future__ import annotations

import argparse
import json
import sys

from fascdetect.commands._history import add_db_argument
from fascdetect.formats import SUPPORTED


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("analyze", help="detect twitches, bursts, cramps and movement in a recording",
                       description=f"Analyse a recording ({SUPPORTED}) and print per-region counts.")
    p.add_argument("path", help="recording file")
    p.add_argument("--montage", metavar="FILE.toml", help="map labels that do not follow 'EMG L-ADM' style")
    p.add_argument("--json", action="store_true", help="print one JSON object (recording, events, summary)")
    p.add_argument("--events-out", metavar="FILE.tsv", help="write events as a BIDS-style TSV table")
    p.add_argument("--annotate", metavar="OUT.edf", help="write a copy of the recording with the events as EDF+ annotations")
    p.add_argument("--progress", action="store_true", help="show a progress bar even with --json")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes (the two feet can run in parallel; default: one per core, at most two)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a detector setting, or a motor-unit sorter's one as motor_units.NAME=VALUE "
                        "(see --show-config); repeatable")
    p.add_argument("--show-config", action="store_true",
                   help="print the detector settings in use (the sorter's under motor_units) and exit")
    p.add_argument("--save", action="store_true", help="also store the night in the history database (see history)")
    add_db_argument(p)
    return p


def run(args: argparse.Namespace) -> int:
    from fascdetect.config import DetectorConfig

    config = DetectorConfig().with_overrides(args.set)
    if args.show_config:
        print(json.dumps(config.to_json(), indent=2))
        return 0
    # The detector (scipy.signal) and the readers (pyedflib, wfdb) load only once there is a recording to read.
    from fascdetect.analyze import analyze_path
    from fascdetect.io.annotate import write_annotated_copy
    from fascdetect.regions import NO_MONTAGE, Montage

    montage = Montage.load(args.montage) if args.montage else NO_MONTAGE
    progress = True if args.progress else (False if args.json else None)
    result = analyze_path(args.path, montage, config, progress=progress, workers=args.workers)
    if args.events_out:
        result.write_tsv(args.events_out)
    if args.annotate:
        write_annotated_copy(args.path, args.annotate, result.events, montage)
    if args.json:
        json.dump(result.to_json(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(result.table())
    if args.save:
        from fascdetect.commands._history import open_history, save_result, saved_line

        with open_history(args) as history:
            print(saved_line(save_result(history, result, args.path), args.path, history), file=sys.stderr)
    return 0
