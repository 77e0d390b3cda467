"""Streaming, crash-safe EDF+/BDF+ writer.

Hand-written because neither pyEDFlib nor edfio can append data records
one at a time with a header that stays true after a kill: pyEDFlib pads a
short final block with zeros and fixes the header only on close, edfio
writes whole files. Here every data record is written as soon as every
channel has a whole record of samples (nothing is padded; the remainder
waits for more data), and the header's record count is rewritten right
after it, so a SIGKILL leaves a file that any EDF reader opens up to the
last complete record (``edf_read`` also recovers a record whose count
update did not land).

Events go into the EDF+ annotation signal as TALs ("kind@@channel", the
convention MNE and EDFbrowser read as annotation on a channel). Each data
record carries ``annotation_chars_per_record`` bytes of annotations. A TAL's
onset is absolute, so any record may hold it: an annotation is written at
once into free space of the newest written record that has room (so a kill
loses none), else queued for the next records. Only if the whole file is
full are leftovers written to a ``.annotations.tsv`` beside it.
"""

from __future__ import annotations

import logging
import os
import time
from array import array
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

from fascdetect.errors import InputError
from fascdetect.model import Block, Channel

log = logging.getLogger(__name__)

DEFAULT_PHYSICAL_RANGE = {"EMG": (-5000.0, 5000.0), "ACC": (-16000.0, 16000.0)}
"""Used when a Channel's ADC range is unknown (infinite): ±5 mV covers surface
EMG with margin; ±16 g is the widest range of common MEMS accelerometers."""

DEFAULT_ANNOTATION_CHARS = 512
"""Per data record: about 12 event TALs ("+12345.678\\x150.012\\x14twitch@@EMG L-ADM\\x14\\x00"
is ~40 bytes) after the record's time-keeping TAL, i.e. >40,000 events per
hour at 1 s records, for ~1.5 % of the size of 8 EMG channels at 2 kHz."""

FSYNC_INTERVAL_S = 1.0
"""Records reach the kernel at once (safe against a killed process); fsync,
which also guards against power loss, runs at most this often so fast
conversions are not slowed to one disk sync per record."""

_DIGITAL = {False: (-32768, 32767), True: (-8388608, 8388607)}
_COUNT_OFFSET = 236
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _number(x: float) -> str:
    """The shortest text of ``x`` that fits an 8-character header field."""
    if float(x).is_integer() and abs(x) < 1e7:
        return str(int(x))
    for digits in range(8, 0, -1):
        text = f"{x:.{digits}g}"
        if len(text) <= 8 and "e" not in text:
            return text
    raise InputError(f"{x} cannot be written in an 8-character EDF header field")


def _seconds(x: float, signed: bool) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    if signed and not text.startswith("-"):
        text = "+" + text
    return text


def _field(text: str, width: int) -> bytes:
    raw = text.encode("ascii", errors="replace")[:width]
    return raw.ljust(width, b" ")


def encode_tal(onset_s: float, duration_s: float, text: str) -> bytes:
    """One EDF+ time-stamped annotation list entry."""
    clean = text.replace("\x14", " ").replace("\x15", " ").replace("\x00", " ")
    duration = f"\x15{_seconds(duration_s, False)}" if duration_s > 0 else ""
    return f"{_seconds(onset_s, True)}{duration}\x14{clean}\x14\x00".encode("utf-8")


