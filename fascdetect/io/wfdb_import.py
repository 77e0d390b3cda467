"""WFDB records (PhysioNet's ``.hea`` + ``.dat``) as a Source, via the ``wfdb`` package.

WFDB signal names ("EMG", "MLII") never say which foot region they cover,
so a montage is normally needed (see docs/montages/). The record is read
with ``rdrecord(sampfrom, sampto)`` one chunk at a time.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np

from fascdetect.errors import RecordingError
from fascdetect.io.channels import UNKNOWN_START, map_channel, split_mapped
from fascdetect.model import Block, Channel
from fascdetect.regions import NO_MONTAGE, Montage

log = logging.getLogger(__name__)

_FORMAT_BITS = {"8": 8, "16": 16, "61": 16, "80": 8, "160": 16, "212": 12, "310": 10, "311": 10, "24": 24, "32": 32}
_FORMAT_BYTES = {"16": 2, "61": 2, "80": 1, "160": 2, "24": 3, "32": 4}


def record_name(path: str | Path) -> Path:
    """The record path without extension, as wfdb wants it ('x.hea', 'x.dat' or 'x' → 'x')."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in (".hea", ".dat") else path


def is_wfdb(path: str | Path) -> bool:
    return record_name(path).with_suffix(".hea").is_file()


def record_files(path: str | Path) -> list[Path]:
    """The files whose bytes make up a recording, in the order they are hashed.

    A WFDB record (named by its .hea, its .dat or its bare name) is its
    header, then each signal file the header names, once. Any other path
    is the one file, even if missing (reading it then says so). The history
    database and the batch both key a recording by the hash of these files.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    record = record_name(path)
    header = record.with_name(record.name + ".hea")
    if (path.is_file() and suffix not in (".hea", ".dat")) or not header.is_file():
        return [path]
    files = [header]
    try:
        lines = [ln.split() for ln in header.read_text(encoding="latin-1").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError:
        return files
    for fields in lines[1:]:
        name = fields[0]
        # "~" is WFDB's "no file"; a name with a directory in it is not one of this record's files.
        if name == "~" or "/" in name:
            continue
        signal_file = header.with_name(name)
        if signal_file.is_file() and signal_file not in files:
            files.append(signal_file)
    return files


class WfdbSource:
    """A Source over a single-segment WFDB record (all signals share one rate)."""

    def __init__(self, path: str | Path, montage: Montage = NO_MONTAGE) -> None:
        self.path = record_name(path)
        try:
            import wfdb  # pulls in pandas (~0.35 s): only for WFDB files, not at every start

            header = wfdb.rdheader(str(self.path))
        except FileNotFoundError:
            raise RecordingError(f"{self.path}.hea: file not found") from None
        except Exception as exc:  # wfdb raises many types for malformed headers
            raise RecordingError(f"{self.path}.hea: not a readable WFDB header ({exc})") from None
        if getattr(header, "n_seg", None):
            raise RecordingError(f"{self.path}: multi-segment WFDB records are not supported; convert to a single segment")
        self._header = header
        self.start: datetime = self._start(header)
        mapped, self.skipped = split_mapped(
            [(i, name, map_channel(name, header.fs, header.units[i], montage, *self._physical_range(header, i)))
             for i, name in enumerate(header.sig_name)], f"{self.path}.hea")
        self._mapped = mapped
        self.channels: tuple[Channel, ...] = tuple(m.channel for _, m in mapped)
        self._n = self._complete_samples(header)
        self.truncation: str | None = \
            f"truncated: {self._n} of {header.sig_len} samples present" if self._n < header.sig_len else None
        """What a truncated .dat lacks: analysis reads what is there; a batch fails such a record."""
        self.duration_s: float | None = self._n / header.fs
        self._closed = False

    @staticmethod
    def _start(header) -> datetime:
        if header.base_date is None:
            log.info("WFDB record has no start date; using %s", UNKNOWN_START.date())
            return UNKNOWN_START
        return datetime.combine(header.base_date, header.base_time or datetime.min.time())

    @staticmethod
    def _physical_range(header, i: int) -> tuple[float, float]:
        """The ADC's range in physical units, from its resolution, zero and gain."""
        bits = header.adc_res[i] or _FORMAT_BITS.get(str(header.fmt[i]), 0)
        gain = header.adc_gain[i]
        if not bits or not gain:
            return float("-inf"), float("inf")
        zero, baseline = header.adc_zero[i], header.baseline[i]
        lo, hi = zero - 2 ** (bits - 1), zero + 2 ** (bits - 1) - 1
        return (lo - baseline) / gain, (hi - baseline) / gain

    def _complete_samples(self, header) -> int:
        """Samples the .dat files really hold (a truncated copy holds fewer than declared)."""
        n = header.sig_len
        for file_name in set(header.file_name):
            fmts = [str(f) for f, name in zip(header.fmt, header.file_name) if name == file_name]
            if not all(f in _FORMAT_BYTES for f in fmts):
                continue
            dat = self.path.parent / file_name
            if not dat.is_file():
                raise RecordingError(f"{dat}: file not found (named in {self.path}.hea)")
            frame_bytes = sum(_FORMAT_BYTES[f] for f in fmts)
            n = min(n, dat.stat().st_size // frame_bytes)
        if n < header.sig_len:
            log.warning("%s: %d of %d declared samples present (truncated .dat); reading those", self.path, n, header.sig_len)
        if n == 0:
            raise RecordingError(f"{self.path}: no samples in the .dat file")
        return n

    def blocks(self, chunk_s: float = 10.0) -> Iterator[Block]:
        fs_hz = float(self._header.fs)
        step = max(1, round(chunk_s * fs_hz))
        indices = [i for i, _ in self._mapped]
        scales = np.array([m.scale for _, m in self._mapped], np.float32)[:, None]
        for first in range(0, self._n, step):
            if self._closed:
                return
            last = min(first + step, self._n)
            try:
                import wfdb

                record = wfdb.rdrecord(
                    str(self.path), sampfrom=first, sampto=last, channels=indices, physical=True, return_res=32
                )
            except Exception as exc:  # wfdb raises many types for damaged data
                raise RecordingError(f"{self.path}: cannot read samples {first}..{last} ({exc})") from None
            data = np.ascontiguousarray(record.p_signal.T, dtype=np.float32) * scales
            yield Block(self.channels, fs_hz, first, data)

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "WfdbSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
