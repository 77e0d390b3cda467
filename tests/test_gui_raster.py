"""Min/max spans into pixels: every column shows its range, lanes never spill into each other."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gui.raster import lane_image

BLACK, GREEN = (0, 0, 0), (0, 120, 90)


def inked(image: np.ndarray) -> np.ndarray:
    return image[..., 3] == 255


def test_a_flat_trace_is_one_row_at_the_lane_centre():
    n = 50
    image = lane_image(np.zeros((1, n)), np.zeros((1, n)), [0], 1, 20, [BLACK], 0.46)
    assert image.shape == (20, n, 4)
    rows = np.flatnonzero(inked(image).any(axis=1))
    assert rows.tolist() == [10]


def test_a_spike_reaches_the_lane_edge_in_its_own_column():
    lo, hi = np.zeros((1, 30)), np.zeros((1, 30))
    hi[0, 12] = 5.0  # beyond the lane: clipped to its edge, never lost
    image = inked(lane_image(lo, hi, [0], 1, 40, [BLACK], 0.46))
    column = np.flatnonzero(image[:, 12])
    assert column.min() == 20 and column.max() == 20 + int(0.46 * 40)
    assert np.flatnonzero(image[:, 5]).tolist() == [20]


@settings(max_examples=40, deadline=None)
@given(n_cols=st.integers(1, 200), lane_px=st.integers(4, 40), seed=st.integers(0, 1000))
def test_lanes_stay_in_their_rows_and_columns_are_continuous(n_cols, lane_px, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=0.7, size=(2, 2 * n_cols))
    lo, hi = np.minimum(values[:, 0::2], values[:, 1::2]), np.maximum(values[:, 0::2], values[:, 1::2])
    image = lane_image(lo, hi, [0, 2], 3, lane_px, [BLACK, GREEN], 0.46)
    ink = inked(image)
    # Lane 0 is the top lane: the highest rows (rows run bottom-up); lane 1 was given no channel.
    top, middle, bottom = ink[2 * lane_px:], ink[lane_px:2 * lane_px], ink[:lane_px]
    assert not middle.any()
    assert top.any(axis=0).all() and bottom.any(axis=0).all(), "every column of a lane is drawn"
    assert (image[2 * lane_px:][top][:, :3] == BLACK).all() and (image[:lane_px][bottom][:, :3] == GREEN).all()
    for band in (top, bottom):
        rows = [np.flatnonzero(band[:, k]) for k in range(n_cols)]
        for k in range(n_cols):
            assert len(rows[k]) == rows[k][-1] - rows[k][0] + 1, "a column's span has no holes"
            if k:
                assert rows[k][0] <= rows[k - 1][-1] + 1 and rows[k][-1] >= rows[k - 1][0] - 1, "columns join up"
