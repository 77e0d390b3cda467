"""Settings of the motor-unit sorter: one frozen dataclass, every value with its unit and reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
    max_gain: float = 1.3
    """A waveform may be up to this factor larger or smaller than its template at no cost: a unit's
    amplitude drifts by ±20 % over a night (electrode contact, temperature); its shape does not."""
    shape_tolerance: float = 0.2
    """Relative difference of shape allowed on top of noise (and gain), as a fraction of the template's
    norm. Simulated units of one muscle differ by 0.3-2; below about 0.2 they cannot be told apart."""
    merge_shift_s: float = 0.006
    """Templates (clean medians) are compared for merging at the best lag within ± this (s), wider than
    waveforms: a unit whose members were aligned on two different phases merges back into one."""
    merge_tolerance: float = 0.2
    """Two clusters merge when their templates differ by at most this fraction (plus their noise)."""
    min_twitches: int = 3
    """A cluster seen fewer times is 'unassigned', not a unit of its own (issue 13)."""
    refine_passes: int = 2
    """Passes of 'recompute medians, reassign every waveform to its nearest template' after the first pass."""
    max_buffer_s: float = 600.0
    """Cap on the filtered signal kept while an episode is pending (s per channel); only a pending episode
    longer than this (a cramp of over 10 minutes) can lose a twitch's waveform, which then stays unassigned."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
