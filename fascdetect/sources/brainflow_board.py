"""Live blocks from a biosignal board read through BrainFlow (OpenBCI, Callibri, gForce, Explore, ...).

``BrainFlowSource("cyton", (("serial_port", "/dev/ttyUSB0"),))`` opens the
board by BrainFlow's name (``CYTON_BOARD``, or just ``cyton``) or numeric id,
starts streaming, and yields its EXG channels (µV: BrainFlow returns EXG in
µV) and accelerometer channels as Blocks. BrainFlow gives channels no
placement, so its rows are named ``EXG 1`` … ``EXG n`` and ``ACC X/Y/Z`` (in
the board's row order) and placed by a montage file, as a file's unusual
labels are; the channels then carry the placement's conventional label
(``EMG L-FDB``), so a recording reads back without the montage. Samples lost on the way (radio drop-outs) are found from the
board's package counter, zero-filled and marked in ``Block.gap``.

BrainFlow is imported when a source is opened, never at module import.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import Iterator

import numpy as np

from fascdetect.errors import DeviceError, InputError
from fascdetect.io.channels import map_channel, split_mapped
from fascdetect.model import Block, Channel
from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources.lsl import log_skipped
from fascdetect.sources.timeline import ContiguousSamples, CounterClock

log = logging.getLogger(__name__)

AXES = ("X", "Y", "Z")
COUNTER_MODULO = 256
"""BrainFlow's package counter is a byte on the boards that send one (OpenBCI's sample number)."""
_INPUT_KEYS = ("serial_port", "mac_address", "ip_address", "ip_port", "ip_protocol", "other_info", "timeout",
               "serial_number", "file", "master_board")
_OUR_KEYS = ("acc_unit", "block_s", "config")
_RELAY_BOARDS = ("PLAYBACK_FILE_BOARD", "STREAMING_BOARD")
"""Boards that replay a file or relay another process's stream: their channels are those of ``master_board``."""


def board_id(board: str) -> int:
    """BrainFlow's board id for a name (``synthetic``, ``cyton_daisy``, ``CYTON_BOARD``) or a number."""
    from brainflow.board_shim import BoardIds

    text = board.strip()
    try:
        number = int(text)
    except ValueError:
        key = text.upper().replace("-", "_").replace(" ", "_")
        for name in (key, f"{key}_BOARD"):
            if name in BoardIds.__members__:
                return BoardIds[name].value
        known = ", ".join(n.lower().removesuffix("_board") for n in BoardIds.__members__ if n != "NO_BOARD")
        raise InputError(f"brainflow: unknown board {board!r} (known: {known})") from None
    if number not in {b.value for b in BoardIds}:
        raise InputError(f"brainflow: no board has id {number}")
    return number


def board_labels(descr: dict) -> list[tuple[int, str, str]]:
    """(row, label, modality) for a board's EXG and accelerometer rows, in row order."""
    exg = sorted({row for key in ("emg_channels", "eeg_channels", "ecg_channels", "eog_channels", "exg_channels")
                  for row in descr.get(key, [])})
    out = [(row, f"EXG {i + 1}", "EMG") for i, row in enumerate(exg)]
    accel = descr.get("accel_channels", [])
    out += [(row, f"ACC {AXES[i]}", "ACC") for i, row in enumerate(accel[:3])]
    return out


