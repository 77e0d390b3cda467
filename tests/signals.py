"""Small, explicit test signals for detector properties (independent of the simulator)."""

from __future__ import annotations

import numpy as np

from fascdetect.model import Block, Channel
from fascdetect.regions import parse_label

FS_HZ = 2000.0


def emg_channels(labels: list[str], fs_hz: float = FS_HZ) -> tuple[Channel, ...]:
    return tuple(Channel(label, parse_label(label), fs_hz) for label in labels)


def potential(fs_hz: float, duration_s: float = 0.012, amplitude_uv: float = 100.0) -> np.ndarray:
    """A biphasic motor-unit potential: one sine period under a Hann window."""
    n = max(4, int(round(duration_s * fs_hz)))
    return amplitude_uv * np.sin(np.linspace(0, 2 * np.pi, n)) * np.hanning(n)


def noise(rng: np.random.Generator, n_channels: int, duration_s: float, sd_uv: float = 3.0,
          fs_hz: float = FS_HZ) -> np.ndarray:
    return rng.normal(0.0, sd_uv, (n_channels, int(duration_s * fs_hz))).astype(np.float32)


def add_potential(x: np.ndarray, row: int, onset_s: float, amplitude_uv: float, fs_hz: float = FS_HZ) -> None:
    wave = potential(fs_hz, amplitude_uv=amplitude_uv)
    i = int(round(onset_s * fs_hz))
    x[row, i:i + wave.size] += wave[: x.shape[1] - i].astype(np.float32)


def add_cable_tug(x: np.ndarray, row: int, onset_s: float, peak_uv: float, rise_s: float, swing_hz: float,
                  decay_s: float, fs_hz: float = FS_HZ) -> None:
    """A tugged lead: a fast edge, then a slow swing decaying away (mostly below the EMG band)."""
    t = np.arange(int((5 * decay_s + rise_s) * fs_hz)) / fs_hz
    wave = (1.0 - np.exp(-t / rise_s)) * np.exp(-t / decay_s) * np.cos(2 * np.pi * swing_hz * t)
    wave *= peak_uv / np.max(np.abs(wave))
    i = int(round(onset_s * fs_hz))
    x[row, i:i + wave.size] += wave[: x.shape[1] - i].astype(np.float32)


def chunked(channels: tuple[Channel, ...], x: np.ndarray, sizes: list[int], start: int = 0) -> list[Block]:
    """Cut ``x`` into blocks of the given sizes (cycling), the last one taking the rest."""
    blocks, pos, i = [], 0, 0
    n = x.shape[1]
    while pos < n:
        size = sizes[i % len(sizes)] if sizes else n
        blocks.append(Block(channels, channels[0].fs_hz, start + pos, x[:, pos:pos + size]))
        pos += size
        i += 1
    return blocks
