"""Foot-region catalogue, channel-label parsing and montage files.

The catalogue is the one place that names regions: the CLI, the GUI, reports
and the simulator all read it from here. Labels follow
``<MOD> <SIDE>-<REGION>[-<AXIS>]`` (at most 16 characters, EDF's limit), e.g.
``EMG L-ADM`` or ``ACC R-AbH-Z``; anything else needs a montage file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fascdetect.errors import InputError

MODALITIES = ("EMG", "ACC")
SIDES = ("L", "R")
AXES = ("X", "Y", "Z")
SIDE_NAMES = {"L": "left", "R": "right"}


@dataclass(frozen=True)
class Region:
    code: str
    muscle: str
    where: str
    neighbours: tuple[str, ...]
    """Regions whose surface electrodes pick up this muscle by volume conduction."""


# Neighbourhoods follow the anatomy of the foot and lower leg: a muscle's
# potential is seen on electrodes over adjacent muscles, rarely further away.
CATALOGUE: tuple[Region, ...] = (
    Region("AbH", "abductor hallucis", "medial arch", ("FDB", "FHL")),
    Region("FDB", "flexor digitorum brevis", "plantar arch", ("AbH", "ADM", "FHL")),
    Region("ADM", "abductor digiti minimi", "lateral sole, little toe", ("FDB", "PER")),
    Region("EDB", "extensor digitorum brevis", "top of foot", ("EHL", "PER", "TA")),
    Region("PER", "peroneals", "side of foot and ankle", ("ADM", "EDB", "GAS")),
    Region("FHL", "flexor hallucis", "big toe, flexor", ("AbH", "FDB", "GAS")),
    Region("EHL", "extensor hallucis", "big toe, extensor", ("EDB", "TA")),
    Region("TA", "tibialis anterior", "front of shin", ("EHL", "EDB", "PER")),
    Region("GAS", "gastrocnemius", "calf", ("PER", "FHL")),
)
REGIONS: dict[str, Region] = {r.code: r for r in CATALOGUE}
_BY_UPPER = {r.code.upper(): r.code for r in CATALOGUE}


def region_code(text: str) -> str:
    """Canonical region code for ``text`` (case-insensitive), or InputError."""
    try:
        return _BY_UPPER[text.strip().upper()]
    except KeyError:
        known = ", ".join(REGIONS)
        raise InputError(f"unknown foot region {text!r} (known: {known})") from None


def describe(side: str, region: str) -> str:
    """Human name such as 'left abductor digiti minimi (lateral sole, little toe)'."""
    if region == "*":
        return f"{SIDE_NAMES[side]} foot (several regions)"
    r = REGIONS[region]
    return f"{SIDE_NAMES[side]} {r.muscle} ({r.where})"


@dataclass(frozen=True)
class Placement:
    """Where a channel sits: modality, side, region and accelerometer axis."""

    modality: str
    side: str
    region: str
    axis: str | None = None

    def label(self) -> str:
        tail = f"-{self.axis}" if self.axis else ""
        return f"{self.modality} {self.side}-{self.region}{tail}"


_LABEL = re.compile(r"^\s*(EMG|ACC)\s+([LR])-([A-Za-z]+)(?:-([XYZ]))?\s*$", re.IGNORECASE)


def parse_label(label: str) -> Placement | None:
    """Placement from a conventional label, or None when it does not follow the convention."""
    m = _LABEL.match(label)
    if not m:
        return None
    modality, side, region, axis = m.groups()
    code = _BY_UPPER.get(region.upper())
    if code is None:
        return None
    modality = modality.upper()
    axis = axis.upper() if axis else None
    if (modality == "ACC") != (axis is not None):
        return None
    return Placement(modality, side.upper(), code, axis)


@dataclass(frozen=True)
class Montage:
    """Maps recording labels that do not follow the convention to placements.

    TOML form, one table per label::

        ["Tib Ant R"]
        modality = "EMG"
        side = "R"
        region = "TA"

        ["Ankle acc X"]
        modality = "ACC"
        side = "L"
        region = "PER"
        axis = "X"

    A file that stores raw ADC counts (no unit) gives the transfer per label:
    ``offset`` (counts at 0 µV/0 mg) and ``scale`` (µV or mg per count), and
    ``bits`` (the ADC's resolution, so samples at its rails count as clipped).
    """

    entries: dict[str, Placement]
    calibrations: dict[str, "Calibration"] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "Montage":
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"montage file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"montage file {path} is not valid TOML: {exc}") from None
        entries, calibrations = {}, {}
        for label, spec in raw.items():
            if not isinstance(spec, dict):
                raise InputError(f"montage {path}: entry {label!r} must be a table")
            entries[label.strip()] = _placement_from_spec(path, label, spec)
            if "scale" in spec:
                calibrations[label.strip()] = _calibration_from_spec(path, label, spec)
        return cls(entries, calibrations)

    def resolve(self, label: str) -> Placement | None:
        """Placement for ``label``: the montage first, then the naming convention."""
        return self.entries.get(label.strip()) or parse_label(label)


@dataclass(frozen=True)
class Calibration:
    """Raw ADC counts to our unit: ``(count - offset) * scale``; ``bits`` gives the ADC's rails."""

    offset: float
    scale: float
    bits: int | None = None

    def physical_range(self) -> tuple[float, float]:
        if self.bits is None:
            return float("-inf"), float("inf")
        lo, hi = sorted(((0 - self.offset) * self.scale, (2 ** self.bits - 1 - self.offset) * self.scale))
        return lo, hi


def _calibration_from_spec(path: Path, label: str, spec: dict) -> Calibration:
    where = f"montage {path}, entry {label!r}"
    try:
        scale, offset = float(spec["scale"]), float(spec.get("offset", 0.0))
        bits = None if spec.get("bits") is None else int(spec["bits"])
    except (TypeError, ValueError):
        raise InputError(f"{where}: scale and offset must be numbers and bits a whole number") from None
    if not scale or scale != scale or (bits is not None and not 1 <= bits <= 32):
        raise InputError(f"{where}: scale must be a non-zero number and bits 1-32")
    return Calibration(offset, scale, bits)


def _placement_from_spec(path: Path, label: str, spec: dict) -> Placement:
    where = f"montage {path}, entry {label!r}"
    modality = str(spec.get("modality", "")).upper()
    side = str(spec.get("side", "")).upper()
    if modality not in MODALITIES:
        raise InputError(f"{where}: modality must be one of {MODALITIES}, not {spec.get('modality')!r}")
    if side not in SIDES:
        raise InputError(f"{where}: side must be L or R, not {spec.get('side')!r}")
    try:
        region = region_code(str(spec.get("region", "")))
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    axis = spec.get("axis")
    if modality == "ACC":
        axis = str(axis or "").upper()
        if axis not in AXES:
            raise InputError(f"{where}: an ACC channel needs axis X, Y or Z")
    elif axis is not None:
        raise InputError(f"{where}: only ACC channels have an axis")
    return Placement(modality, side, region, axis or None)


NO_MONTAGE = Montage({})
