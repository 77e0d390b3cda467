"""Session-wide test setup.

Lab Streaming Layer: every test (and every subprocess a test starts) runs
with ``LSLAPICFG`` naming ``tests/lsl_api_loopback.cfg``, which keeps stream
discovery and data on 127.0.0.1. It is set here, when pytest loads this file
and so before any test module can import pylsl (liblsl reads the variable
once, at its first use), and the session fixture keeps it so.

Compiled kernels: numba compiles them at their first call in a fresh
checkout (a few seconds) and caches them on disk; a session fixture runs a
short pipeline first, so no test with a timeout pays for the compilation.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LSL_LOOPBACK_CFG = Path(__file__).with_name("lsl_api_loopback.cfg")


def _keep_lsl_on_loopback() -> None:
    os.environ["LSLAPICFG"] = str(LSL_LOOPBACK_CFG)


_keep_lsl_on_loopback()


@pytest.fixture(scope="session", autouse=True)
def lsl_loopback_config() -> Path:
    """The liblsl configuration every test uses (set before pylsl is imported)."""
    _keep_lsl_on_loopback()
    return LSL_LOOPBACK_CFG


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels() -> None:
    """Compile (or load) numba's kernels before any test runs, on 3 s of two EMG channels' noise."""
    import numpy as np

    from fascdetect.model import Block
    from fascdetect.pipeline import run_all
    from tests.signals import emg_channels

    channels = emg_channels(["EMG L-AbH", "EMG L-FDB"])
    x = np.random.default_rng(0).normal(0, 3, (2, 6000)).astype(np.float32)
    run_all([Block(channels, 2000.0, 0, x)], channels)
