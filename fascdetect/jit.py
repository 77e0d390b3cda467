"""Compiled loops where numba is installed: the segmenter's per-bin recursions run as machine code.

The detector's sequential parts (a run's decaying peak hold and its
discharges, the noise floor's frame-by-frame recursion) are written twice: as
whole-chunk numpy (the fallback, tested against the loops) and as plain loops
that numba compiles at their first call and caches on disk (``cache=True``).
A later process still pays ~0.5 s to load numba and its cached code, which
long recordings earn back (``docs/benchmarks.md``). Set
``FASCDETECT_NO_JIT=1`` to run the numpy path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

numba: Any = None
if os.environ.get("FASCDETECT_NO_JIT", "") in ("", "0"):
    try:
        import numba
    except ImportError:  # numba is optional: the numpy path gives the same events
        pass

ENABLED = numba is not None
"""Whether the compiled kernels exist and are used by default (each processor also takes ``compiled=``)."""


def kernel(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """``fn`` compiled lazily with numba (nopython, cached), or None without numba."""
    if numba is None:
        return None
    return numba.njit(cache=True, nogil=True)(fn)
