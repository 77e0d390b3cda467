"""Source specs for the commands: the library's ``open_source`` plus the simulated wearable.

The simulator lives in ``firmware_sim``, which only the commands may import
(and only when it is asked for), so it is wired in here.
"""

from __future__ import annotations

from datetime import datetime

from fascdetect.regions import NO_MONTAGE, Montage
from fascdetect.sources import Source
from fascdetect.sources.spec import SourceSpec, open_source

DEFAULT_SCENARIO = "rest"
SIM_SEED = 0
"""A fixed seed: the same scenario always makes the same signal, so a demo or test can be repeated."""


def simulated_wearable(scenario: str | None) -> Source:
    """An endless simulated stream of ``scenario``, dated now as a device would date it."""
    from firmware_sim.generator import Generator
    from firmware_sim.scenarios import get_scenario

    chosen = get_scenario(scenario or DEFAULT_SCENARIO).with_(start=datetime.now().replace(microsecond=0))
    return Generator(chosen, SIM_SEED)


def open_cli_source(spec: str | SourceSpec, montage: Montage = NO_MONTAGE) -> Source:
    """The Source a ``--source`` argument names (see ``fascdetect.sources.spec.SPEC_FORMS``)."""
    return open_source(spec, simulator=simulated_wearable, montage=montage)
