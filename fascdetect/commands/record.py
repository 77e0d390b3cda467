"""``fascdetect record``: stream a source to EDF+/BDF+, annotating detected events as they happen.

Ctrl-C or SIGTERM ends the recording cleanly: the signal may interrupt the
wait for data, never the writing of a block, and the file is closed with
every complete record and annotation in it (exit status 0). A SIGKILL or a
crash still leaves every complete data record readable (see EdfWriter).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Iterator

from fascdetect.commands._history import add_db_argument
from fascdetect.commands._lsl_events import add_lsl_events_argument, open_event_outlet
from fascdetect.commands.simulate import parse_duration
from fascdetect.errors import InputError
from fascdetect.sources.spec import SPEC_FORMS, parse_source_spec

if TYPE_CHECKING:
    from fascdetect.record import Recorder

STATUS_EVERY_S = 10.0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "record", help="record a wearable, the simulator or a replayed file to EDF+/BDF+ with detected events",
        description="Write signals to EDF+ (or BDF+) as they arrive, with detected events and data gaps as "
                    "annotations. Stop with Ctrl-C; the file stays complete and readable. "
                    f"Sources: {SPEC_FORMS}.")
    p.add_argument("--source", required=True, metavar="SRC", help="sim[:SCENARIO][@SPEED], ble[:NAME_OR_ADDRESS], "
                   "replay:PATH[@SPEED], lsl[:NAME_OR_TYPE][?key=value] or brainflow:BOARD[?param=value]")
    p.add_argument("--out", required=True, metavar="FILE.edf", help="recording to write (owner-readable only)")
    p.add_argument("--duration", metavar="D", help="stop after this much signal, e.g. 30s, 10m, 8h "
                   "(default: until the source ends or Ctrl-C)")
    p.add_argument("--bdf", action="store_true", help="write 24-bit BDF+ instead of 16-bit EDF+")
    p.add_argument("--no-detect", action="store_true", help="record signals only, without event detection")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--montage", metavar="FILE.toml",
                   help="map labels of a replayed recording, an LSL stream or a BrainFlow board's channels")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a detector setting (see analyze --show-config); repeatable")
    p.add_argument("--status-every", type=float, default=STATUS_EVERY_S, metavar="S",
                   help=f"seconds between status lines on stderr (default {STATUS_EVERY_S:g}; 0: none)")
    add_lsl_events_argument(p)
    p.add_argument("--save", action="store_true", help="when the recording closes, analyse the file and store the "
                   "night in the history database (see history)")
    add_db_argument(p)
    return p


class _StopSignals:
    """SIGINT and SIGTERM end the recording.

    A signal raises KeyboardInterrupt only inside ``waiting()`` (the wait
    for the next block); anywhere else it is noted and the loop stops after
    the block in hand, so a block is never half written or half detected.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._waiting = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "_StopSignals":
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum).name
        if self._waiting:
            raise KeyboardInterrupt

    @contextmanager
    def waiting(self) -> Iterator[None]:
        if self.received:
            raise KeyboardInterrupt
        self._waiting = True
        try:
            yield
        finally:
            self._waiting = False

    def requested(self) -> bool:
        return self.received is not None


class _Status:
    """A one-line status on stderr every ``every_s`` seconds (rewritten in place on a terminal)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._next = time.monotonic() + every_s
        self._tty = sys.stderr.isatty()
        self._shown = False

    def __call__(self, recorder: Recorder) -> None:
        if self.every_s <= 0 or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every_s
        line = (f"recording {_hms(recorder.data_s)}  events {sum(recorder.events.values())}  "
                f"gaps {recorder.gap_s:.1f} s  size {recorder.size_bytes / 1e6:.1f} MB")
        sys.stderr.write(f"\r{line}\x1b[K" if self._tty else f"{line}\n")
        sys.stderr.flush()
        self._shown = True

    def end(self) -> None:
        if self._tty and self._shown:
            sys.stderr.write("\n")


def _hms(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def run(args: argparse.Namespace) -> int:
    from fascdetect.commands._sources import open_cli_source
    from fascdetect.config import DetectorConfig
    from fascdetect.pipeline import Pipeline
    from fascdetect.record import Recorder, record
    from fascdetect.regions import NO_MONTAGE, Montage

    config = DetectorConfig().with_overrides(args.set)
    limit_s = parse_duration(args.duration) if args.duration else None
    if limit_s is not None and not limit_s.is_integer():
        raise InputError(f"duration {args.duration!r} must be whole seconds (EDF data records are 1 s)")
    if args.status_every < 0:
        raise InputError(f"--status-every must be 0 or more seconds, not {args.status_every:g}")
    spec = parse_source_spec(args.source)
    if spec.kind == "sim" and spec.speed is None and limit_s is None:
        raise InputError("the simulator at max speed never ends and would fill the disk; give --duration")
    if args.lsl_events is not None and args.no_detect:
        raise InputError("--lsl-events publishes detected events; it cannot go with --no-detect")
    montage = Montage.load(args.montage) if args.montage else NO_MONTAGE
    if args.save:
        from fascdetect.commands._history import open_history

        open_history(args).close()  # a corrupt or foreign database is reported now, not after the night
    source = open_cli_source(spec, montage)
    status = _Status(args.status_every)
    outlet = None
    try:
        outlet = open_event_outlet(args.lsl_events, source)
        pipeline = None if args.no_detect else Pipeline(source.channels, config)
        with _StopSignals() as stop, Recorder(args.out, source.channels, source.start, bdf=args.bdf,
                                              overwrite=args.overwrite, limit_s=limit_s) as recorder:
            rates = ", ".join(f"{fs:g} Hz" for fs in sorted({c.fs_hz for c in source.channels}, reverse=True))
            print(f"recording {args.source} to {recorder.path}: {len(source.channels)} channels ({rates}); "
                  "Ctrl-C stops", file=sys.stderr)
            try:
                record(source, recorder, pipeline, should_stop=stop.requested, waiting=stop.waiting, on_block=status,
                       on_events=None if outlet is None else outlet.publish)
            except KeyboardInterrupt:
                pass  # a stop signal during the wait for data; record() has flushed the detector
            status.end()
    finally:
        source.close()
        if outlet is not None:
            outlet.close()
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(recorder.events.items())) or "no events"
    ended = f"stopped by {stop.received}" if stop.received else "complete"
    print(f"wrote {recorder.path} ({len(source.channels)} channels, {recorder.file_s:g} s, {ended}): {counts}"
          + (f"; {recorder.gap_s:.2f} s of lost data marked as gaps" if recorder.gap_s else ""))
    if args.save:
        _save(args, recorder.path, recorder.file_s, config)
    return 0


def _save(args: argparse.Namespace, path, file_s: float, config) -> None:
    """Analyse the closed file (the same detector as ``analyze``) and store it in the history."""
    from fascdetect.analyze import analyze_path
    from fascdetect.commands._history import open_history, save_result, saved_line

    if file_s <= 0:
        print("nothing recorded: not saved to the history", file=sys.stderr)
        return
    result = analyze_path(path, config=config, progress=None)
    with open_history(args) as history:
        print(saved_line(save_result(history, result, path), path, history))
