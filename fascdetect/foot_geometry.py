"""Where each region sits on a drawn foot: one geometry for the monitor's foot map and the report's SVG.

Coordinates are in foot units: x from the medial edge (0) to the lateral
edge (1), y from the toe tips (0) to the heel (1); the leg is drawn below
the heel (y > 1). ``top`` is the dorsal view with the shin, ``sole`` the
plantar view with the calf.
"""

from __future__ import annotations

SHAPES: dict[str, tuple[str, float, float, float, float]] = {
    "EHL": ("top", 0.22, 0.28, 0.22, 0.34),
    "EDB": ("top", 0.62, 0.52, 0.38, 0.24),
    "PER": ("top", 0.90, 0.80, 0.16, 0.34),
    "TA": ("top", 0.40, 1.16, 0.42, 0.18),
    "FHL": ("sole", 0.20, 0.12, 0.24, 0.17),
    "AbH": ("sole", 0.16, 0.60, 0.20, 0.40),
    "FDB": ("sole", 0.50, 0.52, 0.30, 0.38),
    "ADM": ("sole", 0.86, 0.64, 0.18, 0.42),
    "GAS": ("sole", 0.50, 1.16, 0.56, 0.18),
}
"""Region code -> (view, centre x, centre y, width, height)."""

OUTLINE: tuple[tuple[float, float], ...] = (
    (0.05, 0.06), (0.18, 0.0), (0.35, 0.03), (0.55, 0.07), (0.75, 0.12), (0.92, 0.22), (1.0, 0.38),
    (1.0, 0.60), (0.95, 0.80), (0.88, 0.95), (0.70, 1.02), (0.45, 1.02), (0.25, 0.95), (0.18, 0.80),
    (0.10, 0.62), (0.02, 0.42), (0.0, 0.22),
)
"""Outline of a right foot (medial edge at x = 0), toes up."""
