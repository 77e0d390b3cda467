"""Start-up stays light: ``fascdetect --help`` and every ``SUBCOMMAND --help`` load no heavy package.

Structural, not timed (timings are in ``python -m benchmarks startup``): each
help runs the real CLI in a fresh interpreter, which then lists the modules it
loaded. Every command module is imported to build the parser, so a heavy import
at the top of any command, or in a module its ``add_parser`` needs, shows up
here for every command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fascdetect.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("scipy", "PySide6", "pyqtgraph", "bleak", "wfdb", "pyedflib", "tqdm", "numpy", "numba")
"""Packages a help text never needs. numpy alone costs about as much as the whole help may (twice a bare
``import numpy``), so it is here too; the detector, readers, GUI and radio load in ``run``."""

_PROBE = """
import contextlib, io, json, sys
from fascdetect.cli import main
out = io.StringIO()
code = None
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "stdout": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _probe(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def _help(*argv: str) -> dict:
    return _probe(*argv, "--help")


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})


@pytest.mark.parametrize("argv", [(), *((name,) for name in COMMANDS)], ids=lambda a: " ".join(a) or "fascdetect")
def test_help_loads_no_heavy_package(argv: tuple[str, ...]) -> None:
    probe = _help(*argv)
    assert probe["code"] == 0
    assert probe["stdout"].startswith("usage: fascdetect"), probe["stdout"][:200]
    assert not _heavy(probe["modules"]), (
        f"`{' '.join(('fascdetect', *argv, '--help'))}` imported {_heavy(probe['modules'])}: import them inside run() "
        "(see the note in fascdetect/cli.py)")


def test_show_config_loads_no_detector_or_reader(tmp_path: Path) -> None:
    """``analyze FILE --show-config`` prints the settings without opening FILE, so it needs no scipy or reader."""
    probe = _probe("analyze", str(tmp_path / "not-read.edf"), "--show-config")
    assert probe["code"] is None
    assert '"emg_band_hz"' in probe["stdout"]
    assert not _heavy(probe["modules"])


def test_help_texts_keep_data_from_light_modules() -> None:
    """The help still names what it named before the heavy imports moved: formats, scenarios, source forms."""
    from fascdetect.formats import SUPPORTED
    from fascdetect.sources.spec import SPEC_FORMS
    from firmware_sim.scenarios import SCENARIOS

    def flat(text: str) -> str:  # argparse re-wraps help text, also after hyphens
        return "".join(text.split())

    assert flat(SUPPORTED) in flat(_help("analyze")["stdout"])
    simulate = flat(_help("simulate")["stdout"])
    for name, scenario in SCENARIOS.items():
        assert flat(f"{name}: {scenario.description}") in simulate
    for command in ("monitor", "record"):
        assert flat(SPEC_FORMS) in flat(_help(command)["stdout"])
