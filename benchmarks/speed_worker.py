"""One timed job in its own process, so its peak memory is its own: ``python -m benchmarks.speed_worker MODE PATH``.

Modes: ``read`` (the EDF reader alone), ``floor`` (reader + one 4th-order
``sosfilt`` band-pass with carried state: the least any streaming detector
must do), or a detector on an excerpt held in memory: ``pipeline`` (fed in
the reader's 10 s blocks, as ``analyze`` is) or ``peer`` (``--peer NAME``,
the whole excerpt per channel at once, as their APIs take it). Prints one JSON line with the compute seconds;
the parent measures wall time and peak RSS. fascdetect may use a second
thread for large blocks (one chain per foot), so CPU seconds are reported
beside wall seconds.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from scipy import signal

from fascdetect.io import open_recording
from fascdetect.model import Block

READER_BLOCK_S = 10.0


def _excerpt(path: str, start_s: float, seconds: float) -> Block:
    """``seconds`` of every channel from ``start_s`` (whole blocks of the reader), one block in memory."""
    src = open_recording(path)
    try:
        parts, first = [], None
        for b in src.blocks():
            if b.end / b.fs_hz <= start_s:
                continue
            first = b if first is None else first
            parts.append(b.data)
            if b.end / b.fs_hz >= start_s + seconds:
                break
    finally:
        src.close()
    data = np.concatenate(parts, axis=1)[:, :round(seconds * first.fs_hz)]
    return Block(first.channels, first.fs_hz, 0, np.ascontiguousarray(data))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("read", "floor", "pipeline", "peer"))
    p.add_argument("path")
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--peer", default="")
    p.add_argument("--threshold", type=float, default=None)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    out: dict = {"mode": args.mode}
    if args.mode in ("read", "floor"):
        t = time.perf_counter()
        src = open_recording(args.path)
        zi, samples = None, 0
        sos = None
        for b in src.blocks():
            samples += b.data.size
            if args.mode == "floor":
                if sos is None:
                    sos = signal.butter(2, (20.0, 450.0), "bandpass", fs=b.fs_hz, output="sos")
                    zi = np.zeros((sos.shape[0], b.data.shape[0], 2), np.float32)
                _, zi = signal.sosfilt(sos, b.data, axis=1, zi=zi)
        src.close()
        out.update(seconds=time.perf_counter() - t, samples=samples)
    else:
        block = _excerpt(args.path, args.start, args.seconds)
        t, cpu = time.perf_counter(), time.process_time()
        if args.mode == "pipeline":
            from fascdetect.pipeline import run_all

            step = round(READER_BLOCK_S * block.fs_hz)  # as `analyze` gets them from the EDF reader
            n = len(run_all((block.slice(i, i + step) for i in range(0, block.n, step)), block.channels))
        else:
            from benchmarks import peers

            detect = {"NeuroKit2 (public emg_activation)": peers.neurokit_public,
                      "BioSPPy Londral": lambda x, fs, th: peers.biosppy_method("londral", x, fs, th),
                      "BioSPPy Abbink": lambda x, fs, th: peers.biosppy_method("abbink", x, fs, th)}
            peer = next((q for q in peers.PEERS if q.name == args.peer), None)
            fn = peer.detect if peer else detect[args.peer]
            n = sum(len(fn(np.asarray(row, np.float64), block.fs_hz, args.threshold)) for row in block.data)
        out.update(seconds=time.perf_counter() - t, cpu_s=time.process_time() - cpu, events=n,
                   signal_s=block.n / block.fs_hz)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
