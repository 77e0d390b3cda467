"""Live blocks from a Lab Streaming Layer stream (pylsl), the way lab software publishes biosignals.

``LslSource("MyEMG")`` resolves a stream by name (or by type, such as
``EMG``, ``EXG`` or ``ACC``), reads its channel labels, units and types from
the stream's XML description (``desc/channels/channel``) and maps them like
a file's: the label convention or a montage, unmapped channels listed in
``skipped`` with the reason (``?also=OTHER`` adds a further stream of the
same device at another rate, such as its accelerometer stream, with sample 0
at the first stream's first sample). LSL gives every sample a timestamp; those are
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
OTHERS_ANSWER_S = 1.0
"""After the first stream answers, how long other matching streams have to answer (to refuse an ambiguous name):
liblsl asks in waves, and a second stream on this machine answered only in the wave after 0.5 s."""


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
    also: tuple[str, ...] = ()
    """Further streams of the same device, each at its own rate (an accelerometer stream) [also, repeatable]."""
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
            elif key == "also":
                if not value.strip():
                    raise InputError("lsl: also= needs a stream name or type")
                values["also"] = (*values.get("also", ()), value.strip())
            else:
                raise InputError(f"lsl: unknown key {key!r} (known: timeout, source_id, host, give_up, gap_ms, also)")
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
    """What the source saw, over all its streams: chunks and samples pulled, samples found lost (zero-filled),
    samples received twice (dropped), and every outage."""

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


class LslStream:
    """One LSL inlet: its channels, its clock and the samples placed so far (``LslSource`` runs one or more)."""

    def __init__(self, lsl, target: str | None, options: LslOptions, montage: Montage, *, primary: bool) -> None:
        self._lsl = lsl
        self.target = target
        self.options = options if primary else replace(options, source_id=None)  # the source id names the first
        info = self._resolve(options.resolve_timeout_s)
        if info is None:
            what = f"named or of type {target!r}" if target else f"of type {' or '.join(DEFAULT_TYPES)}"
            raise DeviceError(f"no LSL stream {what} found within {options.resolve_timeout_s:g} s "
                              "(is the sending program running, and on this network?)")
        self.inlet, info = self._connect(info)
        self.info = info
        self.layout = _layout(info)
        self.name = self.layout.name
        self.fs_hz = self.layout.fs_hz
        results = [(i, label or unlabelled(i), map_lsl_channel(label, unit, kind, self.fs_hz, montage, i))
                   for i, (label, unit, kind) in enumerate(describe_channels(info))]
        mapped, self.skipped = split_mapped(results, f"LSL stream {self.name!r}")
        log_skipped(f"LSL stream {self.name!r}", self.skipped)
        self._columns = np.array([i for i, _ in mapped])
        self._scales = np.array([m.scale for _, m in mapped], np.float64)[:, None]
        self._offsets = np.array([m.offset for _, m in mapped], np.float64)[:, None]
        """Raw-count streams (no unit, a montage calibration): value = (count - offset) × scale."""
        self.channels: tuple[Channel, ...] = tuple(m.channel for _, m in mapped)
        self.clock = TimestampClock(self.fs_hz, options.gap_tolerance_s)
        self.samples = ContiguousSamples(len(self.channels))
        self.block_n = max(1, round(options.block_s * self.fs_hz))
        self.correction_s = self.time_correction(timeout_s=2.0) or 0.0
        self.corrected_at = time.monotonic()
        self.first_s: float | None = None
        """This computer's LSL time of this stream's sample 0 (its first sample, or the primary stream's)."""
        log.info("LSL stream %r (%s) from %s: %d channels at %g Hz, %d used", self.name, info.type(),
                 info.hostname(), info.channel_count(), self.fs_hz, len(self.channels))

    def time_correction(self, timeout_s: float) -> float | None:
        if self.inlet is None:  # closed while the stream was away
            return None
        try:
            return float(self.inlet.time_correction(timeout=timeout_s))
        except (self._lsl.util.TimeoutError, self._lsl.util.LostError) as exc:
            log.info("LSL time correction for %r not available yet: %s", self.target, exc)
            return None

    def align(self, first_local_s: float) -> None:
        """Make sample 0 the sample taken at ``first_local_s`` (this computer's LSL clock): a stream that
        started later begins with a marked gap, one that started earlier drops what came before."""
        self.first_s = first_local_s
        self.clock.offset_s = first_local_s - self.correction_s

    def pull(self, timeout_s: float, stats: "LslStats") -> int:
        """Samples waiting on the inlet (up to ``timeout_s`` for the first), placed; LostError if the stream is gone."""
        data, stamps = self.inlet.pull_chunk(timeout=timeout_s, max_samples=max(self.block_n, 1024), min_samples=1,
                                             as_numpy=True)
        n = len(stamps)
        if not n:
            return 0
        stamps = np.asarray(stamps, np.float64)
        if self.first_s is None:
            self.align(float(stamps[0]) + self.correction_s)
        assert self.clock.offset_s is not None
        keep = stamps >= self.clock.offset_s - 0.5 / self.fs_hz if self.clock.next == 0 else slice(None)
        values = ((np.asarray(data, np.float64)[:, self._columns].T - self._offsets) * self._scales).astype(np.float32)
        lost_before = self.clock.lost
        for index, part in self.clock.push(stamps[keep], values[:, keep]):
            self.samples.add(index, part)
        stats.chunks += 1
        stats.samples += n
        stats.lost_samples += self.clock.lost - lost_before
        return n

    def take(self, stats: "LslStats", final: bool = False) -> Block | None:
        """The samples placed so far as one Block; ``final`` also places those held for a gap decision."""
        if final:
            lost_before = self.clock.lost
            for index, part in self.clock.flush():
                self.samples.add(index, part)
            stats.lost_samples += self.clock.lost - lost_before
        taken = self.samples.take()
        if taken is None:
            return None
        start, data, gap = taken
        return Block(self.channels, self.fs_hz, start, data, gap)

    # ----------------------------------------------------------- the link
    def _resolve(self, timeout_s: float):
        """The one matching stream's info, None if none answered; DeviceError if several do."""
        query = predicate(self.target, self.options)
        found = self._lsl.resolve_bypred(query, 1, timeout_s)
        if found:  # liblsl returns at the first answer: give others a moment to answer too
            found = self._lsl.resolve_bypred(query, 2, OTHERS_ANSWER_S) or found
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

    def reconnect(self, outages: list[Outage], closed) -> None:
        """Resolve the stream again after it was lost, until it is back, ``closed()``, or give-up (DeviceError)."""
        outage = Outage(datetime.now())
        outages.append(outage)
        t0 = time.monotonic()
        log.warning("LSL stream %r lost at %.1f s of signal; waiting for it to come back",
                    self.name, self.clock.next / self.fs_hz)
        self.inlet = None
        give_up = self.options.give_up_after_s
        while not closed():
            outage.attempts += 1
            info = self._resolve(0.5)
            opened = None
            if info is not None:
                try:
                    opened = self._connect(info)
                except DeviceError as exc:
                    # The resolver can still list the outlet that just vanished: not back yet.
                    log.info("%s; still waiting", exc)
            if opened is not None:
                inlet, full = opened
                if _layout(full) != self.layout:
                    raise DeviceError(f"LSL stream {self.name!r} came back with different channels or rate; "
                                      "start a new recording")
                self.inlet = inlet
                self.correction_s = self.time_correction(timeout_s=2.0) or self.correction_s
                outage.duration_s = time.monotonic() - t0
                log.warning("LSL stream %r back after %.1f s", self.name, outage.duration_s)
                return
            if give_up is not None and time.monotonic() - t0 > give_up:
                raise DeviceError(f"LSL stream {self.name!r} disappeared at {self.clock.next / self.fs_hz:.1f} s "
                                  f"of signal and was not back within {give_up:g} s; everything received until then "
                                  "was kept")


class LslSource:
    """A Source reading LSL streams live. ``LslSource(target)`` resolves and connects before it returns.

    ``also`` names further streams of the same device at other rates (an EMG
    stream and its accelerometer stream): each is a rate group of its own,
    all with sample 0 at the primary stream's first sample.
    """

    duration_s: float | None = None

    def __init__(self, target: str | None = None, options: LslOptions | None = None,
                 montage: Montage = NO_MONTAGE) -> None:
        """``target`` is a stream name or type (None: the one stream of type EMG, EXG or ACC).

        Raises DeviceError when no stream (or more than one) matches within the
        time-out, InputError for a stream fascdetect cannot use (irregular
        rate, strings, no mappable channel, two streams at one rate).
        """
        import pylsl

        self._lsl = pylsl
        self.options = options or LslOptions()
        self.stats = LslStats()
        self.outages = self.stats.outages
        self._closed = False
        self.streams = [LslStream(pylsl, target, self.options, montage, primary=True)]
        for other in self.options.also:
            self.streams.append(LslStream(pylsl, other, self.options, montage, primary=False))
        rates = [s.fs_hz for s in self.streams]
        if len(set(rates)) != len(rates):
            raise InputError("lsl: the streams given with also= must each have their own rate "
                             f"({', '.join(f'{s.name!r} {s.fs_hz:g} Hz' for s in self.streams)})")
        self.primary = self.streams[0]
        self.fs_hz = self.primary.fs_hz
        self.info = self.primary.info
        self.channels: tuple[Channel, ...] = tuple(c for s in self.streams for c in s.channels)
        self.skipped: tuple[tuple[str, str], ...] = tuple(x for s in self.streams for x in s.skipped)
        self.start: datetime = datetime.now()

    @property
    def clock(self) -> TimestampClock:
        return self.primary.clock

    @property
    def correction_s(self) -> float:
        return self.primary.correction_s

    # ------------------------------------------------------------- clock
    def source_time_s(self, seconds: float) -> float | None:
        """The primary stream's own LSL timestamp of the sample at ``seconds`` since recording start."""
        return self.primary.clock.timestamp_s(seconds * self.fs_hz)

    def lsl_time_s(self, seconds: float) -> float | None:
        """This computer's LSL clock (``pylsl.local_clock``) at ``seconds`` since recording start.

        The stream's timestamps plus ``time_correction()``: what a marker
        stamped here must carry to line up with the stream in LabRecorder.
        """
        t = self.source_time_s(seconds)
        return None if t is None else t + self.primary.correction_s

    # ------------------------------------------------------------- stream
    def blocks(self) -> Iterator[Block]:
        """Blocks of about ``block_s`` per stream until close(); after a give-up, the samples held, then DeviceError."""
        emitted_at = time.monotonic()
        wait_s = self.options.block_s / len(self.streams)
        while not self._closed:
            for stream in self.streams:
                if stream is not self.primary and self.primary.first_s is None:
                    continue  # sample 0 is the primary stream's first sample; the others wait in their inlets
                if stream is not self.primary and stream.first_s is None:
                    stream.align(self.primary.first_s)
                try:
                    started = self.primary.first_s is not None
                    stream.pull(wait_s, self.stats)
                    if not started and self.primary.first_s is not None:
                        age_s = self._lsl.local_clock() - self.primary.first_s
                        self.start = datetime.now() - timedelta(seconds=max(0.0, age_s))
                except self._lsl.util.LostError:
                    yield from self._take(stream)
                    try:
                        stream.reconnect(self.outages, lambda: self._closed)
                    except DeviceError:
                        for s in self.streams:
                            yield from self._take(s, final=True)
                        raise
            now = time.monotonic()
            if now - emitted_at >= self.options.block_s or any(s.samples.held >= s.block_n for s in self.streams):
                for stream in self.streams:
                    yield from self._take(stream)
                emitted_at = now
            for stream in self.streams:
                if now - stream.corrected_at >= TIME_CORRECTION_EVERY_S:
                    stream.correction_s = stream.time_correction(timeout_s=0.01) or stream.correction_s
                    stream.corrected_at = now
        for stream in self.streams:
            yield from self._take(stream, final=True)

    def _take(self, stream: LslStream, final: bool = False) -> Iterator[Block]:
        block = stream.take(self.stats, final)
        self.stats.repeated_samples = sum(s.samples.duplicates for s in self.streams)
        if block is not None:
            yield block

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
