"""``fascdetect batch PATHS_OR_GLOBS... --out DIR``: a cohort of recordings into Parquet.

Light at import time (the CLI imports every command module to build its
parser): Dask, pyarrow and the analyser load inside ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys

from fascdetect.commands._history import add_db_argument


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "batch", help="analyse many recordings (locally or on a Dask cluster) into Parquet tables",
        description="Analyse every recording the arguments name (files, directories searched recursively for "
                    "EDF/BDF/WFDB, or globs such as 'nights/**/*.edf') and write DIR/recordings.parquet (one "
                    "row per recording) and DIR/events.parquet (every event with its recording_id). A rerun "
                    "skips recordings already done with the same content and settings and retries failed ones.")
    p.add_argument("paths", nargs="+", metavar="PATH_OR_GLOB", help="recording, directory or glob (quote globs)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created; keeps its parts/ for reruns)")
    p.add_argument("--montage", metavar="FILE.toml", help="map labels that do not follow 'EMG L-ADM' style")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a detector setting (see analyze --show-config); repeatable")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: one per core)")
    engine.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run on an existing Dask cluster; its workers need fascdetect and the same paths")
    p.add_argument("--split-mb", type=float, default=None, metavar="MB",
                   help="analyse each foot of an EDF/BDF of at least MB megabytes in a task of its own, as analyze "
                        "does (default 500, about 4 h of 8 EMG channels at 2 kHz; 0: every EDF/BDF with both feet)")
    p.add_argument("--force", action="store_true", help="analyse again recordings already done")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--save", action="store_true",
                   help="also store each recording in the history database (see history; stored ones are left alone)")
    add_db_argument(p)
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", default=None, help="show the progress bar even when not on a terminal")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from fascdetect.batch import SPLIT_BYTES, run_batch
    from fascdetect.config import DetectorConfig
    from fascdetect.regions import NO_MONTAGE, Montage

    config = DetectorConfig().with_overrides(args.set)
    montage = Montage.load(args.montage) if args.montage else NO_MONTAGE
    history = None
    saved = {"new": 0, "known": 0}
    on_done = reuse_if = None
    if args.save:
        from fascdetect.commands._history import open_history, save_result

        history = open_history(args)  # a corrupt or locked database stops here, before any work

        def on_done(outcome) -> None:
            stored = save_result(history, outcome.analysis, outcome.path, sha256=outcome.recording_id)
            saved["new" if stored.new else "known"] += 1

        def reuse_if(recording_id: str) -> bool:
            return history.find(recording_id) is not None

    try:
        report = run_batch(args.paths, args.out, montage, config, workers=args.workers, scheduler=args.scheduler,
                           force=args.force, progress=args.progress, on_done=on_done, reuse_if=reuse_if,
                           split_bytes=SPLIT_BYTES if args.split_mb is None else round(args.split_mb * 1e6))
    finally:
        if history is not None:
            history.close()
    if args.json:
        doc = report.to_json()
        if history is not None:
            doc["history"] = {"path": str(history.path), "saved": saved["new"], "already_stored": saved["known"]}
        print(json.dumps(doc))
    else:
        print(report.text())
        if history is not None:
            print(f"history: {saved['new']} recording(s) saved, {saved['known']} already there ({history.path})",
                  file=sys.stderr)
    return 130 if report.interrupted else (1 if report.failed else 0)
