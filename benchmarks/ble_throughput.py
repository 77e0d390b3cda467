"""Maximum sustained notification rate through real bleak and the stand-in BlueZ: ``python -m benchmarks.ble_throughput``.

The simulated wearable streams flat out (speed 0: paced only by the
round-trip backpressure that keeps D-Bus from overflowing) and a BleSource
receives, reassembles and scales every packet into Blocks, exactly as a
recording would. The signal is generated beforehand, so the figure is the
link's (quantising and packetising are inside it, synthesis is not). Both ends run in this one process on their own event-loop
threads, sharing the GIL, so the figure is a floor for a real adapter, where
bluetoothd does the stand-in's half in C. The requirement to beat is the
real-time rate of the montage (8 EMG at 2 kHz + 6 ACC at 100 Hz with
244-byte payloads ≈ 148 packets/s).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

from benchmarks import machine
from fascdetect import protocol
from fascdetect.sources.ble import BleOptions, BleSource
from firmware_sim.bluez import start_private_bluez
from firmware_sim.device import DeviceConfig
from firmware_sim.generator import Generator
from firmware_sim.scenarios import SimMontage

MONTAGE = SimMontage(emg_regions=("AbH", "FDB", "ADM", "PER"), acc_regions=("ADM",), acc_fs_hz=100)


def realtime_packets_per_s(payload_bytes: int) -> float:
    """Packets per second the montage needs at real time."""
    total = 0.0
    for n_channels, fs in ((8, MONTAGE.emg_fs_hz), (6, MONTAGE.acc_fs_hz)):
        per_packet, frames = protocol.packet_layout(n_channels, payload_bytes)
        total += fs / frames * -(-n_channels // per_packet)
    return total


def _close_when_received(handle, source: BleSource) -> None:
    while not (handle.peripheral.status.finished and source.stats.packets >= handle.peripheral.status.sent):
        time.sleep(0.01)
    source.close()


def measure(duration_s: float, payload_bytes: int, acquire_notify: bool) -> dict:
    # the signal is synthesised before the clock starts: this measures the link, not the physiology model
    gen = Generator("rest", seed=1, duration_s=duration_s, montage=MONTAGE)
    blocks = list(gen.blocks(1.0))
    handle = start_private_bluez(blocks=blocks, channels=gen.channels, speed=0,
                                 config=DeviceConfig(payload_bytes=payload_bytes))
    try:
        os.environ.update(handle.env)
        t0 = time.perf_counter()
        source = BleSource(handle.address, BleOptions(use_acquire_notify=acquire_notify))
        t_connected = time.perf_counter()
        threading.Thread(target=_close_when_received, args=(handle, source), daemon=True).start()
        samples = sum(block.data.size for block in source.blocks())
        elapsed = time.perf_counter() - t_connected
        packets = source.stats.packets
    finally:
        handle.stop()
    return {
        "payload_bytes": payload_bytes,
        "notify": "AcquireNotify" if acquire_notify else "StartNotify",
        "signal_s": duration_s,
        "connect_s": round(t_connected - t0, 3),
        "packets": packets,
        "wall_s": round(elapsed, 3),
        "packets_per_s": round(packets / elapsed),
        "samples_per_s": round(samples / elapsed),
        "realtime_packets_per_s": round(realtime_packets_per_s(payload_bytes), 1),
        "x_realtime": round(duration_s / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ble_throughput", description=__doc__.splitlines()[0])
    p.add_argument("--signal", type=float, default=120.0, metavar="S", help="seconds of signal per run (default 120)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    load = machine.load()
    runs = [measure(args.signal, payload, acquire) for payload in (protocol.MAX_PAYLOAD_BYTES, 100)
            for acquire in (False, True)]
    path = machine.write_result("ble_throughput", {"runs": runs}, load)
    print(f"{'payload':>7} {'notify':>13} {'packets/s':>10} {'needed':>7} {'x real time':>11}")
    for r in runs:
        print(f"{r['payload_bytes']:>7} {r['notify']:>13} {r['packets_per_s']:>10} {r['realtime_packets_per_s']:>7} {r['x_realtime']:>11}")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
