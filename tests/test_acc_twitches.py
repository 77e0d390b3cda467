"""Accelerometer-only twitches (hypothesis): a region's vibration is found along any direction, sensor noise never."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fascdetect.pipeline import run_all
from firmware_sim.physiology import MmgShape
from tests.signals import chunked, emg_channels, noise

ACC_HZ = 400.0
ACC = emg_channels([f"ACC R-ADM-{axis}" for axis in "XYZ"], ACC_HZ)
ONSETS_S = (4.0, 7.0, 10.0, 13.0, 16.0)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

directions = st.tuples(*[st.floats(-1.0, 1.0)] * 3).filter(lambda d: np.linalg.norm(d) > 0.2)


@SLOW
@given(seed=st.integers(0, 10_000), noise_mg=st.floats(0.2, 2.0), snr=st.floats(6.0, 30.0),
       shapes=st.lists(st.tuples(st.floats(10.0, 40.0), st.floats(0.05, 0.3), directions),
                       min_size=len(ONSETS_S), max_size=len(ONSETS_S)))
def test_a_twitch_vibration_is_found_whatever_its_direction(seed, noise_mg, snr, shapes):
    """A damped 10-40 Hz vibration peaking at 6x or more the per-axis noise, in any direction, is one twitch on
    its region, near its onset."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 20.0, noise_mg, ACC_HZ)
    for onset_s, (freq_hz, duration_s, direction) in zip(ONSETS_S, shapes):
        d = np.asarray(direction) / np.linalg.norm(direction)
        wave = MmgShape(freq_hz, duration_s / 4, 0.0, tuple(d)).sample(ACC_HZ)
        i = int(onset_s * ACC_HZ)
        x[:, i:i + wave.size] += (snr * noise_mg * d[:, None] * wave).astype(np.float32)
    twitches = [e for e in run_all(chunked(ACC, x, [137, 400, 61]), ACC) if e.kind == "twitch"]
    assert len(twitches) == len(ONSETS_S), twitches
    assert all(e.region == "ADM" and abs(e.onset_s - t) < 0.03 for e, t in zip(twitches, ONSETS_S)), twitches


@SLOW
@given(seed=st.integers(0, 10_000), noise_mg=st.floats(0.1, 5.0), tilt=st.floats(0.0, 1.0))
def test_sensor_noise_alone_gives_no_twitch(seed, noise_mg, tilt):
    """Five minutes of the sensor's own noise, unequal across its axes (``tilt``), give no twitch."""
    rng = np.random.default_rng(seed)
    x = noise(rng, 3, 300.0, noise_mg, ACC_HZ) * np.array([[1.0], [1.0 - 0.5 * tilt], [1.0 + tilt]], np.float32)
    assert not [e for e in run_all(chunked(ACC, x, [4000]), ACC) if e.kind == "twitch"]
