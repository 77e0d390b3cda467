"""``fascdetect monitor``: the live desktop display (pyqtgraph) of twitches per foot region.

With no ``--source`` it starts on the simulated wearable, so a first run
shows something at once. ``sim-ble[:SCENARIO]`` runs the simulated wearable
behind a stand-in BlueZ on a private D-Bus and reads it with the real
Bluetooth source (bleak), exercising the whole wireless path without radio. ``--screenshot FILE.png --duration S`` runs
headless for S seconds, saves the window and prints the frame rate and CPU
use (for tests, benchmarks and the README's pictures); ``--duration S`` alone
shows the window for S seconds. Both print the twitch-to-screen latency.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fascdetect.commands._lsl_events import add_lsl_events_argument, open_event_outlet
from fascdetect.errors import InputError
from fascdetect.sources.spec import SPEC_FORMS, parse_source_spec

DEFAULT_SOURCE = "sim"
SIM_BLE = "sim-ble"
DEFAULT_SCREENSHOT_S = 10.0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "monitor", help="live display of twitches per foot region (simulator, recording replay or wearable)",
        description="Show the live signal, detected twitches, bursts and cramps per foot region, counts and a "
                    f"timeline, running the same detector as analyze. Sources: {SPEC_FORMS}. "
                    "Without --source it starts on the simulated wearable.")
    p.add_argument("--source", default=DEFAULT_SOURCE, metavar="SRC",
                   help="sim[:SCENARIO][@SPEED], sim-ble[:SCENARIO], ble[:NAME_OR_ADDRESS], replay:PATH[@SPEED], "
                        "lsl[:NAME_OR_TYPE][?key=value] or brainflow:BOARD[?param=value] (default: sim)")
    p.add_argument("--montage", metavar="FILE.toml",
                   help="map labels of a replayed recording, an LSL stream or a BrainFlow board's channels")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a detector setting (see analyze --show-config); repeatable")
    p.add_argument("--window", type=float, default=10.0, metavar="S", help="trace window in seconds (default 10)")
    p.add_argument("--screenshot", metavar="FILE.png", help="run headless, save the window as PNG and exit")
    p.add_argument("--duration", metavar="D", help="run this long, e.g. 20s, then close and print the frame rate, CPU "
                   f"use and twitch-to-screen latency (with --screenshot: default {DEFAULT_SCREENSHOT_S:g}s)")
    add_lsl_events_argument(p)
    return p


def run(args: argparse.Namespace) -> int:
    from fascdetect.commands._sources import open_cli_source
    from fascdetect.commands.simulate import parse_duration
    from fascdetect.config import DetectorConfig
    from fascdetect.regions import NO_MONTAGE, Montage
    from firmware_sim.scenarios import SCENARIOS
    from gui.app import run_monitor

    config = DetectorConfig().with_overrides(args.set)
    kind, _, scenario = args.source.partition(":")
    simulated_radio = kind.strip().lower() == SIM_BLE
    if not simulated_radio:
        parse_source_spec(args.source)  # a malformed spec fails here, before any window opens
    if not args.screenshot and not _display_available():
        raise InputError("no display to open the window on (DISPLAY is not set); --screenshot FILE.png runs headless")
    if not 1.0 <= args.window <= 30.0:
        raise InputError(f"--window must be between 1 and 30 seconds, not {args.window:g}")
    montage = Montage.load(args.montage) if args.montage else NO_MONTAGE
    duration_s = parse_duration(args.duration) if args.duration else (DEFAULT_SCREENSHOT_S if args.screenshot else None)
    outlet = open_event_outlet(args.lsl_events)

    def open_spec(spec: str):
        source = open_cli_source(spec, montage)
        if outlet is None:
            return source
        from fascdetect.io.lsl_markers import PublishingSource

        return PublishingSource(source, outlet, config)

    bluez = _start_simulated_radio(scenario.strip() or "rest") if simulated_radio else None
    try:
        return run_monitor("ble" if bluez else args.source, open_spec,
                           tuple(SCENARIOS), config, args.window, Path(args.screenshot) if args.screenshot else None,
                           duration_s)
    finally:
        if bluez is not None:
            bluez.stop()
        if outlet is not None:
            outlet.close()


def _display_available() -> bool:
    """Whether Qt can open a window: on Linux it needs an X or Wayland display (or a chosen platform plugin);
    without one Qt aborts the process instead of raising."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _start_simulated_radio(scenario: str):
    """The simulated wearable on a stand-in BlueZ (private D-Bus), found by ``ble`` in this process."""
    import os

    from firmware_sim.bluez import start_private_bluez
    from firmware_sim.scenarios import get_scenario

    get_scenario(scenario)  # an unknown name is an InputError before any daemon starts
    handle = start_private_bluez(scenario)
    os.environ.update(handle.env)
    return handle
