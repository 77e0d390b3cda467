"""``fascdetect scan``: list compatible wearables in range (name, address, signal strength, battery)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "scan", help="list nearby fascdetect wearables",
        description="Scan for Bluetooth LE wearables that offer the fascdetect sample service and list their "
                    "name, address, signal strength (RSSI) and battery level. Use a name or address with "
                    "--source ble:NAME_OR_ADDRESS.")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to listen (default 5)")
    return p


def run(args: argparse.Namespace) -> int:
    import asyncio

    from fascdetect.errors import InputError
    from fascdetect.sources.ble import scan

    if not args.timeout > 0:
        raise InputError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    found = asyncio.run(scan(args.timeout))
    if not found:
        print(f"no wearables found in {args.timeout:g} s (is Bluetooth on, and the wearable charged and near?)")
        return 1
    rows = [("NAME", "ADDRESS", "RSSI", "BATTERY")] + [
        (d.name or "-", d.address, f"{d.rssi} dBm", "-" if d.battery_pct is None else f"{d.battery_pct}%") for d in found
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
