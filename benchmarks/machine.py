"""What a result was measured on: machine, load and package versions, stamped into every JSON file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PACKAGES = ("fascdetect", "numpy", "scipy", "pyEDFlib", "neurokit2", "biosppy", "peakutils", "pandas", "matplotlib")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def load() -> list[float]:
    """1/5/15-minute load averages: other work on a shared machine skews timings."""
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions(),
        "git_commit": git_commit(),
    }


def write_result(name: str, body: dict[str, Any], started_load: list[float]) -> Path:
    """``results/<name>.json`` with the machine record, the load when the run started and ended."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "load_start": started_load, "load_end": load(), **body}
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(dumps(doc) + "\n")
    return path


def dumps(doc: dict[str, Any]) -> str:
    """Indented JSON, except that each item of a ``cells`` list is one compact line (the raw per-cell scores)."""
    cells = doc.get("cells")
    text = json.dumps({k: v for k, v in doc.items() if k != "cells"}, indent=1)
    if cells is None:
        return text
    rows = ",\n  ".join(json.dumps(c, separators=(",", ":")) for c in cells)
    return text[:-2] + f',\n "cells": [\n  {rows}\n ]\n}}'

