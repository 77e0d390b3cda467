"""Truth records: the TSV sidecar round-trips, is private, and annotations follow the writer's convention."""

from __future__ import annotations

import stat

from firmware_sim.generator import simulate
from firmware_sim.scenarios import SCENARIOS
from firmware_sim.truth import TSV_COLUMNS, read_tsv, write_tsv


def test_tsv_round_trip_and_mode(tmp_path):
    sc = SCENARIOS["night"].with_(cramp_rate_per_h=60.0, movement_rate_per_h=60.0, burst_rate_per_h=30.0)
    truth = simulate(sc, 60.0, 9).truth
    assert len({e.kind for e in truth}) >= 3  # flags, cramps and bursts go through the file too
    path = tmp_path / "x.truth.tsv"
    write_tsv(path, truth)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines()[0].split("\t") == list(TSV_COLUMNS)
    back = read_tsv(path)
    assert len(back) == len(truth)
    for a, b in zip(truth, back):
        assert (a.kind, a.side, a.region, a.channel, a.unit, a.flags) == (b.kind, b.side, b.region, b.channel, b.unit, b.flags)
        assert abs(a.onset_s - b.onset_s) < 1e-6 and abs(a.amplitude - b.amplitude) < 1e-3


def test_event_conversion_and_annotation_text():
    truth = simulate("als-like", 30.0, 2).truth
    doublet = next(e for e in truth if "doublet" in e.flags)
    ev = doublet.to_event()
    assert (ev.kind, ev.onset_s, ev.channel, ev.peak, ev.unit) == ("twitch", doublet.onset_s, doublet.channel, doublet.amplitude, "uV")
    assert ev.to_json()["doublet"] is True
    assert doublet.annotation() == f"twitch doublet@@{doublet.channel}"
