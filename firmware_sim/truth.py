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

TSV_COLUMNS = ("onset", "duration", "kind", "side", "region", "channel", "amplitude", "flags")


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

    @property
    def end_s(self) -> float:
        return self.onset_s + self.duration_s

    def to_event(self) -> Event:
        """The same record as a ``fascdetect.model.Event`` (for scoring against detector output)."""
        extra = () if self.mean_amplitude is None else (("mean", float(self.mean_amplitude)),)
        return Event(self.kind, self.onset_s, self.duration_s, self.side, self.region, self.channel,
                     self.amplitude, self.unit, self.flags, extra)

    def annotation(self) -> str:
        """Compact EDF+ annotation text, e.g. ``twitch L-ADM 123uV doublet``."""
        flags = "".join(f" {f}" for f in sorted(self.flags))
        return f"{self.kind} {self.side}-{self.region} {self.amplitude:.0f}{self.unit}{flags}"

    def row(self) -> list[str]:
        return [f"{self.onset_s:.6f}", f"{self.duration_s:.6f}", self.kind, self.side, self.region, self.channel,
                f"{self.amplitude:.3f}", ",".join(sorted(self.flags)) or "n/a"]


def write_tsv(path: str | Path, events: Iterable[TruthEvent]) -> None:
    """Write the BIDS-style sidecar (tab-separated, header row, ``n/a`` for no flags), mode 0o600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(TSV_COLUMNS)
        for ev in events:
            out.writerow(ev.row())


def read_tsv(path: str | Path) -> list[TruthEvent]:
    """Read a sidecar written by :func:`write_tsv` (units follow from the channel's modality)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = []
    for r in rows:
        flags = frozenset() if r["flags"] in ("", "n/a") else frozenset(r["flags"].split(","))
        unit = "mg" if r["channel"].upper().startswith("ACC") else "uV"
        out.append(TruthEvent(float(r["onset"]), float(r["duration"]), r["kind"], r["side"], r["region"],
                              r["channel"], float(r["amplitude"]), unit, flags))
    return out
