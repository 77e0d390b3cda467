"""Ground truth of a simulated recording: records, TSV sidecar and EDF+ annotation text.

A truth record means what the detector is asked to report (issue 2,
Classification): a doublet is one ``twitch`` with the ``doublet`` flag, a
cramp is one event, a whole-foot movement has region ``*``, and twitches
hidden inside a movement or a cramp of their own region are not generated.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from fascdetect.model import Event

TSV_COLUMNS = ("onset", "duration", "kind", "side", "region", "channel", "amplitude", "flags", "motor_unit")


@dataclass(frozen=True)
class TruthEvent:
    """One simulated event. ``amplitude`` is the peak of the event's own signal on ``channel``
    (noise excluded), in ``unit`` (µV for EMG, mg for ACC); ``mean_amplitude`` the RMS over
    the event for cramps and movements."""

    onset_s: float
    duration_s: float
    kind: str
    side: str
    region: str
    channel: str
    amplitude: float
    unit: str
    flags: frozenset[str] = field(default_factory=frozenset)
    mean_amplitude: float | None = None
    motor_unit: str = ""
    """Twitches and bursts: which of the region's simulated units fired (``R-ADM/3``, its pool index + 1)."""

    @property
    def end_s(self) -> float:
        return self.onset_s + self.duration_s

    def to_event(self) -> Event:
        """The same record as a ``fascdetect.model.Event`` (for scoring against detector output)."""
        extra = () if self.mean_amplitude is None else (("mean", float(self.mean_amplitude)),)
        return Event(self.kind, self.onset_s, self.duration_s, self.side, self.region, self.channel,
                     self.amplitude, self.unit, self.flags, extra)

    def annotation(self) -> str:
        """EDF+ annotation text in the writer's ``kind@@channel`` convention, flags after the kind,
        e.g. ``twitch doublet@@EMG L-ADM`` (amplitudes are in the TSV sidecar)."""
        flags = "".join(f" {f}" for f in sorted(self.flags))
        return f"{self.kind}{flags}@@{self.channel}"

    def row(self) -> list[str]:
        return [f"{self.onset_s:.6f}", f"{self.duration_s:.6f}", self.kind, self.side, self.region, self.channel,
                f"{self.amplitude:.3f}", ",".join(sorted(self.flags)) or "n/a", self.motor_unit or "n/a"]


class TruthTsv:
    """The BIDS-style sidecar written as events arrive (tab-separated, header row, ``n/a`` for
    no flags), created owner-readable only (0o600) so an 8-hour night never sits in memory."""

    def __init__(self, path: str | Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        self._file = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._out = csv.writer(self._file, delimiter="\t", lineterminator="\n")
        self._out.writerow(TSV_COLUMNS)

    def write(self, events: Iterable[TruthEvent]) -> None:
        self._out.writerows(ev.row() for ev in events)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "TruthTsv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_tsv(path: str | Path, events: Iterable[TruthEvent]) -> None:
    """Write a whole truth list as a sidecar (see :class:`TruthTsv`)."""
    with TruthTsv(path) as tsv:
        tsv.write(events)


def read_tsv(path: str | Path) -> list[TruthEvent]:
    """Read a sidecar written by :func:`write_tsv` (units follow from the channel's modality)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = []
    for r in rows:
        flags = frozenset() if r["flags"] in ("", "n/a") else frozenset(r["flags"].split(","))
        unit = "mg" if r["channel"].upper().startswith("ACC") else "uV"
        out.append(TruthEvent(float(r["onset"]), float(r["duration"]), r["kind"], r["side"], r["region"],
                              r["channel"], float(r["amplitude"]), unit, flags,
                              motor_unit="" if r.get("motor_unit") in (None, "", "n/a") else r["motor_unit"]))
    return out
