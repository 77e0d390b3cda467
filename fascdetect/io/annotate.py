"""A copy of a recording with detected events added as EDF+ annotations.

For EDF/BDF input the copy is made at the byte level, one chunk of data
records at a time: every signal (including ones the detector skipped) keeps
its exact samples, header fields and scaling, and existing annotations stay;
only the annotation signal grows to hold the new TALs. Re-encoding through
physical units instead would requantise 24-bit BDF in float32 and drop
unmapped channels, which is not a copy. A plain EDF/BDF becomes EDF+/BDF+
(time-keeping TALs added, ID fields put in EDF+ form). WFDB and CSV
recordings have no EDF bytes to keep and are converted through ``EdfWriter``.

Each event goes into the data record holding its onset, or the next one
with room: a TAL's onset is absolute, so any record may carry it.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

import numpy as np

from fascdetect.errors import InputError, RecordingError
from fascdetect.io import open_recording
from fascdetect.io.edf_read import ANNOTATION_LABELS, EdfLayout, is_edf, read_layout
from fascdetect.io.edf_write import DEFAULT_ANNOTATION_CHARS, EdfWriter, encode_tal
from fascdetect.model import Channel, Event
from fascdetect.regions import NO_MONTAGE, Montage

CHUNK_BYTES = 8 << 20
"""Data copied per read (whole records, at least one): memory stays flat whatever the file's length."""

_COLUMNS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)  # per-signal header fields, stored column by column
_SPR_COLUMN = 8
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_RECORD_S_CHOICES = (1.0, 2.0, 4.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0)


def event_annotation(event: Event) -> str:
    """An event's annotation text, ``kind@@channel``: MNE and EDFbrowser read it as an
    annotation of that kind on that channel."""
    return f"{event.kind}@@{event.channel}"


Note = tuple[float, float, str]
"""(onset_s, duration_s, text) of one annotation to add."""


def write_annotated_copy(path: str | Path, out: str | Path, events: Iterable[Event],
                         montage: Montage = NO_MONTAGE) -> Path:
    """Write ``out``: the recording at ``path`` plus ``events`` as EDF+ annotations.

    ``out`` is built under a temporary name beside it and renamed when
    complete, so an interrupted run leaves no half file; it is owner-readable
    only. ``montage`` matters only for WFDB/CSV input (to map its labels).
    """
    path, out = Path(path), Path(out)
    if out.exists() and path.exists() and out.samefile(path):
        raise InputError(f"{out} is the recording itself; choose another name for the annotated copy")
    notes = sorted((e.onset_s, e.duration_s, event_annotation(e)) for e in events)
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    except OSError as exc:
        raise InputError(f"cannot create {out}: {exc.strerror}") from None
    try:
        if path.is_file() and is_edf(path):
            with os.fdopen(fd, "wb") as dst:
                _copy_edf(path, dst, notes)
                dst.flush()
                os.fsync(dst.fileno())
        else:
            os.close(fd)
            _convert(path, Path(tmp), notes, montage)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


