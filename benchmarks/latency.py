"""Streaming latency: how long after a twitch's data arrives its event leaves the pipeline.

A simulated recording (10 EMG channels at 2000 sps and 12 accelerometer axes
at 400 sps, the 20 dB "both" twitch cell of the accuracy grid) is cut into live-sized chunks, each arriving when its last
sample is recorded. Chunks are fed in order and each ``feed`` is timed; a
queue model (a chunk starts when it has arrived and the previous one is done)
turns the measured compute times into the wall time an event would leave a
real-time pipeline, without sleeping through the recording. Two latencies per
twitch: from the arrival of the chunk holding its last sample, and from its
onset (what a user watching the monitor waits).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from benchmarks.accuracy import Cell
from fascdetect.pipeline import Pipeline

CHUNK_S = (0.02, 0.05, 0.1)
DURATION_S = 300.0
QUICK_DURATION_S = 120.0


def measure(chunk_s: float, duration_s: float) -> dict[str, Any]:
    from firmware_sim.generator import Generator

    cell = Cell("twitch", 20.0, 50, 2000, "both", duration_s, 3)
    gen = Generator(cell.scenario(), cell.seed, duration_s=duration_s)
    chunks = [c.blocks for c in gen.chunks(chunk_s)]
    pipe = Pipeline(gen.channels)
    finish = 0.0
    compute, after_end, after_onset = [], [], []
    for k, blocks in enumerate(chunks):
        arrival_s = (k + 1) * chunk_s
        start = max(arrival_s, finish)
        spent = 0.0
        for block in blocks:
            t = time.perf_counter()
            events = pipe.feed(block).events
            spent += time.perf_counter() - t
            for e in events:
                if e.kind != "twitch":
                    continue
                out_s = start + spent
                data_in_s = math.ceil(e.end_s / chunk_s - 1e-9) * chunk_s
                after_end.append(out_s - max(data_in_s, chunk_s))
                after_onset.append(out_s - e.onset_s)
        compute.append(spent)
        finish = start + spent
    pipe.flush()
    ms = lambda v, q: round(float(np.percentile(v, q)) * 1e3, 1) if len(v) else None  # noqa: E731
    return {
        "chunk_ms": round(chunk_s * 1e3), "twitches": len(after_end), "truth_twitches": sum(t.kind == "twitch" for t in gen.truth),
        "after_last_sample_ms": {"median": ms(after_end, 50), "p99": ms(after_end, 99), "max": ms(after_end, 100)},
        "after_onset_ms": {"median": ms(after_onset, 50), "p99": ms(after_onset, 99)},
        "feed_ms": {"median": ms(compute, 50), "p99": ms(compute, 99), "max": ms(compute, 100)},
        "backlog_s_at_end": round(max(0.0, finish - len(chunks) * chunk_s), 3),
    }


def run(quick: bool) -> dict[str, Any]:
    duration = QUICK_DURATION_S if quick else DURATION_S
    return {"quick": quick, "recording": "twitch cell, 20 dB, EMG (10 ch, 2000 sps) + ACC (12 axes, 400 sps), "
                                          f"{duration:g} s", "runs": [measure(c, duration) for c in CHUNK_S]}


def table(body: dict[str, Any]) -> str:
    lines = [f"Streaming latency ({body['recording']})",
             f"{'chunk ms':>9}{'twitches':>10}{'after data med/p99 ms':>24}{'after onset med/p99 ms':>25}"
             f"{'feed med/p99/max ms':>22}"]
    for r in body["runs"]:
        a, o, f = r["after_last_sample_ms"], r["after_onset_ms"], r["feed_ms"]
        lines.append(f"{r['chunk_ms']:>9}{r['twitches']:>10}{str(a['median']) + '/' + str(a['p99']):>24}"
                     f"{str(o['median']) + '/' + str(o['p99']):>25}{'/'.join(str(f[k]) for k in ('median', 'p99', 'max')):>22}")
    return "\n".join(lines)
