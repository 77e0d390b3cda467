"""``NAME=VALUE`` overrides of a frozen dataclass's fields (the CLI's repeatable ``--set``).

Each value is parsed by the type of the field's current value, so the same
rules serve the detector settings (the motor-unit sorter's among them, as
``motor_units.NAME``) and the simulator's scenario knobs.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

from fascdetect.errors import InputError

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def parse_overrides(obj: Any, pairs: list[str], *, skip: frozenset[str] = frozenset(),
                    nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Field changes from ``NAME=VALUE`` strings; InputError naming the choices on a bad one.

    Booleans take true/false/yes/no/1/0; tuples take comma-separated items (numbers
    when the current items are numbers); ``nullable`` fields also take none/auto.
    A field that is itself settings (a frozen dataclass, such as the detector's
    ``motor_units``) takes ``FIELD.NAME=VALUE`` and comes back replaced.
    """
    return _changes(obj, [(pair, pair) for pair in pairs], "", skip, nullable)


def _changes(obj: Any, pairs: list[tuple[str, str]], prefix: str, skip: frozenset[str],
             nullable: frozenset[str]) -> dict[str, Any]:
    """``pairs``: (what the user wrote, the part of it below ``prefix``)."""
    names = [f.name for f in fields(obj) if f.name not in skip]
    nested = sorted(n for n in names if is_dataclass(getattr(obj, n)))
    known = sorted(n for n in names if n not in nested)
    choices = ", ".join([prefix + n for n in known] + [f"{prefix}{n}.NAME" for n in nested])
    changes: dict[str, Any] = {}
    inner: dict[str, list[tuple[str, str]]] = {}
    for written, pair in pairs:
        name, sep, text = pair.partition("=")
        name, text = name.strip(), text.strip()
        head, dot, rest = name.partition(".")
        if sep and dot and head in nested:
            inner.setdefault(head, []).append((written, f"{rest}={text}"))
            continue
        if name in nested:
            inner_names = ", ".join(f.name for f in fields(getattr(obj, name)))
            raise InputError(f"--set {written!r}: {prefix}{name} is a group of settings; set one of them as "
                             f"{prefix}{name}.NAME=VALUE with NAME one of {inner_names}")
        if not sep:
            raise InputError(f"--set {written!r}: expected NAME=VALUE with NAME one of {choices}")
        if name not in known:
            raise InputError(f"--set {written!r}: {prefix}{name} is not a setting (NAME=VALUE with NAME one of {choices})")
        current = getattr(obj, name)
        try:
            changes[name] = _parse(text, current, name in nullable)
        except ValueError:
            kind = "number" if current is None else type(current).__name__
            raise InputError(f"--set {written!r}: {text!r} is not a valid {kind} for {prefix}{name}") from None
    for head, items in inner.items():
        sub = getattr(obj, head)
        changes[head] = replace(sub, **_changes(sub, items, f"{head}.", frozenset(), frozenset()))
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
