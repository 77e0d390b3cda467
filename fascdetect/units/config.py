"""Settings of the motor-unit sorter: one frozen dataclass, every value with its unit and reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fascdetect.errors import InputError


@dataclass(frozen=True)
class SortConfig:
    """How twitch waveforms are cut out, compared and grouped into putative motor units."""

    core_before_s: float = 0.005
    """Start of the compared window before the waveform's peak (s). With ``core_after_s`` about 10 ms:
    the main phases of a surface fasciculation potential (6-25 ms long) around its largest peak."""
    core_after_s: float = 0.007
    """End of the compared window after the peak (s)."""
    wide_before_s: float = 0.015
    """Start of the longer window the template (median waveform) is described on (s before the peak)."""
    wide_after_s: float = 0.020
    """End of that longer window (s after the peak): long enough for a 25 ms potential's phases and duration."""
    align_smooth_s: float = 0.008
    """Waveforms are aligned on the peak of their energy smoothed by a Hann window this long (s): the
    largest |sample| of a potential with two near-equal phases flips between them from twitch to twitch
    (and a 3 ms window still did for phases 5 ms apart, splitting broad units); this does not."""
    max_shift_s: float = 0.002
    """Waveforms are then compared at the best lag within ± this (s): what noise leaves of alignment jitter."""
    peak_search_s: float = 0.030
    """The peak is the largest |sample| within this long after the event's onset (a doublet's first discharge)."""
    noise_window_s: float = 0.100
    """The noise level of a waveform is the robust SD of the filtered signal in this window just before it."""
    noise_factor: float = 2.0
    """A waveform fits a template when their squared difference is at most ``noise_factor`` × the noise
    energy of the window (n·σ², with the template's own noise added) plus ``shape_tolerance``² of the
    template's energy; 2.0 lies just above the 99th percentile of noise alone over a 24-sample window (1.8)."""
    amplitude_neighbours: int = 8
    """A cluster's amplitude at a moment (its gain on its template) is the median gain of this many of its
    members nearest in time: a unit's size drifts slowly over a night (electrode contact, temperature), so
    its neighbours in time show the size it has now, while a unit of the same shape and another size,
    firing at random among it, does not fit."""
    max_drift: float = 1.3
    """That amplitude stays within this factor of the template (a drift of ±20 % over a recording fits
    with room to spare); merging two clusters of one shape at different sizes is limited to it too."""
    shape_tolerance: float = 0.2
    """Relative difference allowed on top of noise, as a fraction of the (amplitude-scaled) template's
    norm, for shape and size together: simulated units of one muscle differ by 0.3-2, and two units of one
    shape whose sizes differ by less than about 20 % cannot be told apart."""
    merge_shift_s: float = 0.006
    """Templates (clean medians) are compared for merging at the best lag within ± this (s), wider than
    waveforms: a unit whose members were aligned on two different phases merges back into one."""
    merge_tolerance: float = 0.2
    """Two clusters merge when their templates differ by at most this fraction (plus their noise), at
    their own sizes; or at the best gain within ``max_drift`` when their twitches come in runs in time
    (see ``drift_runs_z``)."""
    drift_runs_z: float = 3.5
    """Two clusters of one shape at different sizes are one drifting unit when their twitches come one
    group before the other: the Wald-Wolfowitz runs test of their time order, z at most -this. Two units
    firing independently interleave at random and stay apart: one-sided p = 2e-4 per pair compared (at
    2.33, 1 %, two simulated units 1.5 times apart merged in 3 of 100 recordings). A unit chopped by a
    drift of ±30-40 % over 80 twitches scores -8 to -9; 10 twitches before and 10 after, -4."""
    min_twitches: int = 3
    """A cluster seen fewer times is 'unassigned', not a unit of its own (issue 13)."""
    refine_passes: int = 2
    """Passes of 'recompute medians, reassign every waveform to its nearest template' after the first pass."""
    max_buffer_s: float = 600.0
    """Cap on the filtered signal kept while an episode is pending (s per channel); only a pending episode
    longer than this (a cramp of over 10 minutes) can lose a twitch's waveform, which then stays unassigned."""

    def __post_init__(self) -> None:
        windows = (self.core_before_s, self.core_after_s, self.wide_before_s, self.wide_after_s, self.align_smooth_s,
                   self.max_shift_s, self.peak_search_s, self.noise_window_s)
        if min(windows) <= 0 or self.core_before_s > self.wide_before_s or self.core_after_s > self.wide_after_s:
            raise InputError("motor_units windows must be positive, and the compared window (core_*) must lie "
                             "inside the described one (wide_*)")
        rules = (("noise_factor", self.noise_factor > 0, "positive"),
                 ("shape_tolerance", self.shape_tolerance >= 0, "at least 0"),
                 ("merge_tolerance", self.merge_tolerance >= 0, "at least 0"),
                 ("max_drift", self.max_drift >= 1.0, "a factor of at least 1"),
                 ("min_twitches", self.min_twitches >= 1, "at least 1"),
                 ("amplitude_neighbours", self.amplitude_neighbours >= 1, "at least 1"),
                 ("refine_passes", self.refine_passes >= 0, "at least 0"),
                 ("merge_shift_s", self.merge_shift_s >= 0, "at least 0"),
                 ("max_buffer_s", self.max_buffer_s > 0, "positive"))
        failed = [f"motor_units.{name} must be {rule}, not {getattr(self, name)}" for name, ok, rule in rules if not ok]
        if failed:
            raise InputError("; ".join(failed))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