class EdfWriter:
    """Writes channels to an EDF+ (16-bit) or BDF+ (24-bit) file as data arrives.

    ``write`` accepts blocks of any size for any subset of channels in any
    interleaving; a block that starts later than the channel's next sample
    leaves a gap, filled with zeros and annotated ``gap``. ``close`` writes
    the whole records there are (a trailing part-record is not padded but
    dropped, and logged), and any queued annotations.
    """

    def __init__(
        self,
        path: str | Path,
        channels: Sequence[Channel],
        start: datetime,
        *,
        bdf: bool = False,
        record_s: float = 1.0,
        annotation_chars_per_record: int = DEFAULT_ANNOTATION_CHARS,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.channels = tuple(channels)
        self.bdf = bdf
        self.record_s = float(record_s)
        self._check_channels()
        self._index = {c.label: i for i, c in enumerate(self.channels)}
        self._spr = [self._samples_per_record(c) for c in self.channels]
        self._sample_bytes = 3 if bdf else 2
        self._annot_bytes = -(-max(annotation_chars_per_record, 64) // self._sample_bytes) * self._sample_bytes
        self._data_bytes = sum(self._spr) * self._sample_bytes
        self._record_bytes = self._data_bytes + self._annot_bytes
        self._ranges = [self._physical_range(c) for c in self.channels]
        self._header_bytes = 256 * (len(self.channels) + 2)
        self._pending = [np.empty(0, np.float32) for _ in self.channels]
        self._next = [0] * len(self.channels)
        self._open_gaps: dict[tuple[str, ...], int] = {}
        self._recent_gaps: deque[tuple[float, float]] = deque(maxlen=64)
        self._tals: deque[bytes] = deque()
        self._used = array("l")  # annotation bytes used in each written record
        self.n_records = 0
        self._scan_floor = 0
        self._last_sync = time.monotonic()
        header = self._header(start)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            self._fd: int | None = os.open(self.path, flags, 0o600)
        except FileExistsError:
            raise InputError(f"{self.path} already exists; choose another name or remove it first") from None
        except OSError as exc:
            raise InputError(f"cannot create {self.path}: {exc.strerror}") from None
        os.fchmod(self._fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.write(self._fd, header)

    # -- set-up -----------------------------------------------------------------
    def _check_channels(self) -> None:
        if not self.channels:
            raise InputError("an EDF file needs at least one channel")
        labels = [c.label for c in self.channels]
        if len(set(labels)) != len(labels):
            raise InputError(f"channel labels must be unique: {labels}")
        for label in labels:
            if len(label) > 16 or not label.isascii():
                raise InputError(f"channel label {label!r} must be at most 16 ASCII characters (EDF limit)")
        if not self.record_s > 0:
            raise InputError(f"data record duration must be positive, not {self.record_s}")

    def _samples_per_record(self, channel: Channel) -> int:
        spr = channel.fs_hz * self.record_s
        if spr < 1 or abs(spr - round(spr)) > 1e-9 * spr:
            raise InputError(
                f"{channel.label}: {channel.fs_hz} Hz × {self.record_s} s is not a whole number of "
                "samples per data record; choose a record duration that fits every rate"
            )
        return round(spr)

    def _physical_range(self, channel: Channel) -> tuple[float, float]:
        lo, hi = channel.physical_min, channel.physical_max
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo, hi = DEFAULT_PHYSICAL_RANGE[channel.modality]
            log.info("%s: ADC range unknown, using %g..%g %s (values beyond are clipped)", channel.label, lo, hi, channel.unit)
        # The reader scales with the header's text, so scale with the same rounded values.
        lo, hi = float(_number(lo)), float(_number(hi))
        if not hi > lo:
            raise InputError(f"{channel.label}: physical range {lo}..{hi} is empty")
        return lo, hi

    def _header(self, start: datetime) -> bytes:
        dmin, dmax = _DIGITAL[self.bdf]
        n = len(self.channels) + 1
        annot_label = "BDF Annotations" if self.bdf else "EDF Annotations"
        head = [
            b"\xffBIOSEMI" if self.bdf else _field("0", 8),
            _field("X X X X", 80),
            _field(f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year} X X fascdetect", 80),
            _field(start.strftime("%d.%m.%y"), 8),
            _field(start.strftime("%H.%M.%S"), 8),
            _field(str(self._header_bytes), 8),
            _field("BDF+C" if self.bdf else "EDF+C", 44),
            _field("0", 8),
            _field(_number(self.record_s), 8),
            _field(str(n), 4),
        ]
        rows: list[list[bytes]] = [[] for _ in range(10)]
        for c, (lo, hi), spr in zip(self.channels, self._ranges, self._spr):
            transducer = "surface EMG" if c.modality == "EMG" else "accelerometer"
            for row, value in zip(rows, (c.label, transducer, c.unit, _number(lo), _number(hi), str(dmin), str(dmax), "", str(spr), "")):
                row.append(value)
        annot = (annot_label, "", "", "-1", "1", str(dmin), str(dmax), "", str(self._annot_bytes // self._sample_bytes), "")
        for row, value in zip(rows, annot):
            row.append(value)
        widths = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
        for row, width in zip(rows, widths):
            head.extend(_field(v, width) for v in row)
        header = b"".join(head)
        assert len(header) == self._header_bytes
        return header

    # -- data ---------------------------------------------------------------------
    def write(self, block: Block) -> None:
        """Queue a block's samples; write every data record that is now complete."""
        if self._fd is None:
            raise InputError(f"{self.path} is closed")
        rows = []
        for channel in block.channels:
            i = self._index.get(channel.label)
            if i is None:
                raise InputError(f"{channel.label!r} is not a channel of {self.path}")
            if self.channels[i].fs_hz != block.fs_hz:
                raise InputError(f"{channel.label}: block at {block.fs_hz} Hz, file channel at {self.channels[i].fs_hz} Hz")
            rows.append(i)
        key = tuple(c.label for c in block.channels)
        expected = self._next[rows[0]]
        if any(self._next[i] != expected for i in rows):
            raise InputError(f"channels {key} are not at the same sample; write them in separate blocks")
        if block.start < expected:
            raise InputError(f"block for {key} starts at sample {block.start}, before sample {expected} already written")
        missing = block.start - expected
        if missing:
            self._gap_span(expected / block.fs_hz, block.start / block.fs_hz)
        for row, i in enumerate(rows):
            parts = [self._pending[i], np.zeros(missing, np.float32), np.asarray(block.data[row], np.float32)]
            self._pending[i] = np.concatenate(parts)
            self._next[i] = block.end
        self._track_gap_mask(key, block)
        self._write_complete_records()

    def _track_gap_mask(self, key: tuple[str, ...], block: Block) -> None:
        """Turn runs of ``Block.gap`` into ``gap`` annotations, joining runs across blocks."""
        if block.n == 0:
            return
        mask = np.zeros(block.n, bool) if block.gap is None else np.asarray(block.gap, bool)
        edges = np.flatnonzero(np.diff(np.concatenate(([False], mask, [False])).astype(np.int8)))
        runs = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
        open_at = self._open_gaps.pop(key, None)
        if open_at is not None and not (runs and runs[0][0] == 0):
            self._gap_span(open_at / block.fs_hz, block.start / block.fs_hz)
            open_at = None
        for lo, hi in runs:
            lo_abs = open_at if (lo == 0 and open_at is not None) else block.start + lo
            if hi == block.n:
                self._open_gaps[key] = lo_abs
            else:
                self._gap_span(lo_abs / block.fs_hz, (block.start + hi) / block.fs_hz)

    def _gap_span(self, on_s: float, off_s: float) -> None:
        """Annotate a gap once, although every rate group reports it."""
        slack_s = 1e-3 + max(1.0 / c.fs_hz for c in self.channels)
        if any(on_s >= a - slack_s and off_s <= b + slack_s for a, b in self._recent_gaps):
            return
        self._recent_gaps.append((on_s, off_s))
        self.annotate(on_s, off_s - on_s, "gap")

    def mark_gap(self, onset_s: float, duration_s: float) -> None:
        """Annotate lost data that the source filled in itself (e.g. a reconnect)."""
        self._gap_span(onset_s, onset_s + duration_s)

    def _digital(self, i: int, samples: np.ndarray) -> np.ndarray:
        lo, hi = self._ranges[i]
        dmin, dmax = _DIGITAL[self.bdf]
        scaled = (samples.astype(np.float64) - lo) * ((dmax - dmin) / (hi - lo)) + dmin
        return np.clip(np.rint(scaled), dmin, dmax).astype(np.int32)

    def _write_complete_records(self) -> None:
        while all(len(p) >= spr for p, spr in zip(self._pending, self._spr)):
            parts = []
            for i, spr in enumerate(self._spr):
                digital = self._digital(i, self._pending[i][:spr])
                self._pending[i] = self._pending[i][spr:]
                if self.bdf:
                    parts.append(digital.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes())
                else:
                    parts.append(digital.astype("<i2").tobytes())
            annotations, used = self._annotation_slot(self.n_records)
            os.write(self._fd, b"".join(parts) + annotations)
            self._used.append(used)
            self.n_records += 1
            os.pwrite(self._fd, _field(str(self.n_records), 8), _COUNT_OFFSET)
            self._place_queued()
            if time.monotonic() - self._last_sync >= FSYNC_INTERVAL_S:
                os.fsync(self._fd)
                self._last_sync = time.monotonic()

    # -- annotations ----------------------------------------------------------------
    def annotate(self, onset_s: float, duration_s: float, text: str) -> None:
        """Write an EDF+ annotation into free space of a written record (on disk at once,
        safe against a kill), or queue it for the next record."""
        if self._fd is None:
            raise InputError(f"{self.path} is closed")
        tal = encode_tal(onset_s, duration_s, text)
        room = self._annot_bytes - len(self._timekeeping(10**7))
        if len(tal) > room:
            raise InputError(f"annotation {text!r} is {len(tal)} bytes; at most {room} fit in a data record")
        self._tals.append(tal)
        self._place_queued()

    def _timekeeping(self, record: int) -> bytes:
        return f"{_seconds(record * self.record_s, True)}\x14\x14\x00".encode()

    def _annotation_slot(self, record: int) -> tuple[bytes, int]:
        slot = bytearray(self._timekeeping(record))
        while self._tals and len(slot) + len(self._tals[0]) <= self._annot_bytes:
            slot += self._tals.popleft()
        used = len(slot)
        return bytes(slot.ljust(self._annot_bytes, b"\x00")), used

    def _place_queued(self) -> None:
        """Put queued TALs on disk now, in free space of records already written."""
        if self._tals and self.n_records:
            self._backfill(self._scan_floor)
            if self._tals:  # every record scanned is too full for the next TAL: skip them next time
                self._scan_floor = self.n_records

    def _backfill(self, floor: int = 0) -> None:
        """Put queued TALs into unused annotation space of records ``floor``.., newest first."""
        for record in range(self.n_records - 1, floor - 1, -1):
            if not self._tals:
                return
            used = self._used[record]
            added = bytearray()
            while self._tals and used + len(added) + len(self._tals[0]) <= self._annot_bytes:
                added += self._tals.popleft()
            if added:
                offset = self._header_bytes + record * self._record_bytes + self._data_bytes + used
                os.pwrite(self._fd, bytes(added), offset)
                self._used[record] = used + len(added)

    # -- end --------------------------------------------------------------------------
    def close(self) -> None:
        """Write what is complete, place every queued annotation, sync and close."""
        if self._fd is None:
            return
        try:
            for key, open_at in list(self._open_gaps.items()):
                fs_hz = self.channels[self._index[key[0]]].fs_hz
                self._gap_span(open_at / fs_hz, self._next[self._index[key[0]]] / fs_hz)
            self._open_gaps.clear()
            self._write_complete_records()
            dropped_s = max(len(p) / c.fs_hz for p, c in zip(self._pending, self.channels))
            if dropped_s > 0:
                log.info("%s: last %.3f s short of a whole data record not written (EDF records are never padded)", self.path, dropped_s)
            self._backfill()
            if self._tals:
                self._spill_to_sidecar()
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None

    def _spill_to_sidecar(self) -> None:
        sidecar = self.path.with_name(self.path.name + ".annotations.tsv")
        fd = os.open(sidecar, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for tal in self._tals:
                onset, rest = tal.rstrip(b"\x00").split(b"\x14", 1)
                on, _, dur = onset.decode().partition("\x15")
                f.write(f"{float(on)}\t{float(dur or 0)}\t{rest.decode('utf-8').rstrip(chr(0x14))}\n")
        log.error(
            "%s: annotation space full; %d annotations written to %s instead", self.path, len(self._tals), sidecar
        )
        self._tals.clear()

    def __enter__(self) -> "EdfWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
