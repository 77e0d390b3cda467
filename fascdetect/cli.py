"""Command line: the composition root.

Each subcommand lives in ``fascdetect.commands.<name>`` with ``add_parser``
and ``run``; the simulator and GUI are imported there lazily, so the library
itself never depends on them.

Keeping start-up light (for authors of new commands): every command module is
imported to build the parser, for every invocation, ``--help`` included. So at
module level and in ``add_parser`` import only the standard library and light
modules (errors, formats, overrides, regions, sources.spec, firmware_sim.scenarios,
config); import numpy, scipy, the readers (``fascdetect.io``: pyedflib, wfdb),
the detector (pipeline, analyze, record), tqdm, bleak and the GUI
(PySide6, pyqtgraph) inside ``run``. A help text that needs data from a heavy
module gets it from a light one (``fascdetect.formats.SUPPORTED``, the scenario
list). tests/test_startup.py checks that ``--help`` loads none of them, and
``python -m benchmarks startup`` times it (``python -X importtime`` shows the culprit).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from fascdetect import __version__
from fascdetect.errors import FascdetectError

COMMANDS = ("analyze", "simulate", "record", "monitor", "scan", "history", "diary", "report", "batch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fascdetect",
        description="Detect muscle twitches (fasciculations), cramps and movement in foot EMG/accelerometer signals.",
        epilog="fascdetect describes signals; it does not diagnose.",
    )
    parser.add_argument("--version", action="version", version=f"fascdetect {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"fascdetect.commands.{name}")
        module.add_parser(sub).set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except FascdetectError as exc:
        print(f"fascdetect {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); nothing left to say.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"fascdetect {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
