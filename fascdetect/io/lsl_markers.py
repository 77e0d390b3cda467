"""Final events out as a Lab Streaming Layer marker stream, for LabRecorder and other LSL tools.

One string channel of type ``Markers`` at an irregular rate (the LSL
convention for events), one JSON object per event: the fields of
``Event.to_json`` (kind, onset in seconds since recording start, duration,
side, region, channel, peak, flags) plus ``lsl_time``, the onset on the
source stream's own LSL clock. Each marker is stamped with the onset on
this computer's LSL clock, so LabRecorder stores it at the moment the event
began, beside the raw stream, whatever the detector's latency.

Only final events are published (the monitor's provisional cramps never).
pylsl is imported when an outlet is made.
"""

from __future__ import annotations

import json
import logging
from typing import Iterable

from fascdetect.model import Event

log = logging.getLogger(__name__)

DEFAULT_NAME = "fascdetect-events"
STREAM_TYPE = "Markers"


class EventOutlet:
    """An LSL outlet publishing events; ``bind(source)`` before ``publish`` ties onsets to the source's clock.

    Sources that know their LSL time (``LslSource``: ``lsl_time_s`` and
    ``source_time_s``) give exact stamps; for the others (simulator, replay,
    BLE) sample 0 is taken to be when ``bind`` was called, which is when a
    live source starts delivering.
    """

    def __init__(self, name: str = DEFAULT_NAME) -> None:
        import pylsl

        self._lsl = pylsl
        self.name = name
        info = pylsl.StreamInfo(name, STREAM_TYPE, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, f"fascdetect:{name}")
        desc = info.desc()
        desc.append_child_value("format", "json")
        channel = desc.append_child("channels").append_child("channel")
        channel.append_child_value("label", "event")
        channel.append_child_value("type", STREAM_TYPE)
        desc.append_child("acquisition").append_child_value("manufacturer", "fascdetect")
        self._outlet = pylsl.StreamOutlet(info)
        self._source = None
        self._origin_s = pylsl.local_clock()
        self.published = 0

    def bind(self, source: object) -> None:
        """Publish the events of ``source`` from now on (onsets are seconds since its sample 0)."""
        self._source = source
        self._origin_s = self._lsl.local_clock()

    def stamps(self, onset_s: float) -> tuple[float, float]:
        """(this computer's LSL time, the source stream's LSL time) of an onset."""
        local = source_time = None
        if hasattr(self._source, "lsl_time_s"):
            local = self._source.lsl_time_s(onset_s)
            source_time = self._source.source_time_s(onset_s)
        if local is None or source_time is None:
            local = source_time = self._origin_s + onset_s
        return local, source_time

    def publish(self, events: Iterable[Event]) -> None:
        if self._outlet is None:
            return
        for event in events:
            local, source_time = self.stamps(event.onset_s)
            payload = event.to_json()
            payload["lsl_time"] = round(source_time, 6)
            self._outlet.push_sample([json.dumps(payload)], local)
            self.published += 1

    def close(self) -> None:
        """Withdraw the stream (LSL tools see it disappear)."""
        self._outlet = None
        log.info("LSL marker stream %r closed after %d events", self.name, self.published)


class PublishingSource:
    """A Source that passes ``source``'s blocks through unchanged and publishes the events a Pipeline with
    ``config`` finds in them on ``outlet``.

    For consumers that run their own pipeline out of reach (the monitor's
    window): the detector is deterministic, so these are exactly the final
    events the consumer's pipeline makes from the same blocks, for well under
    1 % of a core. Attributes the consumer asks of a live source (``outages``,
    ``battery_pct``) are those of ``source``.
    """

    def __init__(self, source, outlet: EventOutlet, config=None) -> None:
        from fascdetect.pipeline import Pipeline

        self.source = source
        self.outlet = outlet
        self.channels = source.channels
        self.start = source.start
        self.duration_s = source.duration_s
        self.skipped = source.skipped
        self._pipeline = Pipeline(source.channels, config)
        outlet.bind(source)

    def __getattr__(self, name: str):
        return getattr(self.source, name)

    def blocks(self):
        try:
            for block in self.source.blocks():
                self.outlet.publish(self._pipeline.feed(block).events)
                yield block
        finally:
            self.outlet.publish(self._pipeline.flush())

    def close(self) -> None:
        self.source.close()
