"""Monitor drawing cost, twitch-to-screen latency and memory: not a test, a measurement for the README.

1. Frame rate, CPU and latency, real-time pacing, window 1500×950
   offscreen, 10 s trace window, for two sources:
   - ``default``: the default simulator (``fascdetect monitor`` with no
     ``--source``: scenario "rest", 10 EMG at 2 kHz + 12 ACC axes at 400 Hz);
   - ``16emg``: the simulated wearable with 8 EMG regions per foot (16 EMG
     at 2 kHz) and 2 accelerometers per foot (12 axes at 400 Hz), "post-exercise".
   Reports frames/s, the UI thread's CPU (all drawing happens there) as % of
   one core and as ms of CPU per frame (less disturbed by other work on a
   shared machine than wall-time figures), the whole process (worker:
   simulator + pipeline), and the twitch-to-screen latency: from the arrival
   of the block holding a twitch's last sample to the repaint of the foot
   map that shows it (the figure ``fascdetect monitor --duration`` prints).
2. Memory: the "night" scenario replayed for ``--memory-s`` seconds of
   signal at ``--speed`` (default 10×), RSS sampled as it runs, with a
   least-squares trend in MB per hour of signal.

``--root DIR`` measures another checkout's monitor (e.g. the code before a
change, from ``git archive``) with this same harness; results go to
``benchmarks/results/gui[-NAME].json``.

    .venv/bin/python benchmarks/gui_frame_rate.py [--seconds 30] [--memory-s 7200] [--speed 10] [--root DIR --name before]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parents[1]


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement length per source (wall s)")
    parser.add_argument("--sources", default="default,16emg", help="which sources to measure (comma-separated)")
    parser.add_argument("--memory-s", type=float, default=7200.0, help="signal seconds for the memory run (0: skip)")
    parser.add_argument("--speed", type=float, default=10.0, help="replay speed of the memory run")
    parser.add_argument("--root", type=Path, default=HERE, help="checkout whose gui/ and fascdetect/ are measured")
    parser.add_argument("--name", default="", help="suffix of the results file (gui-NAME.json)")
    return parser.parse_args()


ARGS = _args() if __name__ == "__main__" else None
sys.path.insert(0, str((ARGS.root if ARGS else HERE).resolve()))
sys.path.insert(1, str(HERE))

import numpy as np  # noqa: E402

from fascdetect.commands._sources import open_cli_source  # noqa: E402
from fascdetect.sources.replay import ReplaySource  # noqa: E402
from firmware_sim.generator import Generator  # noqa: E402
from firmware_sim.scenarios import SimMontage, get_scenario  # noqa: E402
from gui.app import WINDOW_SIZE, application, measure  # noqa: E402
from gui.main_window import MonitorWindow  # noqa: E402

MONTAGE = SimMontage(emg_regions=("AbH", "FDB", "ADM", "EDB", "PER", "FHL", "EHL", "TA"), acc_regions=("ADM", "AbH"),
                     emg_fs_hz=2000, acc_fs_hz=400)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def new_window() -> MonitorWindow:
    window = MonitorWindow(lambda spec: None, ())
    window.resize(*WINDOW_SIZE)
    window.show()
    return window


def open_source(window: MonitorWindow, which: str, speed: float = 1.0, duration_s: float | None = None) -> str:
    if which == "default":
        window.start_session(lambda: open_cli_source("sim" if speed == 1.0 else f"sim@{speed:g}"), "sim")
        return "default simulator (scenario rest): 10 EMG @2 kHz + 12 ACC @400 Hz"
    scenario = "post-exercise" if which == "16emg" else which
    sc = get_scenario(scenario).with_(montage=MONTAGE)
    window.start_session(lambda: ReplaySource(Generator(sc, seed=1, duration_s=duration_s), speed=speed),
                         f"sim:{scenario} 16 EMG @2 kHz + 12 ACC @400 Hz, {speed:g}x")
    return f"sim:{scenario}: 16 EMG @2 kHz + 12 ACC @400 Hz"


def latency_figures(window: MonitorWindow, first: int = 0) -> dict:
    meter = getattr(window, "latency", None)
    if meter is None:
        return {"n": 0, "note": "this monitor does not measure it"}
    ms = np.asarray(meter.latencies_s[first:]) * 1e3
    provisional = np.asarray(meter.provisional[first:], bool)
    out = {"n": int(ms.size)}

    def stats(v: np.ndarray) -> dict:
        return ({"median_ms": round(float(np.median(v)), 1), "p99_ms": round(float(np.percentile(v, 99)), 1),
                 "max_ms": round(float(v.max()), 1), "n": int(v.size)} if v.size else {"n": 0})

    out.update(stats(ms))
    out["shown_provisional"] = stats(ms[provisional])
    out["shown_when_final"] = stats(ms[~provisional])
    # Where the time goes: waiting in the pipeline (block arrival until the twitch is in a snapshot) and
    # the display (snapshot until the repaint: frame timer wait and painting).
    display = np.asarray(getattr(meter, "display_s", [])[first:]) * 1e3
    if display.size == ms.size:
        out["pipeline_part"] = stats(ms - display)
        out["display_part"] = stats(display)
    book = window.book
    out["book"] = {"confirmed": book.confirmed, "withdrawn": book.withdrawn_total, "shown": book.shown_total}
    return out


def frame_rate(which: str, seconds: float) -> dict:
    window = new_window()
    description = open_source(window, which)
    measure(window, 5.0)  # past the pipeline's 2 s priming and the first layouts
    meter = getattr(window, "latency", None)
    first = len(meter.latencies_s) if meter is not None else 0
    load0 = os.getloadavg()[0]
    figures = measure(window, seconds)
    frames = figures.frames_per_s * figures.seconds
    channels = window.session.channels
    out = {
        "source": description, "channels": len(channels), "seconds": round(figures.seconds, 1),
        "frames_per_s": round(figures.frames_per_s, 1),
        "ui_cpu_pct": round(figures.ui_cpu_pct, 1),
        "ui_cpu_ms_per_frame": round(figures.ui_cpu_pct / 100 * figures.seconds / max(frames, 1) * 1e3, 2),
        "process_cpu_pct": round(figures.process_cpu_pct, 1),
        "trace_points_per_frame": round(figures.points_per_frame),
        "load_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "latency": latency_figures(window, first),
    }
    print(f"{which}: {description}; {len(channels)} channels, {WINDOW_SIZE[0]}x{WINDOW_SIZE[1]} px\n"
          f"  {figures.line()}; {out['ui_cpu_ms_per_frame']} ms UI CPU per frame; load {out['load_1min']}\n"
          f"  latency: {out['latency']}", flush=True)
    window.close()
    return out


def memory(signal_s: float, speed: float) -> dict:
    window = new_window()
    open_source(window, "night", speed, signal_s)
    wall_s = signal_s / speed
    print(f"memory: {signal_s:g} s of signal at {speed:g}x ({wall_s / 60:.1f} min), RSS in MB:", flush=True)
    measure(window, min(10.0, wall_s / 10))
    samples = []
    t0 = time.monotonic()
    while window.session.running:
        figures = measure(window, max(5.0, wall_s / 24))
        status = window.session.status()
        events = sum(c.twitches + c.bursts + c.cramps for c in window.tally.counts.values())
        samples.append({"signal_min": round(status.data_s / 60, 1), "rss_mb": round(rss_mb(), 1), "events": events,
                        "frames_per_s": round(figures.frames_per_s, 1), "ui_cpu_pct": round(figures.ui_cpu_pct, 1)})
        print(f"  signal {status.data_s / 60:6.1f} min  RSS {samples[-1]['rss_mb']:7.1f} MB  events {events:6d}  "
              f"{figures.frames_per_s:.0f} fps, UI {figures.ui_cpu_pct:.0f}%, process {figures.process_cpu_pct:.0f}%",
              flush=True)
    window.close()
    # The first samples include start-up growth (allocator pools, Qt caches); the trend is over the second half.
    later = samples[len(samples) // 2:]
    x = np.array([s["signal_min"] for s in later]) / 60
    y = np.array([s["rss_mb"] for s in later])
    slope = float(np.polyfit(x, y, 1)[0]) if len(later) >= 2 and np.ptp(x) > 0 else float("nan")
    out = {"signal_s": signal_s, "speed": speed, "wall_min": round((time.monotonic() - t0) / 60, 1),
           "samples": samples, "trend_mb_per_signal_hour_second_half": round(slope, 2),
           "rss_first_last_mb": [samples[0]["rss_mb"], samples[-1]["rss_mb"]] if samples else []}
    print(f"  RSS {out['rss_first_last_mb']} MB; trend over the second half {slope:+.2f} MB per hour of signal")
    return out


def gui_state(root: Path) -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=root).stdout.strip()
        except OSError:
            return ""
    return {"root": str(root), "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_gui": git("status", "--porcelain", "--", "gui").splitlines()}


def _machine():
    """This checkout's benchmarks/machine.py (with --root, ``benchmarks`` on the path is the other checkout's)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gui_bench_machine", HERE / "benchmarks" / "machine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    machine = _machine()
    args = ARGS
    started = machine.start()
    application()
    body = {"gui_code": gui_state(args.root), "window_px": list(WINDOW_SIZE), "trace_window_s": 10.0,
            "frame_rate": {which: frame_rate(which, args.seconds) for which in args.sources.split(",") if which}}
    if args.memory_s > 0:
        body["memory"] = memory(args.memory_s, args.speed)
    path = machine.write_result("gui" + (f"-{args.name}" if args.name else ""), body, started)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
