"""Delimited text recordings (CSV, TSV, space-separated) as a Source.

Layout: the first column is time, every other column one channel, one row
per sample, evenly spaced. A header row names the columns; without one the
columns are called by their 1-based number ("2", "3", ...), which is what a
montage then maps. A column name may carry its unit in brackets
("TA [mV]", "ankle_x (g)"); without one, values are taken as µV for EMG and
mg for ACC. The time unit comes from the time column's name ("time_ms",
"t (s)"); a bare "time" means seconds, and without a header a step of 1 or
more means milliseconds (no signal we analyse is sampled below 1 Hz).

Files that begin with ``#`` header lines of ``key:= value`` (the "Simple
Text Format" of BioSPPy / BITalino examples) give the rate as
``Sampling Rate (Hz)`` and the channel names as ``Labels``; they have no
time column, and their raw ADC counts need a montage calibration.

The file is read in chunks of rows, so memory stays flat. Timestamps must
be regular: a row more than half a sample away from its expected time
(missing rows, a pause) stops reading with a RecordingError, rather than
silently closing the gap up.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np

from fascdetect.errors import RecordingError
from fascdetect.io.channels import UNKNOWN_START, map_channel, split_mapped
from fascdetect.model import Block, Channel
from fascdetect.regions import NO_MONTAGE, Montage

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_UNIT_IN_NAME = re.compile(r"^(.*?)\s*[\[(]\s*([^\])]+?)\s*[\])]\s*$")
_MS = re.compile(r"(^|[^a-z])(ms|msec|millis\w*)([^a-z]|$)")
_S = re.compile(r"(^|[^a-z])(s|sec|secs|seconds?)([^a-z]|$)")
_SAMPLE_STEP_TOLERANCE = 0.5
_HEAD_ROWS = 1000
_HEADER_FIELD = re.compile(r"^#\s*([^:]+?)\s*:=\s*(.*?)\s*$")


def _rate_hz(path: Path, t_s: np.ndarray) -> float:
    """Sampling rate from the first timestamps, robust to ms rounding and to one odd step.

    Steps over 8 samples average out timestamps rounded to the millisecond
    (64 Hz logged as 15/16 ms steps); their median ignores a glitch.
    """
    lag = min(8, t_s.size - 1)
    step_s = float(np.median(t_s[lag:] - t_s[:-lag])) / lag
    if not step_s > 0:
        raise RecordingError(f"{path}: the time column does not increase")
    fs_hz = 1.0 / step_s
    return float(round(fs_hz)) if abs(fs_hz - round(fs_hz)) < 1e-3 * fs_hz else fs_hz


def split_name(name: str) -> tuple[str, str | None]:
    """'TA [mV]' → ('TA', 'mV'); 'TA' → ('TA', None)."""
    m = _UNIT_IN_NAME.match(name)
    return (m.group(1).strip(), m.group(2)) if m else (name.strip(), None)


def _time_scale_s(name: str | None, step: float) -> float:
    """Seconds per unit of the time column (see module doc)."""
    if name is not None:
        lower = name.lower()
        if _MS.search(lower):
            return 1e-3
        if _S.search(lower) or lower.startswith("time") or lower == "t":
            return 1.0
    return 1e-3 if step >= 1 else 1.0


class CsvSource:
    """A Source over a delimited text file: a time column and labelled channels."""

    def __init__(self, path: str | Path, montage: Montage = NO_MONTAGE) -> None:
        self.path = Path(path)
        try:
            self._file = open(self.path, encoding="utf-8-sig", newline="")
        except FileNotFoundError:
            raise RecordingError(f"{self.path}: file not found") from None
        try:
            self._describe(montage)
        except BaseException:
            self._file.close()
            raise

    def _describe(self, montage: Montage) -> None:
        header = self._comment_header()
        first = self._file.readline()
        self._delimiter = next((d for d in (",", "\t", ";") if d in first), None)
        fields = self._split(first)
        if "Sampling Rate (Hz)" in header:
            names = self._header_names(header, len(fields))
            self._data_start = self._file.tell() - len(first.encode("utf-8"))
        else:
            names = self._column_names(fields)
        self._file.seek(self._data_start)
        head = self._rows(itertools.islice(self._file, _HEAD_ROWS), 0)
        if len(head) < 2:
            raise RecordingError(f"{self.path}: fewer than two rows of samples")
        n_rows = self._count_rows()
        if self._time_column:
            last = self._rows([self._last_line()], n_rows - 1)[0]
            scale_s = _time_scale_s(names[0] if self._has_header else None, head[1, 0] - head[0, 0])
            fs_hz = _rate_hz(self.path, head[:, 0] * scale_s)
            self._t0 = head[0, 0] * scale_s
            span_s = last[0] * scale_s - self._t0
            if abs(span_s * fs_hz - (n_rows - 1)) > _SAMPLE_STEP_TOLERANCE:
                raise RecordingError(
                    f"{self.path}: {n_rows} rows span {span_s:g} s, which does not fit {fs_hz:g} Hz (the rate of its "
                    "first rows): the timestamps have a gap or pause; resample the file to a fixed rate or split it "
                    "at the gap"
                )
            channel_names = names[1:]
        else:
            fs_hz, scale_s, self._t0, channel_names = self._header_rate(header), 1.0, 0.0, names
        self._scale_s, self._n, self.duration_s = scale_s, n_rows, n_rows / fs_hz
        self.start: datetime = UNKNOWN_START
        first_column = 1 if self._time_column else 0
        labels = [split_name(name) for name in channel_names]
        mapped, self.skipped = split_mapped(
            [(column, label, map_channel(label, fs_hz, unit, montage))
             for column, (label, unit) in enumerate(labels, start=first_column)], self.path)
        self._mapped = mapped
        self.channels: tuple[Channel, ...] = tuple(m.channel for _, m in mapped)
        self.fs_hz = fs_hz
        log.info("%s: %d rows at %.4g Hz (time in %s)", self.path, n_rows, fs_hz, "ms" if scale_s == 1e-3 else "s")

    def _comment_header(self) -> dict[str, str]:
        """``# key:= value`` lines at the top (other ``#`` lines are skipped); the file is left after them."""
        header: dict[str, str] = {}
        while True:
            at = self._file.tell()
            line = self._file.readline()
            if not line.startswith("#"):
                self._file.seek(at)
                return header
            m = _HEADER_FIELD.match(line.strip())
            if m:
                header[m.group(1)] = m.group(2)

    def _column_names(self, fields: list[str]) -> list[str]:
        """A header row's names, or 1-based column numbers; the first column is time."""
        self._time_column = True
        self._has_header = not all(_is_number(f) for f in fields)
        names = [f.strip() for f in fields] if self._has_header else [str(i + 1) for i in range(len(fields))]
        if len(names) < 2:
            raise RecordingError(f"{self.path}: needs a time column and at least one channel column")
        self._data_start = self._file.tell() if self._has_header else 0
        return names

    def _header_names(self, header: dict[str, str], n_fields: int) -> list[str]:
        """Channel names from ``Labels`` (one per column, no time column), else column numbers."""
        self._time_column, self._has_header = False, True
        labels = header.get("Labels", "").replace(",", " ").split()
        if labels and len(labels) != n_fields:
            raise RecordingError(f"{self.path}: the header names {len(labels)} channel(s) ({' '.join(labels)}) "
                                 f"but the rows have {n_fields} column(s)")
        return labels or [str(i + 1) for i in range(n_fields)]

    def _header_rate(self, header: dict[str, str]) -> float:
        try:
            fs_hz = float(header["Sampling Rate (Hz)"])
        except ValueError:
            raise RecordingError(f"{self.path}: unreadable sampling rate {header['Sampling Rate (Hz)']!r}") from None
        if not fs_hz > 0:
            raise RecordingError(f"{self.path}: sampling rate {fs_hz:g} Hz is not positive")
        return fs_hz

    def _split(self, line: str) -> list[str]:
        return line.rstrip("\r\n").split(self._delimiter) if self._delimiter else line.split()

    def _rows(self, lines, first_row: int) -> np.ndarray:
        lines = [line for line in lines if line.strip()]
        if not lines:
            return np.empty((0, 0))
        try:
            return np.loadtxt(io.StringIO("".join(lines)), delimiter=self._delimiter, ndmin=2)
        except ValueError as exc:
            raise RecordingError(f"{self.path}: unreadable data near row {first_row + 1} ({exc})") from None

    def _count_rows(self) -> int:
        self._file.seek(self._data_start)
        n = sum(1 for line in self._file if line.strip())
        self._file.seek(self._data_start)
        return n

    def _last_line(self) -> str:
        with open(self.path, "rb") as raw:
            raw.seek(0, io.SEEK_END)
            raw.seek(max(0, raw.tell() - 4096))
            tail = raw.read().decode("utf-8", errors="replace").splitlines()
        return next(line for line in reversed(tail) if line.strip()) + "\n"

    def blocks(self, chunk_s: float = 10.0) -> Iterator[Block]:
        step = max(1, round(chunk_s * self.fs_hz))
        columns = [c for c, _ in self._mapped]
        scales = np.array([m.scale for _, m in self._mapped], np.float32)[:, None]
        offsets = np.array([m.offset for _, m in self._mapped], np.float32)[:, None]
        self._file.seek(self._data_start)
        first = 0
        while first < self._n and not self._file.closed:
            rows = self._rows(itertools.islice(self._file, step), first)
            if rows.size == 0:
                return
            if self._time_column:
                self._check_times(rows[:, 0], first)
            data = (np.ascontiguousarray(rows[:, columns].T, dtype=np.float32) - offsets) * scales
            yield Block(self.channels, self.fs_hz, first, data)
            first += rows.shape[0]

    def _check_times(self, t: np.ndarray, first: int) -> None:
        expected = self._t0 + (first + np.arange(t.size)) / self.fs_hz
        off = np.abs(t * self._scale_s - expected) * self.fs_hz
        bad = np.flatnonzero(off > _SAMPLE_STEP_TOLERANCE)
        if bad.size:
            row = first + int(bad[0])
            raise RecordingError(
                f"{self.path}: irregular timestamps from row {row + 1} ({t[bad[0]]} where "
                f"{expected[bad[0]] / self._scale_s:.6g} was expected at {self.fs_hz:g} Hz); "
                "resample the file to a fixed rate or split it at the gap"
            )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "CsvSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
