"""Monitor drawing cost and memory: not a test, a measurement for the README.

1. Frame rate and CPU: 16 EMG channels at 2 kHz plus 12 accelerometer axes
   at 400 Hz (the simulated wearable with 8 EMG regions per foot), 10 s
   trace window, real-time pacing, window 1500×950 offscreen. Reports
   frames/s and the UI thread's CPU (all drawing happens there) as % of one
   core, and the whole process (worker: simulator + pipeline).
2. Memory: the same stream replayed for ``--memory-s`` seconds of signal
   (default one hour) at ``--speed`` (default 10×), RSS sampled as it runs.

    .venv/bin/python benchmarks/gui_frame_rate.py [--seconds 20] [--memory-s 3600] [--speed 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def open_window(scenario: str, speed: float, duration_s: float | None) -> MonitorWindow:
    window = MonitorWindow(lambda spec: None, ())
    window.resize(*WINDOW_SIZE)
    window.show()
    sc = get_scenario(scenario).with_(montage=MONTAGE)
    window.start_session(lambda: ReplaySource(Generator(sc, seed=1, duration_s=duration_s), speed=speed),
                         f"sim:{scenario} 16 EMG @2 kHz + 12 ACC @400 Hz, {speed:g}x")
    return window


def frame_rate(seconds: float) -> None:
    window = open_window("post-exercise", 1.0, None)
    measure(window, 5.0)  # past the pipeline's 2 s priming and the first layouts
    figures = measure(window, seconds)
    channels = window.session.channels
    print(f"frame rate: {len(channels)} channels ({sum(c.modality == 'EMG' for c in channels)} EMG at 2 kHz), "
          f"window {window.traces.window_s:g} s, {WINDOW_SIZE[0]}x{WINDOW_SIZE[1]} px")
    print(f"  {figures.line()}")
    window.close()


def memory(signal_s: float, speed: float) -> None:
    window = open_window("night", speed, signal_s)
    wall_s = signal_s / speed
    print(f"memory: {signal_s:g} s of signal at {speed:g}x ({wall_s / 60:.1f} min), RSS in MB:")
    measure(window, min(10.0, wall_s / 10))
    samples = []
    t0 = time.monotonic()
    while window.session.running:
        figures = measure(window, max(5.0, wall_s / 12))
        status = window.session.status()
        samples.append((status.data_s, rss_mb()))
        print(f"  signal {status.data_s / 60:6.1f} min  RSS {samples[-1][1]:7.1f} MB  "
              f"events {sum(c.twitches + c.bursts + c.cramps for c in window.tally.counts.values()):6d}  "
              f"{figures.frames_per_s:.0f} fps, UI {figures.ui_cpu_pct:.0f}%, process {figures.process_cpu_pct:.0f}%",
              flush=True)
    first, last = samples[0], samples[-1]
    print(f"  RSS from {first[1]:.1f} MB at {first[0] / 60:.1f} min to {last[1]:.1f} MB at {last[0] / 60:.1f} min "
          f"({last[1] - first[1]:+.1f} MB) in {(time.monotonic() - t0) / 60:.1f} min")
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="frame-rate measurement length (wall s)")
    parser.add_argument("--memory-s", type=float, default=3600.0, help="signal seconds for the memory run (0: skip)")
    parser.add_argument("--speed", type=float, default=10.0, help="replay speed of the memory run")
    args = parser.parse_args()
    application()
    frame_rate(args.seconds)
    if args.memory_s > 0:
        memory(args.memory_s, args.speed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
