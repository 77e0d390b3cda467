"""Min/max spans into pixels: every column shows its range, lanes never spill, and drawing a few
columns per frame gives exactly the picture of drawing the whole window at once."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gui.raster import ColumnRing, argb, column_pixels
from gui.ring import SampleRing, minmax_decimate

BLACK, GREEN = argb((0, 0, 0)), argb((0, 120, 90))


def test_a_flat_trace_is_one_row_at_the_lane_centre():
    n = 50
    image = column_pixels(np.zeros((1, n)), np.zeros((1, n)), None, None, [0], 1, 20, np.array([BLACK]), 0.46)
    assert image.shape == (20, n) and image.dtype == np.uint32
    assert np.flatnonzero((image != 0).any(axis=1)).tolist() == [10]


def test_a_spike_reaches_the_lane_edge_in_its_own_column():
    lo, hi = np.zeros((1, 30)), np.zeros((1, 30))
    hi[0, 12] = 5.0  # beyond the lane: clipped to its edge, never lost
    image = column_pixels(lo, hi, None, None, [0], 1, 40, np.array([BLACK]), 0.46) != 0
    column = np.flatnonzero(image[:, 12])
    assert column.max() == 20 and column.min() == int(np.floor(20 - 0.46 * 40))  # rows run top-down: up is smaller
    assert np.flatnonzero(image[:, 5]).tolist() == [20]


@settings(max_examples=40, deadline=None)
@given(n_cols=st.integers(1, 200), lane_px=st.integers(4, 40), seed=st.integers(0, 1000))
def test_lanes_stay_in_their_rows_and_columns_are_continuous(n_cols, lane_px, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=0.7, size=(2, 2 * n_cols))
    lo, hi = np.minimum(values[:, 0::2], values[:, 1::2]), np.maximum(values[:, 0::2], values[:, 1::2])
    image = column_pixels(lo, hi, None, None, [0, 2], 3, lane_px, np.array([BLACK, GREEN]), 0.46)
    ink = image != 0
    # Lane 0 is the top lane (rows run top-down); lane 1 was given no channel.
    top, middle, bottom = ink[:lane_px], ink[lane_px:2 * lane_px], ink[2 * lane_px:]
    assert not middle.any()
    assert top.any(axis=0).all() and bottom.any(axis=0).all(), "every column of a lane is drawn"
    assert (image[:lane_px][top] == BLACK).all() and (image[2 * lane_px:][bottom] == GREEN).all()
    for band in (top, bottom):
        rows = [np.flatnonzero(band[:, k]) for k in range(n_cols)]
        for k in range(n_cols):
            assert len(rows[k]) == rows[k][-1] - rows[k][0] + 1, "a column's span has no holes"
            if k:
                assert rows[k][0] <= rows[k - 1][-1] + 1 and rows[k][-1] >= rows[k - 1][0] - 1, "columns join up"


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 40), min_size=1, max_size=30), n_cols=st.integers(1, 25),
       per_column=st.integers(1, 6), seed=st.integers(0, 1000))
def test_columns_drawn_frame_by_frame_equal_the_whole_window_drawn_at_once(cuts, n_cols, per_column, seed):
    """The incremental picture (a few columns per frame into a ring) is exactly the one-shot picture."""
    rng = np.random.default_rng(seed)
    total = sum(cuts)
    stream = rng.normal(scale=0.5, size=(2, total)).astype(np.float32)
    colours, lane_px = np.array([BLACK, GREEN]), 8
    ring = SampleRing(2, 4 * total + 1)
    columns = ColumnRing(2 * lane_px, n_cols)
    prev = None
    at = 0
    for n in cuts:  # the worker writes blocks; each frame the UI draws the columns completed since the last
        ring.write(stream[:, at:at + n], at)
        at += n
        end_col = ring.end // per_column
        first = columns.end_col if columns.end_col is not None else 0
        if end_col <= first:
            continue
        samples, got = ring.window(first * per_column, end_col * per_column)
        _, values = minmax_decimate(samples, got, per_column)
        lo, hi = values[:, 0::2], values[:, 1::2]
        columns.write(first, column_pixels(lo, hi, *(prev or (None, None)), [0, 1], 2, lane_px, colours, 0.46))
        prev = (lo[:, -1], hi[:, -1])
    end_col = total // per_column
    if end_col == 0:
        assert columns.end_col is None
        return
    _, values = minmax_decimate(stream[:, :end_col * per_column], 0, per_column)
    whole = column_pixels(values[:, 0::2], values[:, 1::2], None, None, [0, 1], 2, lane_px, colours, 0.46)
    start = columns.newest_slice()
    shown = columns.pixels[:, start:start + n_cols]
    kept = min(n_cols, end_col)
    np.testing.assert_array_equal(shown[:, n_cols - kept:], whole[:, end_col - kept:])


def test_the_ring_of_columns_does_not_grow():
    columns = ColumnRing(10, 7)
    before = columns.pixels.nbytes
    for k in range(100):
        columns.write(3 * k, np.full((10, 3), k, np.uint32))
    assert columns.pixels.nbytes == before and columns.end_col == 300
    start = columns.newest_slice()
    assert columns.pixels[0, start:start + 7].tolist() == [97, 98, 98, 98, 99, 99, 99]
