"""Live blocks from a Lab Streaming Layer stream (pylsl), the way lab software publishes biosignals.

``LslSource("MyEMG")`` resolves a stream by name (or by type, such as
``EMG``, ``EXG`` or ``ACC``), reads its channel labels, units and types from
the stream's XML description (``desc/channels/channel``) and maps them like
a file's: the label convention or a montage, unmapped channels listed in
``skipped`` with the reason. LSL gives every sample a timestamp; those are
turned into contiguous sample indices at the stream's nominal rate
(``timeline.TimestampClock``), so samples the network or the sender dropped
become zero-filled samples marked in ``Block.gap``, exactly as lost BLE
packets do. When the stream disappears (the sending program or computer
stops) the source keeps resolving it: when it comes back, the outage is a
gap whose length comes from the timestamps; if it does not come back
within ``give_up_after_s``, every sample received has been yielded and a
DeviceError says so in one line.

pylsl is imported when a source is opened, never at module import, so the
command line starts without it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Iterator

import numpy as np

from fascdetect.errors import DeviceError, InputError
from fascdetect.io.channels import MappedChannel, map_channel, split_mapped
from fascdetect.model import Block, Channel
from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources.ble import Outage
from fascdetect.sources.timeline import ContiguousSamples, TimestampClock

log = logging.getLogger(__name__)

DEFAULT_TYPES = ("EMG", "EXG", "ACC")
"""Stream types taken by a bare ``lsl`` (no name): the ones that can carry foot EMG or accelerometry."""

# XDF/LSL spell units out ("microvolts"); ours are the abbreviations io.channels knows.
_LSL_UNITS = {"microvolts": "uV", "microvolt": "uV", "millivolts": "mV", "millivolt": "mV", "volts": "V",
              "volt": "V", "nanovolts": "nV", "milli-g": "mg", "millig": "mg", "gravity": "g", "m/s/s": "m/s^2"}
_TYPE_FAMILY = {"EMG": "EMG", "EXG": "EMG", "EEG": "EMG", "ECG": "EMG", "EOG": "EMG",
                "ACC": "ACC", "ACCEL": "ACC", "ACCELEROMETER": "ACC", "ACCELERATION": "ACC"}
TIME_CORRECTION_EVERY_S = 10.0


@dataclass(frozen=True)
class LslOptions:
    """How to find the stream and how long to wait for it. Keys of ``lsl:NAME?key=value`` in brackets."""

    resolve_timeout_s: float = 5.0
    """Wait this long for the stream when opening [timeout]."""
    source_id: str | None = None
    """Take only the stream with this source id, when several share a name [source_id]."""
    hostname: str | None = None
    """Take only a stream sent from this computer [host]."""
    give_up_after_s: float | None = None
    """After the stream disappears, stop (DeviceError) if it is not back within this long; None: keep trying all night [give_up]."""
    gap_tolerance_s: float = 0.005
    """A sample later than expected by more than this (or 5× the timestamp jitter seen) marks lost samples [gap_ms, in ms]."""
    block_s: float = 0.1
    """Blocks hold about this many seconds of samples."""
    max_buffer_s: int = 360
    """liblsl buffers this much on the inlet side while the reader is busy."""

    @classmethod
    def from_params(cls, params: tuple[tuple[str, str], ...]) -> "LslOptions":
        values: dict[str, object] = {}
        for key, value in params:
            if key == "timeout":
                values["resolve_timeout_s"] = _positive(key, value)
            elif key == "source_id":
                values["source_id"] = value
            elif key == "host":
                values["hostname"] = value
            elif key == "give_up":
                values["give_up_after_s"] = None if value.lower() in ("never", "none") else _positive(key, value)
            elif key == "gap_ms":
                values["gap_tolerance_s"] = _positive(key, value) / 1000
            else:
                raise InputError(f"lsl: unknown key {key!r} (known: timeout, source_id, host, give_up, gap_ms)")
        return cls(**values)


def _positive(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0:
        raise InputError(f"lsl: {key}={value!r} must be a positive number")
    return number


def _quote(value: str) -> str:
    """An XPath string literal for ``value``."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def predicate(target: str | None, options: LslOptions) -> str:
    """The liblsl resolve predicate (XPath 1.0 over the stream's info) for a target name or type."""
    if target:
        parts = [f"(name={_quote(target)} or type={_quote(target)})"]
    else:
        parts = ["(" + " or ".join(f"type='{t}'" for t in DEFAULT_TYPES) + ")"]
    if options.source_id:
        parts.append(f"source_id={_quote(options.source_id)}")
    if options.hostname:
        parts.append(f"hostname={_quote(options.hostname)}")
    return " and ".join(parts)


