"""Time spans as (start, end) pairs in seconds: how much of the time they cover together."""

from __future__ import annotations

from typing import Sequence


def union_s(spans: Sequence[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) spans."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total
