"""Min/max columns drawn straight into pixels, a few new columns per frame.

Stroking a 20 000-point polyline each frame is what made a naive trace view
cost most of a core, and rasterising the whole window again each frame still
cost a third of one. Each pixel column of a lane is reduced to its minimum
and maximum; drawing it is filling that vertical span. A column never
changes once its samples are in, so ``ColumnRing`` keeps the columns drawn
so far and each frame fills only the columns that completed since the last
one (about three at 30 frames/s).
"""

from __future__ import annotations

import numpy as np


def argb(colour: tuple[int, int, int]) -> int:
    """An opaque colour as one 32-bit ARGB pixel (QImage.Format_ARGB32_Premultiplied)."""
    r, g, b = colour
    return 0xFF000000 | r << 16 | g << 8 | b


def column_pixels(lo: np.ndarray, hi: np.ndarray, prev_lo: np.ndarray | None, prev_hi: np.ndarray | None,
                  lanes: list[int], n_lanes: int, lane_px: int, colours: np.ndarray, fill: float) -> np.ndarray:
    """ARGB pixels (uint32, rows top-down) of ``n_lanes`` stacked lanes for some columns.

    ``lo``/``hi`` are channels × columns in lane units (−1..1); channel k is
    drawn in lane ``lanes[k]`` (0 = top lane) in ``colours[k]`` (ARGB), using
    ``fill`` of the half-lane height. Each column's span reaches its left
    neighbour's (``prev_lo``/``prev_hi``: the column before the first, or
    None), as the line between them would, so steep slopes stay continuous.
    Transparent (0) elsewhere.
    """
    n_cols = lo.shape[1]
    out = np.zeros((n_lanes * lane_px, n_cols), np.uint32)
    if n_cols == 0 or lo.shape[0] == 0:
        return out
    left_hi = np.concatenate([hi[:, :1] if prev_hi is None else prev_hi[:, None], hi[:, :-1]], axis=1)
    left_lo = np.concatenate([lo[:, :1] if prev_lo is None else prev_lo[:, None], lo[:, :-1]], axis=1)
    lo, hi = np.minimum(lo, left_hi), np.maximum(hi, left_lo)
    centre = lane_px / 2
    top = np.floor(centre - np.clip(hi, -1, 1) * fill * lane_px)[:, None, :]
    bottom = np.floor(centre - np.clip(lo, -1, 1) * fill * lane_px)[:, None, :]
    rows = np.arange(lane_px, dtype=np.float64)[None, :, None]
    inked = (rows >= top) & (rows <= bottom)  # channels × lane rows (top-down) × columns
    pixels = np.where(inked, np.asarray(colours, np.uint32)[:, None, None], np.uint32(0))
    for k, lane in enumerate(lanes):
        out[lane * lane_px:(lane + 1) * lane_px] = pixels[k]
    return out


class ColumnRing:
    """The last ``n_cols`` pixel columns of a block of lanes, stored twice side by side.

    Column ``c`` (absolute: samples ``c·per_column`` … ``(c+1)·per_column``)
    lives at ``c % n_cols`` and again at ``c % n_cols + n_cols``, so the
    newest ``n_cols`` columns are always one contiguous slice of the buffer,
    drawn with a single blit however far the ring has wrapped.
    """

    def __init__(self, height_px: int, n_cols: int) -> None:
        self.n_cols = n_cols
        self.pixels = np.zeros((height_px, 2 * n_cols), np.uint32)
        self.end_col: int | None = None
        """One past the newest column written (absolute), None while empty."""

    def write(self, first_col: int, block: np.ndarray) -> None:
        """Columns ``first_col`` … ``first_col + block.shape[1]`` (the newest ones)."""
        n = block.shape[1]
        if n > self.n_cols:
            block, first_col, n = block[:, -self.n_cols:], first_col + n - self.n_cols, self.n_cols
        at = (first_col + np.arange(n)) % self.n_cols
        self.pixels[:, at] = block
        self.pixels[:, at + self.n_cols] = block
        self.end_col = first_col + n

    def clear(self) -> None:
        self.pixels.fill(0)
        self.end_col = None

    def newest_slice(self) -> int:
        """Buffer column where the newest ``n_cols`` columns start."""
        return 0 if self.end_col is None else self.end_col % self.n_cols
