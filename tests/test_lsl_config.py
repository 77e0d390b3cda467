"""The LSL tests never leave this machine: LSLAPICFG names the loopback configuration, and liblsl accepts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import LSL_LOOPBACK_CFG


def test_lslapicfg_names_the_loopback_file(lsl_loopback_config: Path) -> None:
    assert os.environ["LSLAPICFG"] == str(LSL_LOOPBACK_CFG) == str(lsl_loopback_config)
    text = LSL_LOOPBACK_CFG.read_text(encoding="utf-8")
    for line in ("ResolveScope = machine", "IPv6 = disable", "AddressesOverride = {127.0.0.1}",
                 "KnownPeers = {127.0.0.1}", "ListenAddress = 127.0.0.1"):
        assert line in text


def test_liblsl_loads_the_file_instead_of_its_defaults() -> None:
    """liblsl silently falls back to its lab-network defaults on a file it cannot parse: check its log says loaded."""
    code = "import pylsl; pylsl.StreamOutlet(pylsl.StreamInfo('cfg-check', 'EMG', 1, 100.0, 'float32', 'cfg'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert done.returncode == 0, done.stderr
    assert f"Configuration loaded from {LSL_LOOPBACK_CFG}" in done.stderr
    assert "Error parsing config file" not in done.stderr
