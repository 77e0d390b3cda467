"""Source specs: the one text form by which `record` and `monitor` name where data comes from.

``sim[:SCENARIO][@SPEED]``, ``ble[:NAME_OR_ADDRESS]``,
``replay:PATH[@SPEED]``, ``lsl[:NAME_OR_TYPE][?key=value&...]`` and
``brainflow:BOARD[?param=value&...]``. The simulated wearable lives in ``firmware_sim``,
which the library must not import, so ``open_source`` takes it as a factory
(``fascdetect.commands._sources`` passes the real one); everything else is
opened here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl

from fascdetect.errors import DeviceError, InputError
from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources import Source

SPEC_FORMS = (
    "sim[:SCENARIO][@SPEED] (the simulated wearable), ble[:NAME_OR_ADDRESS] (a Bluetooth LE wearable), "
    "replay:PATH[@SPEED] (a recording), lsl[:NAME_OR_TYPE][?key=value] (a Lab Streaming Layer stream), "
    "brainflow:BOARD[?param=value] (a board through BrainFlow); "
    "SPEED is a factor such as 1, 4 or 0.5, or 'max' for as fast as possible"
)
KINDS = ("sim", "ble", "replay", "lsl", "brainflow")
LIVE_KINDS = ("ble", "lsl", "brainflow")
"""Sources that run at their own pace: no @SPEED."""
QUERY_KINDS = ("lsl", "brainflow")
"""Sources whose target may end in ``?key=value&...`` settings."""

SimulatorFactory = Callable[[str | None], Source]
"""Scenario name (None: the default one) → an unpaced, endless simulated Source."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed spec: ``target`` is the scenario, device or path (None: the default);
    ``speed`` the pacing factor, None for as fast as possible; ``params`` the
    ``?key=value`` settings of an LSL stream or BrainFlow board, in order."""

    kind: str
    target: str | None = None
    speed: float | None = 1.0
    params: tuple[tuple[str, str], ...] = ()


def _bad(text: str, why: str) -> InputError:
    return InputError(f"source {text!r}: {why}; accepted forms: {SPEC_FORMS}")


def parse_speed(text: str, spec: str) -> float | None:
    """'4', '4x', '0.5' → factor; 'max' → None (as fast as possible)."""
    word = text.strip().lower()
    if word == "max":
        return None
    try:
        speed = float(word.removesuffix("x"))
    except ValueError:
        raise _bad(spec, f"speed {text!r} is neither a number nor 'max'") from None
    if not (math.isfinite(speed) and speed > 0):
        raise _bad(spec, f"speed {text!r} must be a positive number")
    return speed


def parse_source_spec(text: str) -> SourceSpec:
    """Split a spec into kind, target and speed; InputError listing the accepted forms if it is not one."""
    stripped = text.strip()
    cut = min((i for i in (stripped.find(":"), stripped.find("@")) if i >= 0), default=len(stripped))
    kind, rest = stripped[:cut].strip().lower(), stripped[cut:]
    rest = rest.removeprefix(":")
    if kind not in KINDS:
        hint = f"; for a recording write replay:{text}" if Path(text).is_file() else ""
        raise _bad(text, f"unknown kind {kind!r}{hint}")
    speed: float | None = 1.0
    params: tuple[tuple[str, str], ...] = ()
    if kind in QUERY_KINDS and "?" in rest:
        rest, _, query = rest.partition("?")
        try:
            params = tuple(parse_qsl(query, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            raise _bad(text, f"settings {query!r} are not key=value pairs joined by '&'") from None
    if kind in LIVE_KINDS and rest.startswith("@"):
        raise _bad(text, "a live wearable has no speed" if kind == "ble" else "a live stream has no speed")
    if kind not in LIVE_KINDS and "@" in rest:  # a BLE name may contain '@'; recordings and the simulator may not
        rest, _, speed_text = rest.rpartition("@")
        speed = parse_speed(speed_text, text)
    target = rest.strip() or None
    if kind == "replay" and target is None:
        raise _bad(text, "replay needs a path")
    if kind == "brainflow" and target is None:
        raise _bad(text, "brainflow needs a board name or id, e.g. brainflow:synthetic")
    return SourceSpec(kind, target, speed, params)


def open_source(spec: str | SourceSpec, *, simulator: SimulatorFactory | None = None,
                montage: Montage = NO_MONTAGE) -> Source:
    """The Source a spec names, paced at its speed (replay and simulator) or live (BLE).

    ``montage`` maps the labels of a replayed recording, an LSL stream or a
    BrainFlow board's channels; ``simulator`` makes the
    simulated wearable (without it, ``sim`` is refused).
    """
    from fascdetect.sources.replay import ReplaySource

    parsed = parse_source_spec(spec) if isinstance(spec, str) else spec
    if parsed.kind == "replay":
        from fascdetect.io import open_recording

        return ReplaySource(open_recording(parsed.target, montage), speed=parsed.speed)
    if parsed.kind == "sim":
        if simulator is None:
            raise InputError("the simulated wearable is not available here (it comes with the fascdetect command line)")
        return ReplaySource(simulator(parsed.target), speed=parsed.speed)
    if parsed.kind == "lsl":
        return _open_lsl(parsed, montage)
    if parsed.kind == "brainflow":
        return _open_brainflow(parsed, montage)
    return _open_ble(parsed)


def _open_ble(spec: SourceSpec) -> Source:
    try:
        from fascdetect.sources.ble import BleSource
    except ImportError as exc:
        raise DeviceError(f"Bluetooth LE acquisition is not available in this installation ({exc})") from None
    return BleSource(spec.target)


def _open_lsl(spec: SourceSpec, montage: Montage) -> Source:
    try:
        import pylsl  # noqa: F401  (only to tell a missing package from other import errors)
    except (ImportError, RuntimeError) as exc:  # pylsl raises RuntimeError when liblsl cannot be loaded
        raise DeviceError(f"Lab Streaming Layer input is not available in this installation ({exc})") from None
    from fascdetect.sources.lsl import LslOptions, LslSource

    return LslSource(spec.target, LslOptions.from_params(spec.params), montage)


def _open_brainflow(spec: SourceSpec, montage: Montage) -> Source:
    try:
        import brainflow  # noqa: F401
    except ImportError as exc:
        raise DeviceError(f"BrainFlow boards are not available in this installation ({exc})") from None
    from fascdetect.sources.brainflow_board import BrainFlowSource

    return BrainFlowSource(spec.target, spec.params, montage)