@dataclass(frozen=True)
class StreamLayout:
    """What must stay the same for a reconnection to continue the same recording."""

    name: str
    type: str
    channel_count: int
    fs_hz: float
    labels: tuple[str, ...]


@dataclass
class LslStats:
    chunks: int = 0
    samples: int = 0
    lost_samples: int = 0
    repeated_samples: int = 0
    outages: list[Outage] = field(default_factory=list)


def describe_channels(info) -> list[tuple[str, str, str]]:
    """(label, unit, type) per channel from the stream's ``desc/channels``; empty strings where absent."""
    out = []
    channels = info.desc().child("channels")
    ch = channels.child("channel") if not channels.empty() else channels
    while not ch.empty():
        out.append((ch.child_value("label").strip(), ch.child_value("unit").strip(), ch.child_value("type").strip()))
        ch = ch.next_sibling("channel")
    out = out[: info.channel_count()]
    out += [("", "", "")] * (info.channel_count() - len(out))
    return out


def unlabelled(index: int) -> str:
    """The name a montage uses for channel ``index`` (0-based) of a stream that gives no labels."""
    return f"channel {index + 1}"


def map_lsl_channel(label: str, unit: str, kind: str, fs_hz: float, montage: Montage,
                    index: int = 0) -> MappedChannel | str:
    """The channel for one LSL channel, or why it is skipped (as for a file's signal).

    Some senders describe no channels: such a
    channel is ``channel N`` (1-based) for the montage, and takes its
    placement's conventional label, so the recording reads back without it.
    """
    name = label or unlabelled(index)
    mapped = map_channel(name, fs_hz, _LSL_UNITS.get(unit.lower(), unit) or None, montage)
    if isinstance(mapped, str):
        return mapped if label else f"the stream gives it no label and the montage has no {name!r}"
    if not label:
        mapped = replace(mapped, channel=replace(mapped.channel, label=mapped.channel.placement.label()))
    family = _TYPE_FAMILY.get(kind.upper())
    if kind and family is not None and family != mapped.channel.modality:
        return f"the stream says its type is {kind!r} but the label maps it to {mapped.channel.modality}"
    return mapped


