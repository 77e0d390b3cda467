"""Medians along the last axis, as ``np.median`` gives them, in one partition instead of two.

The segmenter takes a median of every noise frame and of every reference window around a brief
segment (hundreds of thousands an hour). ``np.median`` partitions an even-length axis at both
middle positions, which is about 4 × slower than one partition: the lower middle value is the
largest one below the upper middle.
"""

from __future__ import annotations

import numpy as np


def medians(x: np.ndarray) -> np.ndarray:
    """Median along the last axis, in ``x``'s dtype: the middle value, or the mean of the two middle ones
    (exactly ``np.median``'s, for input without NaN)."""
    n = x.shape[-1]
    upper = np.partition(x, n // 2, axis=-1)
    if n % 2:
        return upper[..., n // 2]
    return (upper[..., :n // 2].max(axis=-1) + upper[..., n // 2]) / x.dtype.type(2)
