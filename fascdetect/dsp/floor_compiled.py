"""The noise floor's frame recursion as a compiled loop (see ``fascdetect.jit``).

The floor is an order statistic, so the loop gives exactly what
``RunningFloor``'s numpy path gives, with no numpy call per frame: that path
steps frame by frame (a few numpy calls each) from the first frame any lane
rejects, which during a cramp or movement is every frame.
"""

from __future__ import annotations

import numpy as np

from fascdetect.jit import kernel


def _floor_frames(levels, bad, ring, pos, held, floor, reject, max_hold, out):
    """``RunningFloor.update`` for each column of ``levels`` in turn; ``out`` gets the floor before each."""
    n_lanes, k = levels.shape
    h = ring.shape[1]
    for lane in range(n_lanes):
        f = floor[lane]
        for j in range(k):
            out[lane, j] = f
            level = levels[lane, j]
            quiet = level <= reject * f
            if (quiet or held[lane] >= max_hold) and not bad[lane, j]:
                ring[lane, pos[lane] % h] = level
                pos[lane] += 1
                f = max(np.sort(ring[lane])[h // 2], np.float32(1e-6))  # h is odd: the median
            held[lane] = 0 if quiet or bad[lane, j] else held[lane] + 1
        floor[lane] = f


floor_frames = kernel(_floor_frames)
"""The compiled floor recursion, or None without numba."""