class BrainFlowSource:
    """A Source reading a BrainFlow board live (the synthetic board needs no hardware)."""

    duration_s: float | None = None

    def __init__(self, board: str, params: tuple[tuple[str, str], ...] = (), montage: Montage = NO_MONTAGE) -> None:
        """``params`` are BrainFlowInputParams fields (serial_port, mac_address, ip_address, ...) plus
        ``acc_unit`` (the accelerometer's unit, default g) and ``block_s``."""
        from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
        from brainflow.exit_codes import BrainFlowError

        self._error = BrainFlowError
        self.board_id = board_id(board)
        inputs = BrainFlowInputParams()
        acc_unit, self.block_s = "g", 0.1
        self.config: list[str] = []
        """``config_board`` commands sent after the session is prepared (``?config=...``, repeatable)."""
        for key, value in params:
            if key == "master_board":
                inputs.master_board = board_id(value)
            elif key in ("ip_port", "ip_protocol", "timeout"):
                try:
                    setattr(inputs, key, int(value))
                except ValueError:
                    raise InputError(f"brainflow: {key}={value!r} must be a whole number") from None
            elif key in _INPUT_KEYS:
                setattr(inputs, key, value)
            elif key == "config":
                self.config.append(value)
            elif key == "acc_unit":
                acc_unit = value
            elif key == "block_s":
                try:
                    self.block_s = float(value)
                except ValueError:
                    self.block_s = 0.0
                if not 0 < self.block_s <= 5:
                    raise InputError(f"brainflow: block_s={value!r} must be between 0 and 5 seconds")
            else:
                raise InputError(f"brainflow: unknown setting {key!r} (known: {', '.join(_INPUT_KEYS + _OUR_KEYS)})")
        BoardShim.disable_board_logger()
        described = self.board_id
        if BoardIds(self.board_id).name in _RELAY_BOARDS:
            if inputs.master_board == BrainFlowInputParams().master_board:
                raise InputError("brainflow: a playback or streaming board needs master_board=ID (the board whose "
                                 "data it carries)")
            described = inputs.master_board
        descr = BoardShim.get_board_descr(described)
        self.board_name = str(descr.get("name", board))
        self.fs_hz = float(descr["sampling_rate"])
        rows = board_labels(descr)
        results = [(row, label, map_channel(label, self.fs_hz, "uV" if modality == "EMG" else acc_unit, montage))
                   for row, label, modality in rows]
        results = [(row, label, _check_modality(mapped, modality)) for (row, label, modality), (_, _, mapped)
                   in zip(rows, results)]
        results = _first_per_placement(results)
        mapped, self.skipped = split_mapped(results, f"BrainFlow board {self.board_name}")
        log_skipped(f"BrainFlow {self.board_name}", self.skipped)
        # "EXG 1" is our name for a board row, not the sensor's: channels (and so the recording) carry the
        # placement's conventional label, so the file reads back without the montage.
        self.channels: tuple[Channel, ...] = tuple(replace(m.channel, label=m.channel.placement.label())
                                                   for _, m in mapped)
        self._rows = np.array([row for row, _ in mapped])
        self._scales = np.array([m.scale for _, m in mapped], np.float64)[:, None]
        self._counter_row = descr.get("package_num_channel")
        self._time_row = descr.get("timestamp_channel")
        self.clock: CounterClock | None = None
        """Set from the first samples when the board's package counter advances once per sample."""
        self._counter_checked = self._counter_row is None
        self._samples = ContiguousSamples(len(self.channels))
        self._lock = threading.Lock()
        self._closed = False
        self._shim = BoardShim(self.board_id, inputs)
        try:
            self._shim.prepare_session()
            for command in self.config:
                self._shim.config_board(command)
            self._shim.start_stream()
        except BrainFlowError as exc:
            self._release()
            raise DeviceError(f"BrainFlow could not start the {self.board_name} board: {exc}") from None
        self.start: datetime = datetime.now()
        log.info("BrainFlow %s at %g Hz: %d channels used", self.board_name, self.fs_hz, len(self.channels))

    def blocks(self) -> Iterator[Block]:
        """Blocks of about ``block_s`` until close(); if the board fails, the samples received, then DeviceError."""
        failure: DeviceError | None = None
        try:
            while not self._closed:
                time.sleep(self.block_s)
                with self._lock:
                    if self._closed:
                        break
                    try:
                        data = self._shim.get_board_data()
                    except self._error as exc:
                        failure = DeviceError(f"BrainFlow lost the {self.board_name} board: {exc}")
                        break
                self._place(data)
                taken = self._samples.take()
                if taken is not None:
                    yield Block(self.channels, self.fs_hz, taken[0], taken[1], taken[2])
            if failure is not None:
                raise failure
        finally:
            self.close()

    def _place(self, data: np.ndarray) -> None:
        if not data.shape[1]:
            return
        values = (data[self._rows] * self._scales).astype(np.float32)
        if not self._counter_checked and data.shape[1] >= 8:
            self._counter_checked = True
            step = counter_step(data[self._counter_row])
            if step is None:
                log.warning("BrainFlow %s: the package counter does not advance once per sample; lost samples "
                            "cannot be detected (samples are counted as they come)", self.board_name)
            else:
                self.clock = CounterClock(self.fs_hz, COUNTER_MODULO, step)
                self.clock.next = self._samples.end
        if self.clock is None:
            self._samples.add(self._samples.end, values)
            return
        host_s = data[self._time_row] if self._time_row is not None else np.full(data.shape[1], time.time())
        for run in self.clock.place(data[self._counter_row], host_s):
            self._samples.add(run.index, values[:, run.lo:run.hi])

    def close(self) -> None:
        """Stop streaming and release the board (safe from any thread, more than once)."""
        self._closed = True
        with self._lock:
            self._release()

    def _release(self) -> None:
        shim, self._shim = getattr(self, "_shim", None), None
        if shim is None:
            return
        try:
            if shim.is_prepared():
                shim.release_session()
        except self._error as exc:
            log.info("BrainFlow release: %s", exc)


def counter_step(counters: np.ndarray) -> int | None:
    """How far the package counter moves per sample, if it moves the same way for (nearly) every sample."""
    diffs = np.diff(np.asarray(counters).astype(np.int64)) % COUNTER_MODULO
    values, counts = np.unique(diffs, return_counts=True)
    step = int(values[np.argmax(counts)])
    if step <= 0 or counts.max() < 0.9 * diffs.size:
        return None
    return step


def _check_modality(mapped, modality: str):
    """A montage entry must give an EXG row an EMG placement and an accelerometer row an ACC one."""
    if isinstance(mapped, str) or mapped.channel.modality == modality:
        return mapped
    return f"the montage makes it {mapped.channel.modality}, but the board row is {modality}"


def _first_per_placement(results: list) -> list:
    """Two rows mapped to one placement would be two channels with one label: the later one is skipped."""
    seen: dict[str, str] = {}
    out = []
    for row, label, mapped in results:
        if not isinstance(mapped, str):
            key = mapped.channel.placement.label()
            if key in seen:
                mapped = f"the montage gives it the same placement ({key}) as {seen[key]}"
            else:
                seen[key] = label
        out.append((row, label, mapped))
    return out
