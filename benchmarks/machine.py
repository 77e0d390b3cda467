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


def git_state() -> dict[str, Any]:
    """HEAD and any uncommitted changes to the code under test (others may be editing the tree during a run)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=root).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    changed = git("status", "--porcelain", "--", "fascdetect", "firmware_sim")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": changed.splitlines() if changed else []}


def load() -> list[float]:
    """1/5/15-minute load averages: other work on a shared machine skews timings."""
    return [round(v, 2) for v in os.getloadavg()]


def start() -> dict[str, Any]:
    """What to note before a run: the load, and the code version that is about to be measured."""
    return {"load": load(), "code": git_state()}


def machine() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions(),
    }


def write_result(name: str, body: dict[str, Any], started: dict[str, Any]) -> Path:
    """``results/<name>.json`` with the machine record, and the load and code version at start (from
    :func:`start`) and end."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "machine": machine(), "load_start": started["load"], "load_end": load(),
           "code_start": started["code"], "code_end": git_state(), **body}
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

