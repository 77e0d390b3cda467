"""Min/max columns drawn straight into pixels, one image per rate group and foot.

Stroking a 20 000-point polyline each frame is what made a naive trace view
cost most of a core. Each pixel column of a lane is already reduced to its
minimum and maximum, so drawing it is filling that vertical span: a few
numpy operations into an RGBA image that Qt blits unscaled.
"""

from __future__ import annotations

import numpy as np


def lane_image(lo: np.ndarray, hi: np.ndarray, lanes: list[int], n_lanes: int, lane_px: int,
               colours: list[tuple[int, int, int]], fill: float) -> np.ndarray:
    """RGBA image (rows bottom-up, as pyqtgraph maps row 0 to the lowest y) of ``n_lanes`` lanes.

    ``lo``/``hi`` are channels × columns in lane units (−1..1); channel k is
    drawn in lane ``lanes[k]`` (0 = top lane) in ``colours[k]``, using
    ``fill`` of the half-lane height. Adjacent columns are joined (each span
    reaches the neighbour's), as the line between them would be, so steep
    slopes stay continuous. Transparent elsewhere.
    """
    n_cols = lo.shape[1]
    image = np.zeros((n_lanes * lane_px, n_cols, 4), np.uint8)
    if n_cols == 0:
        return image
    lo, hi = (np.minimum(lo, np.concatenate([hi[:, :1], hi[:, :-1]], axis=1)),
              np.maximum(hi, np.concatenate([lo[:, :1], lo[:, :-1]], axis=1)))
    centre = lane_px / 2
    row_lo = np.floor(centre + np.clip(lo, -1, 1) * fill * lane_px)[:, None, :]
    row_hi = np.floor(centre + np.clip(hi, -1, 1) * fill * lane_px)[:, None, :]
    rows = np.arange(lane_px, dtype=np.float64)[None, :, None]
    inked = (rows >= row_lo) & (rows <= row_hi)  # channels × lane rows (bottom-up) × columns
    for k, lane in enumerate(lanes):
        bottom = (n_lanes - 1 - lane) * lane_px
        image[bottom:bottom + lane_px][inked[k]] = (*colours[k], 255)
    return image
