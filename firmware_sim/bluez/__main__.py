"""Run the simulated wearable on a private stand-in BlueZ until Ctrl-C, for demos.

    python -m firmware_sim.bluez --scenario rest
    # then, in another shell, export the printed variables and e.g.
    fascdetect scan
    fascdetect record --source ble:FascSense-sim --out demo.edf
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading

from fascdetect.errors import FascdetectError
from firmware_sim.bluez import start_private_bluez
from firmware_sim.device import DeviceConfig, LinkFaults


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware_sim.bluez", description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="rest", help="simulator scenario (default rest)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    p.add_argument("--name", default=DeviceConfig.name, help="advertised device name")
    p.add_argument("--address", default=DeviceConfig.address)
    p.add_argument("--payload", type=int, default=DeviceConfig.payload_bytes, help="largest notification payload the device offers, ATT_MTU − 3 (20–244)")
    p.add_argument("--loss", type=float, default=0.0, help="random packet loss probability")
    p.add_argument("--drop-every", type=float, default=0.0, metavar="S",
                   help="drop the link every S seconds of device time (0: never)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    drops = tuple(args.drop_every * k for k in range(1, 10_000)) if args.drop_every > 0 else ()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # before anything is printed: a caller may stop us at once
    try:
        handle = start_private_bluez(
            args.scenario, seed=args.seed, speed=args.speed,
            config=DeviceConfig(name=args.name, address=args.address, payload_bytes=args.payload),
            faults=LinkFaults(loss=args.loss, disconnect_at_s=drops),
        )
    except FascdetectError as exc:
        print(f"firmware_sim.bluez: {exc}", file=sys.stderr)
        return exc.exit_code
    for key, value in handle.env.items():
        print(f"export {key}={shlex.quote(value)}")
    print(f"# {handle.name} ({handle.address}) is advertising; Ctrl-C to stop", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
