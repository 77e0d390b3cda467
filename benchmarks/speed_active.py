"""The active hour of issue 11, its floor, and where the time goes: ``python benchmarks/speed_active.py MODE PATH``.

The recording: one hour, 6 EMG channels at 2000 sps (AbH, FDB, ADM on both
feet) and 3 ACC axes at 400 sps (left ADM), about 36 twitches per minute
(6 per region per minute, no clustering), cramps and movements at the rates
below, EDF+ written by ``fascdetect.io.edf_write.EdfWriter`` (~97 MB). It is
generated once (``make``, deterministic: seed 11) and then read by every
timed run; the right foot's accelerometer is dropped so the file has the
issue's 6 + 3 channels.

``floor`` is the least a streaming detector has to do with the same file in
the same run: the EDF reader's 10 s blocks plus one 4th-order Butterworth
band-pass (``scipy.signal.sosfilt`` with carried state) over every channel,
20-450 Hz for EMG and 1-100 Hz for the 400 sps ACC (450 Hz is above its
Nyquist rate). ``speed_worker.py floor`` keeps one filter state and so
assumes a single sampling rate; this one keeps a state per rate group.

``parts`` runs the pipeline over the file in one process (as ``analyze
--workers 1``) and prints the inclusive wall seconds of its main parts,
measured by wrapping those methods in this process (no profiler, no change
to fascdetect). ``episode N...`` times ``classify_episode`` on one synthetic
episode of N brief EMG activities (two channels, 0.45 s apart), to show how
classification scales with the size of an episode (PATH is ignored).

Run as a script (not ``-m``), so that ``PYTHONPATH`` alone chooses which
fascdetect is measured (a worktree of an older commit, or this one). The
timing itself is done from outside, whole process: start-up and imports
count, as for a user of ``fascdetect analyze``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

SEED = 11
HOURS = 1.0
REGIONS = ("AbH", "FDB", "ADM")
TWITCHES_PER_REGION_PER_MIN = 6.0
"""6 EMG regions (3 per foot) x 6 per minute = 36 twitches per minute."""
CRAMPS_PER_FOOT_PER_H = 8.0
MOVEMENTS_PER_FOOT_PER_H = 6.0
ACC_KEPT_SIDE = "L"


def scenario():
    from firmware_sim.scenarios import SimMontage, get_scenario

    montage = SimMontage(sides=("L", "R"), emg_regions=REGIONS, acc_regions=("ADM",), emg_fs_hz=2000, acc_fs_hz=400)
    return get_scenario("night").with_(
        name="active-hour", montage=montage, clustering=None, clustered_regions=(),
        twitch_rate_per_min={r: TWITCHES_PER_REGION_PER_MIN for r in REGIONS},
        cramp_rate_per_h=CRAMPS_PER_FOOT_PER_H, cramp_regions=("FDB", "AbH", "ADM"),
        movement_rate_per_h=MOVEMENTS_PER_FOOT_PER_H, movement_both_feet_probability=0.3)


def make(path: Path, hours: float = HOURS) -> dict:
    """Write the recording (if it is not there yet); what the simulator put in it."""
    from fascdetect.io.edf_write import EdfWriter
    from fascdetect.model import Block
    from firmware_sim.generator import Generator

    info_path = path.with_suffix(".truth.json")
    if path.exists() and info_path.exists():
        return json.loads(info_path.read_text())
    gen = Generator(scenario(), seed=SEED, duration_s=hours * 3600)
    keep = tuple(c for c in gen.channels if c.placement.modality == "EMG" or c.placement.side == ACC_KEPT_SIDE)
    tmp = path.with_suffix(".partial.edf")
    t = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with EdfWriter(tmp, keep, gen.start, overwrite=True) as writer:
        for block in gen.blocks(10.0):
            rows = [i for i, c in enumerate(block.channels) if c in keep]
            if rows:
                writer.write(Block(tuple(block.channels[i] for i in rows), block.fs_hz, block.start, block.data[rows]))
    tmp.rename(path)
    truth = [t for t in gen.truth if t.kind in ("twitch", "cramp", "movement", "burst")] if hasattr(gen, "truth") else []
    info = {"seconds": hours * 3600, "seed": SEED, "channels": [c.label for c in keep],
            "bytes": path.stat().st_size, "generated_in_s": round(time.perf_counter() - t, 1),
            "truth": dict(Counter(t.kind for t in truth))}
    if truth:
        info["truth_twitches_per_min"] = round(info["truth"].get("twitch", 0) / (hours * 60), 1)
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    return info


def floor(path: Path) -> dict:
    import numpy as np
    from scipy import signal

    from fascdetect.io import open_recording

    t = time.perf_counter()
    src = open_recording(str(path))
    state: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}
    samples = 0
    for b in src.blocks():
        key = (b.fs_hz, b.data.shape[0])
        if key not in state:
            band = (20.0, 450.0) if b.fs_hz >= 1000 else (1.0, min(100.0, 0.45 * b.fs_hz))
            sos = signal.butter(2, band, "bandpass", fs=b.fs_hz, output="sos")
            state[key] = (sos, np.zeros((sos.shape[0], b.data.shape[0], 2), np.float32))
        sos, zi = state[key]
        _, zi = signal.sosfilt(sos, b.data, axis=1, zi=zi)
        state[key] = (sos, zi)
        samples += b.data.size
    src.close()
    return {"mode": "floor", "seconds": time.perf_counter() - t, "samples": samples}


PARTS = (("fascdetect.dsp.filters", "StreamingSos", "__call__"), ("fascdetect.dsp.envelope", "BinnedEnvelope", "__call__"),
         ("fascdetect.detect.segmenter", "Segmenter", "_floors"), ("fascdetect.detect.segmenter", "RunTracker", "feed"),
         ("fascdetect.detect.segmenter", "RunTracker", "_discharges"), ("fascdetect.detect.segmenter", "LocalReference", "feed"),
         ("fascdetect.detect.segmenter", "LocalReference", "_swings"), ("fascdetect.pipeline", "_Chain", "activities"),
         ("fascdetect.pipeline", "Pipeline", "_finalize"), ("fascdetect.pipeline", None, "split_episodes"),
         ("fascdetect.pipeline", None, "classify_episode"), ("fascdetect.detect.classify", None, "_merge_discharges"),
         ("fascdetect.detect.classify", None, "_drop_crosstalk"), ("fascdetect.detect.classify", None, "_movements"),
         ("fascdetect.detect.classify", None, "_classify_channel"), ("fascdetect.detect.classify", None, "_crowded"),
         ("fascdetect.detect.classify", None, "_gait"))


def parts(path: Path) -> dict:
    import functools
    import importlib

    seconds: dict[str, float] = {}
    calls: dict[str, int] = {}

    def wrap(owner, name: str, label: str) -> None:
        f = getattr(owner, name)

        @functools.wraps(f)
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t
                calls[label] = calls.get(label, 0) + 1

        setattr(owner, name, timed)

    for module, cls, name in PARTS:
        owner = importlib.import_module(module)
        owner = getattr(owner, cls, None) if cls else owner
        if owner is not None and hasattr(owner, name):  # the older commit lacks the rest-state parts
            wrap(owner, name, f"{cls}.{name}" if cls else name)
    from fascdetect.config import DetectorConfig
    from fascdetect.io import open_recording
    from fascdetect.pipeline import Pipeline

    t, cpu = time.perf_counter(), time.process_time()
    src = open_recording(str(path))
    pipe = Pipeline(src.channels, DetectorConfig())
    n = sum(len(pipe.feed(b).events) for b in src.blocks()) + len(pipe.flush())
    src.close()
    return {"mode": "parts", "seconds": round(time.perf_counter() - t, 3), "cpu_s": round(time.process_time() - cpu, 3),
            "events": n, "parts": {k: {"s": round(v, 3), "calls": calls[k]}
                                   for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}}


def episode(sizes: list[int]) -> dict:
    import dataclasses

    from fascdetect.config import DetectorConfig
    from fascdetect.detect import classify

    config = DetectorConfig()
    names = getattr(classify.Activity, "_fields", None) or [f.name for f in dataclasses.fields(classify.Activity)]
    rest_state = "local" in names

    def act(channel: str, region: str, t: float, peak: float, local: float):
        extra = {"floor": 1.0, "local": local} if rest_state else {}
        return classify.Activity("emg", "L", region, channel, "uV", t, t + 0.006, peak, peak / 3, False, t + 0.003,
                                 peak, -0.8 * peak, **extra)

    out = {}
    for n in sizes:
        acts = []
        for k in range(n // 2):
            t = 1.0 + 0.9 * k
            # AbH: a clear potential, every other one on a raised local background; FDB: a low-level potential
            acts.append(act("EMG L-AbH", "AbH", t, 100.0, 3.0 if k % 2 == 0 else 1.0))
            acts.append(act("EMG L-FDB", "FDB", t + 0.45, 5.0, 1.0))
        t = time.perf_counter()
        classify.classify_episode(acts, frozenset({"AbH", "FDB", "ADM"}), config)
        out[str(n)] = round(time.perf_counter() - t, 3)
    return {"mode": "episode", "seconds_by_activities": out}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("make", "floor", "parts", "episode"))
    p.add_argument("path", type=Path)
    p.add_argument("sizes", nargs="*", type=int, default=[500, 1000, 2000, 4000, 8000])
    p.add_argument("--hours", type=float, default=HOURS, help="make: the recording's length (default 1)")
    args = p.parse_args()
    if args.mode == "episode":
        out = episode(args.sizes)
    elif args.mode == "make":
        out = make(args.path, args.hours)
    else:
        out = {"floor": floor, "parts": parts}[args.mode](args.path)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