class LslSource:
    """A Source reading one LSL stream live. ``LslSource(target)`` resolves and connects before it returns."""

    duration_s: float | None = None

    def __init__(self, target: str | None = None, options: LslOptions | None = None,
                 montage: Montage = NO_MONTAGE) -> None:
        """``target`` is a stream name or type (None: the one stream of type EMG, EXG or ACC).

        Raises DeviceError when no stream (or more than one) matches within the
        time-out, InputError for a stream fascdetect cannot use (irregular
        rate, strings, no mappable channel).
        """
        import pylsl

        self._lsl = pylsl
        self.target = target
        self.options = options or LslOptions()
        self.montage = montage
        self.stats = LslStats()
        self.outages = self.stats.outages
        self._closed = False
        info = self._resolve(self.options.resolve_timeout_s)
        if info is None:
            what = f"named or of type {target!r}" if target else f"of type {' or '.join(DEFAULT_TYPES)}"
            raise DeviceError(f"no LSL stream {what} found within {self.options.resolve_timeout_s:g} s "
                              "(is the sending program running, and on this network?)")
        self._inlet, info = self._connect(info)
        self.info = info
        self.layout = _layout(info)
        self.fs_hz = self.layout.fs_hz
        results = [(i, label or unlabelled(i), map_lsl_channel(label, unit, kind, self.fs_hz, montage, i))
                   for i, (label, unit, kind) in enumerate(describe_channels(info))]
        mapped, self.skipped = split_mapped(results, f"LSL stream {info.name()!r}")
        log_skipped(f"LSL stream {info.name()!r}", self.skipped)
        self._columns = np.array([i for i, _ in mapped])
        self._scales = np.array([m.scale for _, m in mapped], np.float64)[:, None]
        self._offsets = np.array([m.offset for _, m in mapped], np.float64)[:, None]
        """Raw-count streams (no unit, a montage calibration): value = (count - offset) × scale."""
        self.channels: tuple[Channel, ...] = tuple(m.channel for _, m in mapped)
        self.clock = TimestampClock(self.fs_hz, self.options.gap_tolerance_s)
        self._samples = ContiguousSamples(len(self.channels))
        self._block_n = max(1, round(self.options.block_s * self.fs_hz))
        self.correction_s = self._time_correction(timeout_s=2.0) or 0.0
        self._corrected_at = time.monotonic()
        self.start: datetime = datetime.now()
        self._started = False
        log.info("LSL stream %r (%s) from %s: %d channels at %g Hz, %d used", info.name(), info.type(),
                 info.hostname(), info.channel_count(), self.fs_hz, len(self.channels))

    # ------------------------------------------------------------- clock
    def source_time_s(self, seconds: float) -> float | None:
        """The stream's own LSL timestamp of the sample at ``seconds`` since recording start."""
        return self.clock.timestamp_s(seconds * self.fs_hz)

    def lsl_time_s(self, seconds: float) -> float | None:
        """This computer's LSL clock (``pylsl.local_clock``) at ``seconds`` since recording start.

        The stream's timestamps plus ``time_correction()``: what a marker
        stamped here must carry to line up with the stream in LabRecorder.
        """
        t = self.source_time_s(seconds)
        return None if t is None else t + self.correction_s

    def _time_correction(self, timeout_s: float) -> float | None:
        try:
            return float(self._inlet.time_correction(timeout=timeout_s))
        except (self._lsl.util.TimeoutError, self._lsl.util.LostError) as exc:
            log.info("LSL time correction not available yet: %s", exc)
            return None

    # ------------------------------------------------------------- stream
    def blocks(self) -> Iterator[Block]:
        """Blocks of about ``block_s`` until close(); after a give-up, the samples held, then DeviceError."""
        emitted_at = time.monotonic()
        while not self._closed:
            try:
                self._pull()
            except self._lsl.util.LostError:
                yield from self._emit()
                try:
                    self._reconnect()
                except DeviceError:
                    yield from self._emit(final=True)
                    raise
                continue
            now = time.monotonic()
            held = self._samples.held
            if held >= self._block_n or (held and now - emitted_at >= self.options.block_s):
                yield from self._emit()
                emitted_at = now
            if now - self._corrected_at >= TIME_CORRECTION_EVERY_S:
                self.correction_s = self._time_correction(timeout_s=0.01) or self.correction_s
                self._corrected_at = now
        yield from self._emit(final=True)

    def _pull(self) -> int:
        data, stamps = self._inlet.pull_chunk(timeout=self.options.block_s, max_samples=max(self._block_n, 1024),
                                              min_samples=1, as_numpy=True)
        n = len(stamps)
        if not n:
            return 0
        if not self._started:
            self._started = True
            age_s = self._lsl.local_clock() - (float(stamps[0]) + self.correction_s)
            self.start = datetime.now() - timedelta(seconds=max(0.0, age_s))
        values = ((np.asarray(data, np.float64)[:, self._columns].T - self._offsets) * self._scales).astype(np.float32)
        lost_before = self.clock.lost
        for index, part in self.clock.push(stamps, values):
            self._samples.add(index, part)
        self.stats.chunks += 1
        self.stats.samples += n
        self.stats.lost_samples += self.clock.lost - lost_before
        self.stats.repeated_samples = self._samples.duplicates
        return n

    def _emit(self, final: bool = False) -> Iterator[Block]:
        """The samples placed so far as one Block; ``final`` also places those held for a gap decision."""
        if final:
            lost_before = self.clock.lost
            for index, part in self.clock.flush():
                self._samples.add(index, part)
            self.stats.lost_samples += self.clock.lost - lost_before
        taken = self._samples.take()
        if taken is not None:
            start, data, gap = taken
            yield Block(self.channels, self.fs_hz, start, data, gap)

    # ----------------------------------------------------------- the link
    def _resolve(self, timeout_s: float):
        """The one matching stream's info, None if none answered; DeviceError if several do."""
        found = self._lsl.resolve_bypred(predicate(self.target, self.options), 1, timeout_s)
        if self.target:  # a name match beats a type match
            named = [s for s in found if s.name() == self.target]
            found = named or found
        ids = {(s.source_id(), s.hostname(), s.name()) for s in found}
        if len(ids) > 1:
            listed = "; ".join(f"{s.name()!r} (type {s.type()}, host {s.hostname()}, source_id {s.source_id()!r})"
                               for s in found)
            raise DeviceError(f"several LSL streams match: {listed}; choose one with ?source_id=... or ?host=...")
        return found[0] if found else None

    def _connect(self, info):
        """An open inlet on ``info`` and the full info (with its description); refuses unusable streams."""
        lsl = self._lsl
        if info.channel_format() == lsl.cf_string:
            raise InputError(f"LSL stream {info.name()!r} carries strings (markers or text), not samples; "
                             "fascdetect reads numeric EMG/ACC streams")
        if info.nominal_srate() == lsl.IRREGULAR_RATE:
            raise InputError(f"LSL stream {info.name()!r} has an irregular sampling rate; fascdetect needs a "
                             "regularly sampled stream (its nominal rate is what turns timestamps into samples)")
        inlet = lsl.StreamInlet(info, max_buflen=self.options.max_buffer_s, recover=False,
                                processing_flags=lsl.proc_none)
        try:
            full = inlet.info(timeout=self.options.resolve_timeout_s)
            inlet.open_stream(timeout=self.options.resolve_timeout_s)
        except (lsl.util.TimeoutError, lsl.util.LostError) as exc:
            raise DeviceError(f"LSL stream {info.name()!r} found but could not be opened: {exc}") from None
        return inlet, full

    def _reconnect(self) -> None:
        """Resolve the stream again after it was lost, until it is back, the source is closed, or give-up."""
        outage = Outage(datetime.now())
        self.outages.append(outage)
        t0 = time.monotonic()
        log.warning("LSL stream %r lost at %.1f s of signal; waiting for it to come back",
                    self.layout.name, self.clock.next / self.fs_hz)
        self._inlet = None
        give_up = self.options.give_up_after_s
        while not self._closed:
            outage.attempts += 1
            info = self._resolve(0.5)
            if info is not None:
                inlet, full = self._connect(info)
                if _layout(full) != self.layout:
                    raise DeviceError(f"LSL stream {self.layout.name!r} came back with different channels or rate; "
                                      "start a new recording")
                self._inlet = inlet
                self.correction_s = self._time_correction(timeout_s=2.0) or self.correction_s
                outage.duration_s = time.monotonic() - t0
                log.warning("LSL stream %r back after %.1f s", self.layout.name, outage.duration_s)
                return
            if give_up is not None and time.monotonic() - t0 > give_up:
                raise DeviceError(f"LSL stream {self.layout.name!r} disappeared at {self.clock.next / self.fs_hz:.1f} s "
                                  f"of signal and was not back within {give_up:g} s; everything received until then "
                                  "was kept")

    def close(self) -> None:
        """End ``blocks()`` after the samples held (safe from any thread, more than once)."""
        self._closed = True


def log_skipped(where: str, skipped: tuple[tuple[str, str], ...]) -> None:
    """One warning per reason, naming the channels it applies to (the CLI shows warnings on stderr)."""
    by_reason: dict[str, list[str]] = {}
    for label, reason in skipped:
        by_reason.setdefault(reason, []).append(label)
    for reason, labels in by_reason.items():
        log.warning("%s: %s not used: %s", where, ", ".join(labels), reason)


def _layout(info) -> StreamLayout:
    labels = tuple(label for label, _, _ in describe_channels(info))
    return StreamLayout(info.name(), info.type(), info.channel_count(), float(info.nominal_srate()), labels)
