"""``NAME=VALUE`` overrides of a frozen dataclass's fields (the CLI's repeatable ``--set``).

Each value is parsed by the type of the field's current value, so the same
rules serve the detector settings and the simulator's scenario knobs.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from fascdetect.errors import InputError

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def parse_overrides(obj: Any, pairs: list[str], *, skip: frozenset[str] = frozenset(),
                    nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Field changes from ``NAME=VALUE`` strings; InputError naming the choices on a bad one.

    Booleans take true/false/yes/no/1/0; tuples take comma-separated items (numbers
    when the current items are numbers); ``nullable`` fields also take none/auto.
    """
    known = sorted(f.name for f in fields(obj) if f.name not in skip)
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or name not in known:
            raise InputError(f"--set {pair!r}: expected NAME=VALUE with NAME one of {', '.join(known)}")
        current = getattr(obj, name)
        try:
            changes[name] = _parse(text, current, name in nullable)
        except ValueError:
            kind = "number" if current is None else type(current).__name__
            raise InputError(f"--set {pair!r}: {text!r} is not a valid {kind} for {name}") from None
    return changes


def _parse(text: str, current: Any, nullable: bool) -> Any:
    if nullable and text.lower() in ("", "none", "auto"):
        return None
    if isinstance(current, bool):
        if text.lower() not in TRUE + FALSE:
            raise ValueError(text)
        return text.lower() in TRUE
    if isinstance(current, tuple):
        parts = [x.strip() for x in text.split(",") if x.strip()]
        numeric = not current or isinstance(current[0], (int, float))
        return tuple(float(x) for x in parts) if numeric else tuple(parts)
    if current is None:
        return float(text)
    return type(current)(text)