# -- EDF/BDF: byte-level copy -------------------------------------------------------------
def _copy_edf(path: Path, dst: BinaryIO, notes: Sequence[Note]) -> None:
    layout = read_layout(path)
    if layout.discontinuous:
        raise RecordingError(f"{path}: discontinuous EDF+D/BDF+D files are not supported")
    n_records = layout.complete_records
    if n_records == 0:
        raise RecordingError(f"{path}: no complete data record to copy")
    sample_bytes = 3 if layout.bdf else 2
    edges = np.concatenate(([0], np.cumsum(layout.samples_per_record) * sample_bytes)).tolist()
    # The first annotation signal of an EDF+ file holds the time-keeping TALs; new TALs join it.
    ann = next((i for i, label in enumerate(layout.labels) if layout.plus and label in ANNOTATION_LABELS), None)
    old_bytes = 0 if ann is None else edges[ann + 1] - edges[ann]
    tals = [encode_tal(*note) for note in notes]
    homes = [min(max(int(onset_s // layout.record_s), 0), n_records - 1) if layout.record_s > 0 else 0
             for onset_s, _, _ in notes]
    base = old_bytes if ann is not None else len(f"+{n_records * layout.record_s:.6f}\x14\x14\x00")
    slot = base + _room_for(tals, homes, n_records)
    slot = -(-slot // sample_bytes) * sample_bytes
    with open(path, "rb") as src:
        header = src.read(layout.header_bytes)
        dst.write(_header(header, layout, ann, slot // sample_bytes, n_records))
        at = edges[ann] if ann is not None else edges[-1]  # where the annotation slot starts in a record
        rest = edges[ann + 1] if ann is not None else edges[-1]
        queue = list(zip(homes, tals))[::-1]  # pop() takes the earliest
        per_chunk = max(1, CHUNK_BYTES // layout.record_bytes)
        for first in range(0, n_records, per_chunk):
            k = min(per_chunk, n_records - first)
            src.seek(layout.header_bytes + first * layout.record_bytes)
            raw = np.fromfile(src, np.uint8, k * layout.record_bytes)
            if raw.size < k * layout.record_bytes:
                raise RecordingError(f"{path}: file shrank while copying (data record {first + 1} onwards is gone)")
            raw = raw.reshape(k, layout.record_bytes)
            new = np.zeros((k, layout.record_bytes - old_bytes + slot), np.uint8)
            new[:, :at] = raw[:, :at]
            new[:, at:at + old_bytes] = raw[:, at:rest]
            new[:, at + slot:] = raw[:, rest:]
            used = _used_bytes(raw[:, at:rest]) if ann is not None else np.zeros(k, np.int64)
            for row in range(k):
                record = first + row
                added = bytearray() if ann is not None else bytearray(_timekeeping(record * layout.record_s))
                free = slot - int(used[row])
                while queue and queue[-1][0] <= record and len(added) + len(queue[-1][1]) <= free:
                    added += queue.pop()[1]
                if added:
                    new[row, at + used[row]:at + used[row] + len(added)] = np.frombuffer(bytes(added), np.uint8)
            dst.write(new.tobytes())
    assert not queue, "annotation room was computed too small"


def _timekeeping(onset_s: float) -> bytes:
    """The TAL that dates a data record (first in its annotation signal)."""
    return encode_tal(onset_s, 0.0, "")


def _used_bytes(slots: np.ndarray) -> np.ndarray:
    """Bytes of TALs in each record's annotation slot: up to the last TAL's closing NUL."""
    nonzero = slots != 0
    last = slots.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), np.minimum(last + 2, slots.shape[1]), 0).astype(np.int64)


def _fits(sizes: Sequence[int], homes: Sequence[int], n_records: int, room: int) -> bool:
    """Whether TALs fit if each record has ``room`` free bytes and each TAL goes into its
    home record or the next one with room (the copy fills the same way, with at least that room)."""
    record, free = 0, room
    for home, size in zip(homes, sizes):
        if home > record:
            record, free = home, room
        while size > free:
            record, free = record + 1, room
            if record >= n_records:
                return False
        free -= size
    return True


def _room_for(tals: Sequence[bytes], homes: Sequence[int], n_records: int) -> int:
    """The least free space per record (bytes) that holds every TAL."""
    if not tals:
        return 0
    sizes = [len(t) for t in tals]
    lo = max(sizes)
    if _fits(sizes, homes, n_records, lo):
        return lo
    hi = lo * 2
    while not _fits(sizes, homes, n_records, hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(sizes, homes, n_records, mid) else (mid, hi)
    return hi


def _header(header: bytes, layout: EdfLayout, ann: int | None, slot_samples: int, n_records: int) -> bytes:
    """The copy's header: the same fields, the annotation signal resized (or added), the record count true."""
    n = layout.n_signals
    fixed = bytearray(header[:256])
    columns: list[list[bytes]] = []
    at = 256
    for width in _COLUMNS:
        columns.append([header[at + i * width: at + (i + 1) * width] for i in range(n)])
        at += n * width
    if ann is None:
        dmin, dmax = (-8388608, 8388607) if layout.bdf else (-32768, 32767)
        label = "BDF Annotations" if layout.bdf else "EDF Annotations"
        for column, width, value in zip(columns, _COLUMNS, (label, "", "", "-1", "1", str(dmin), str(dmax), "",
                                                            str(slot_samples), "")):
            column.append(_field(value, width))
        fixed[8:168] = _plus_ids(header)
        fixed[192:236] = _field("BDF+C" if layout.bdf else "EDF+C", 44)
        n += 1
    else:
        columns[_SPR_COLUMN][ann] = _field(str(slot_samples), 8)
    fixed[184:192] = _field(str(256 * (n + 1)), 8)
    fixed[236:244] = _field(str(n_records), 8)
    fixed[252:256] = _field(str(n), 4)
    return bytes(fixed) + b"".join(b"".join(column) for column in columns)


def _field(text: str, width: int) -> bytes:
    return text.encode("ascii", errors="replace")[:width].ljust(width)


def _plus_ids(header: bytes) -> bytes:
    """Patient and recording fields in EDF+ form (readers check it); old free text is kept as a last subfield."""
    patient, recording = (header[at:at + 80].decode("latin-1").strip() for at in (8, 88))
    if len(patient.split()) < 4:
        patient = "X X X " + (patient.replace(" ", "_") or "X")
    if not (recording.startswith("Startdate ") and len(recording.split()) >= 5):
        try:
            day, month, yy = (int(part) for part in header[168:176].decode("latin-1").strip().split("."))
            date = f"{day:02d}-{_MONTHS[month - 1]}-{1900 + yy if yy >= 85 else 2000 + yy}"  # EDF's year rule
        except (ValueError, IndexError):
            date = "X"
        recording = f"Startdate {date} X X X" + (f" {recording.replace(' ', '_')}" if recording else "")
    return _field(patient, 80) + _field(recording, 80)


# -- WFDB/CSV: conversion -----------------------------------------------------------------
def _convert(path: Path, out: Path, notes: Sequence[Note], montage: Montage) -> None:
    source = open_recording(path, montage)
    try:
        record_s = _record_s(path, source.channels)
        n_records = max(1, math.ceil((source.duration_s or record_s) / record_s))
        tals = [encode_tal(*note) for note in notes]
        # room for the events spread evenly, plus one more of the longest: EdfWriter fills any record's free space
        per_record = DEFAULT_ANNOTATION_CHARS + -(-sum(map(len, tals)) // n_records) + max(map(len, tals), default=0)
        with EdfWriter(out, source.channels, source.start, record_s=record_s, overwrite=True,
                       annotation_chars_per_record=per_record) as writer:
            for block in source.blocks():
                writer.write(block)
            for note in notes:
                writer.annotate(*note)
    finally:
        source.close()


def _record_s(path: Path, channels: Sequence[Channel]) -> float:
    """The shortest usual data record duration that holds a whole number of samples of every channel."""
    for record_s in _RECORD_S_CHOICES:
        if all(abs(c.fs_hz * record_s - round(c.fs_hz * record_s)) < 1e-9 * c.fs_hz * record_s for c in channels):
            return record_s
    rates = ", ".join(sorted({f"{c.fs_hz:g} Hz" for c in channels}))
    raise InputError(f"{path}: sampling rates {rates} fit no EDF data record duration up to "
                     f"{_RECORD_S_CHOICES[-1]:g} s; cannot write it as EDF")
