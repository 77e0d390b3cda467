"""BrainFlow boards through the real brainflow package: the synthetic board (no hardware) recorded by ``record``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from fascdetect.cli import main
from fascdetect.errors import InputError, RecordingError
from fascdetect.io.edf_read import EdfSource
from fascdetect.regions import Montage
from fascdetect.sources.brainflow_board import BrainFlowSource, board_id, board_labels, counter_step
from fascdetect.sources.spec import open_source

MONTAGE = Path(__file__).resolve().parents[1] / "docs" / "montages" / "openbci_feet.toml"
MAPPED = ["EMG L-AbH", "EMG L-FDB", "EMG R-AbH", "EMG R-FDB", "ACC L-FDB-X", "ACC L-FDB-Y", "ACC L-FDB-Z"]
"""The channels docs/montages/openbci_feet.toml makes of EXG 1-4 and ACC X/Y/Z, under their conventional labels."""


def test_boards_by_name_or_id() -> None:
    from brainflow.board_shim import BoardIds

    assert board_id("synthetic") == board_id("SYNTHETIC_BOARD") == board_id("-1") == BoardIds.SYNTHETIC_BOARD.value
    assert board_id("cyton-daisy") == BoardIds.CYTON_DAISY_BOARD.value
    with pytest.raises(InputError, match="unknown board 'cytron'.*known: .*cyton"):
        board_id("cytron")
    with pytest.raises(InputError, match="no board has id 9999"):
        board_id("9999")


def test_cyton_rows_are_labelled_in_brainflow_order() -> None:
    from brainflow.board_shim import BoardIds, BoardShim

    descr = BoardShim.get_board_descr(BoardIds.CYTON_BOARD.value)
    assert descr["sampling_rate"] == 250
    assert [label for _, label, _ in board_labels(descr)] == [f"EXG {i}" for i in range(1, 9)] + ["ACC X", "ACC Y", "ACC Z"]


def test_record_the_synthetic_board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "board.edf"
    assert main(["record", "--source", "brainflow:synthetic", "--montage", str(MONTAGE), "--out", str(path),
                 "--duration", "3s", "--status-every", "0"]) == 0
    assert "3 s, complete" in capsys.readouterr().out
    with EdfSource(path) as back:
        assert [c.label for c in back.channels] == MAPPED
        assert {c.fs_hz for c in back.channels} == {250.0}
        assert [c.unit for c in back.channels] == ["uV"] * 4 + ["mg"] * 3
        data = np.concatenate([b.data for b in back.blocks(5.0)], axis=1)
        assert not any("gap" in text.lower() for _, _, text in back.annotations())
    assert data.shape == (7, 750)
    assert all(np.ptp(row) > 0 for row in data), "every mapped row carries the board's signal"
    # the synthetic board's accelerometer rows are in g, around 1 g: ours are mg
    assert 100 < np.abs(data[4:]).mean() < 2000


def test_blocks_are_contiguous_without_loss_and_the_unmapped_rows_are_listed() -> None:
    source = open_source("brainflow:synthetic?block_s=0.05", montage=Montage.load(MONTAGE))
    assert isinstance(source, BrainFlowSource)
    assert [label for label, _ in source.skipped] == [f"EXG {i}" for i in range(5, 17)]
    end = 0
    for block in source.blocks():
        assert block.start == end and block.gap is None
        end = block.end
        if end >= 250:
            source.close()
    assert source.clock is not None and source.clock.step == 1, "the synthetic board counts every sample"
    assert source.clock.lost == 0


def test_a_counter_that_does_not_count_samples_is_not_used_for_loss() -> None:
    assert counter_step(np.arange(40) % 256) == 1
    assert counter_step(np.arange(250, 290) * 2 % 256) == 2
    assert counter_step(np.repeat(np.arange(20), 2)) is None, "two samples per package number"


def test_a_board_without_montage_or_with_bad_settings_is_refused_clearly() -> None:
    with pytest.raises(RecordingError, match="BrainFlow board Synthetic: no usable channels.*'EXG 1'.*--montage"):
        open_source("brainflow:synthetic")
    with pytest.raises(InputError, match="unknown setting 'port'"):
        open_source("brainflow:synthetic?port=3", montage=Montage.load(MONTAGE))


def test_samples_missing_from_a_brainflow_file_are_exact_gaps(tmp_path: Path) -> None:
    """BrainFlow's own file format, written by BrainFlow from the synthetic board, 50 rows cut out, and played
    back by BrainFlow's playback board: the package counter turns the cut into an exact gap."""
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams

    original = tmp_path / "synthetic.csv"
    board = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())
    board.prepare_session()
    board.add_streamer(f"file://{original}:w")
    board.start_stream()
    while board.get_board_data_count() < 700:
        time.sleep(0.1)
    board.stop_stream()
    board.release_session()
    rows = original.read_text().splitlines()[:700]
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(rows[:300] + rows[350:]) + "\n")
    values = np.array([[float(v) for v in row.split("\t")] for row in rows])
    source = open_source(f"brainflow:playback_file?file={cut}&master_board=synthetic&config=loopback_false",
                         montage=Montage.load(MONTAGE))
    data, gaps, end = [], [], 0
    for block in source.blocks():
        assert block.start == end
        data.append(block.data)
        gaps.append(np.zeros(block.n, bool) if block.gap is None else block.gap)
        end = block.end
        if end >= 690:
            source.close()
    data, gap = np.concatenate(data, axis=1)[:, :690], np.concatenate(gaps)[:690]
    np.testing.assert_array_equal(np.flatnonzero(gap), np.arange(300, 350))
    assert source.clock.lost == 50
    np.testing.assert_allclose(data[0, ~gap], values[:690, 1][~gap], rtol=1e-6)  # EXG 1 is BrainFlow's row 1
