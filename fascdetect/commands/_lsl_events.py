"""``--lsl-events [NAME]`` for the commands that detect live (record, monitor): final events as LSL markers.

Light at import (argparse only): pylsl is loaded when an outlet is opened.
"""

from __future__ import annotations

import argparse

DEFAULT_NAME = "fascdetect-events"


def add_lsl_events_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lsl-events", nargs="?", const=DEFAULT_NAME, default=None, metavar="NAME",
                   help="publish every final event as a Lab Streaming Layer marker stream (type Markers, one "
                        f"JSON string per event) named NAME (default {DEFAULT_NAME}), e.g. for LabRecorder")


def open_event_outlet(name: str | None, source: object | None = None):
    """The marker outlet ``--lsl-events`` asks for (bound to ``source`` if given), or None without the option."""
    if name is None:
        return None
    from fascdetect.errors import DeviceError, InputError

    if not name.strip():
        raise InputError("--lsl-events needs a non-empty stream name")
    try:
        from fascdetect.io.lsl_markers import EventOutlet

        outlet = EventOutlet(name.strip())
    except (ImportError, RuntimeError) as exc:  # no pylsl, or liblsl cannot be loaded
        raise DeviceError(f"cannot publish LSL events: {exc}") from None
    if source is not None:
        outlet.bind(source)
    return outlet
