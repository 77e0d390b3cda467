"""Accuracy on simulated recordings with ground truth: fascdetect and its peers, same data, same scoring.

The grid (see :func:`grid`) varies twitch SNR, mains frequency, EMG sampling
rate and sensors, on one of two backgrounds (:data:`BACKGROUNDS`). SNR is the
twitch's peak surface amplitude over the RMS electrode noise (the background's
``noise_uv``), in dB: every twitch has the same amplitude
(``twitch_amplitude_sigma=0``). For accelerometer-only cells it is the
mechanomyogram's peak over the accelerometer noise instead.

Peers see the EMG channels only and have one threshold each, tuned once for
the best mean twitch F1 on separate recordings (other seeds, :data:`TUNE_SNR_DB`);
fascdetect runs with its defaults. Every detector is scored by
``fascdetect.scoring.score``.
"""

from __future__ import annotations

import logging
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from benchmarks.peers import PEERS, Peer
from fascdetect.model import Event
from fascdetect.pipeline import run_all
from fascdetect.scoring import KindScore, region_accuracy, score
from firmware_sim.scenarios import REAL_BACKGROUND

log = logging.getLogger(__name__)

US = "fascdetect"
REGIONS = ("AbH", "FDB", "ADM", "PER", "GAS")
ACC_REGIONS = ("ADM", "AbH", "FDB")
NOISE_UV = 3.0
ACC_NOISE_MG = 0.5
ACC_UNIT_UV = 90.0
TWITCH_RATE_PER_MIN = 10.0
"""Per region; high enough for a few hundred twitches per cell, low enough that they rarely overlap."""
SNR_DB = (-3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 20.0)
QUICK_SNR_DB = (0.0, 6.0, 12.0, 20.0)
TUNE_SNR_DB = (6.0, 12.0, 20.0)
TUNE_SEED = 1000
HIT_TOLERANCE_S = 0.1
"""For the diagnostic hit rate: any detected activity within this of a true twitch, whatever its class."""
MOVEMENT_MARGIN_S = 0.5
BACKGROUNDS: dict[str, dict[str, Any]] = {"white": {"noise_uv": NOISE_UV}, "real": REAL_BACKGROUND}
"""Knobs each background sets on every cell. ``white``: the simulator's white electrode noise, ``noise_uv``
its broadband RMS (3 µV; the grid as it always was). ``real``: the background fitted to real rest EMG, as
fitted (coloured noise with ``noise_uv`` 2.5 µV the RMS in 20-450 Hz, distant-unit potentials, level
drift, ECG, cable artifacts). Either way a twitch at S dB is ``noise_uv`` x 10^(S/20) µV; what else the
real background adds (distant units, ECG, cable tugs) is not counted in the noise."""


@dataclass(frozen=True)
class Cell:
    """One simulated recording of the grid."""

    task: str  # twitch | cramp | noise | movement
    snr_db: float
    mains_hz: int
    emg_fs_hz: int
    sensors: str  # emg | acc | both
    duration_s: float
    seed: int
    background: str = "white"  # a key of BACKGROUNDS

    @property
    def label(self) -> str:
        return (f"{self.task} {self.sensors} {self.snr_db:+g}dB {self.mains_hz}Hz {self.emg_fs_hz}sps s{self.seed} "
                f"{self.background}")

    def scenario(self):
        from firmware_sim.scenarios import SimMontage, get_scenario

        montage = SimMontage(emg_fs_hz=self.emg_fs_hz,
                             emg_regions=() if self.sensors == "acc" else REGIONS,
                             acc_regions=() if self.sensors == "emg" else ACC_REGIONS if self.sensors == "acc" else ("ADM", "AbH"))
        snr = 10 ** (self.snr_db / 20)
        background = BACKGROUNDS[self.background]
        amp_uv = ACC_UNIT_UV if self.sensors == "acc" else background["noise_uv"] * snr
        knobs: dict[str, Any] = dict(
            montage=montage, **background, acc_noise_mg=ACC_NOISE_MG, mains_hz=float(self.mains_hz),
            twitch_amplitude_median_uv=amp_uv, twitch_amplitude_sigma=0.0, twitch_amplitude_min_uv=0.01,
            twitch_amplitude_max_uv=5000.0, movement_rate_per_h=0.0, cramp_rate_per_h=0.0, burst_rate_per_h=0.0,
            twitch_rate_per_min={r: TWITCH_RATE_PER_MIN for r in montage.regions},
        )
        if self.sensors == "acc":
            knobs["mmg_mg_per_uv"] = snr * ACC_NOISE_MG / ACC_UNIT_UV
        if self.task == "cramp":
            knobs.update(twitch_rate_per_min={r: 2.0 for r in montage.regions}, cramp_rate_per_h=120.0,
                         cramp_duration_s=(4.0, 20.0))
        elif self.task == "noise":
            knobs.update(twitch_rate_per_min={})
        elif self.task == "movement":
            knobs.update(twitch_rate_per_min={}, movement_rate_per_h=120.0)
        return get_scenario("rest").with_(**knobs)


def grid(quick: bool, background: str = "white") -> list[Cell]:
    """The cells to run: a full factorial twitch grid, plus cramp, pure-noise and movement recordings."""
    snrs = QUICK_SNR_DB if quick else SNR_DB
    mains = (50,) if quick else (50, 60)
    rates = (2000,) if quick else (1000, 2000)
    dur = 120.0
    seeds = (1,) if quick else (1, 2)
    cells = [Cell("twitch", s, m, fs, sensors, dur, 1) for s in snrs for m in mains for fs in rates
             for sensors in ("emg", "both")]
    cells += [Cell("twitch", s, 50, 2000, "acc", dur, 1) for s in snrs]
    cells += [Cell("cramp", s, 50, 2000, "emg", 300.0, seed) for s in (QUICK_SNR_DB if quick else (0.0, 6.0, 12.0, 20.0))
              for seed in seeds]
    cells += [Cell("noise", 20.0, m, fs, "emg", dur, 1) for m in mains for fs in rates]
    cells += [Cell("movement", 20.0, 50, 2000, sensors, dur * 2, seed) for sensors in ("emg", "both") for seed in seeds]
    return [replace(c, background=background) for c in cells]


def tuning_cells(quick: bool, background: str = "white") -> list[Cell]:
    """The peers' tuning recordings, on the grid's background: a peer meets the background it is judged on."""
    return [Cell("twitch", s, 50, 2000, "emg", 60.0 if quick else 90.0, TUNE_SEED + i, background)
            for i, s in enumerate(TUNE_SNR_DB)]


# --- running ------------------------------------------------------------------------
def _simulate(cell: Cell):
    from firmware_sim.generator import simulate

    return simulate(cell.scenario(), cell.duration_s, seed=cell.seed)


def _emg_block(sim):
    return next((b for b in sim.blocks if any(c.modality == "EMG" for c in b.channels)), None)


def evaluate(events: list[Event], truth: list[Event], cell: Cell, emg_channels: int) -> dict[str, Any]:
    """Scores of one detector on one cell, with the raw counts kept so cells can be pooled."""
    scores = score(events, truth)
    right, matched = region_accuracy(events, truth)
    hits = score([Event("twitch", e.onset_s, e.duration_s, e.side, e.region, e.channel, e.peak, e.unit)
                  for e in events], [t for t in truth if t.kind == "twitch"], {"twitch": HIT_TOLERANCE_S})["twitch"]
    minutes = cell.duration_s / 60
    twitches = [e for e in events if e.kind == "twitch"]
    moves = [t for t in truth if t.kind == "movement"]
    in_move = [e for e in twitches if any(m.onset_s - MOVEMENT_MARGIN_S <= e.onset_s <= m.end_s + MOVEMENT_MARGIN_S
                                          for m in moves if m.side == e.side)]
    move_min = sum(m.duration_s + 2 * MOVEMENT_MARGIN_S for m in moves) / 60
    return {
        "twitch": _raw(scores["twitch"]),
        "cramp": _raw(scores["cramp"]),
        "movement": _raw(scores["movement"]),
        "region_right": right, "region_matched": matched,
        "hit_tp": hits.true_positives, "hit_fn": hits.false_negatives,
        "twitches_detected": len(twitches), "minutes": minutes, "channel_minutes": emg_channels * minutes,
        "twitches_in_movement": len(in_move), "movement_minutes": move_min,
    }


def _raw(s: KindScore) -> dict[str, Any]:
    return {"tp": s.true_positives, "fp": s.false_positives, "fn": s.false_negatives,
            "onset_errors_ms": [round(v * 1e3, 2) for v in s.onset_errors_s],
            "duration_errors_s": [round(v, 3) for v in s.duration_errors_s], "fragments": s.fragments}


def run_cell(cell: Cell, peers: tuple[Peer, ...]) -> dict[str, Any]:
    """Simulate one cell and score fascdetect and (on EMG cells) every peer on it."""
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    sim = _simulate(cell)
    truth = [e.to_event() for e in sim.truth]
    out: dict[str, Any] = {"cell": asdict(cell), "truth": {k: sum(e.kind == k for e in truth)
                                                          for k in ("twitch", "cramp", "movement")}, "detectors": {}}
    t1 = time.perf_counter()
    emg_channels = sum(c.modality == "EMG" for c in sim.channels)
    out["detectors"][US] = evaluate(run_all(sim.blocks, sim.channels), truth, cell, emg_channels)
    out["detectors"][US]["seconds"] = round(time.perf_counter() - t1, 2)
    block = _emg_block(sim)
    if block is not None and cell.sensors == "emg":
        for peer in peers:
            t = time.perf_counter()
            out["detectors"][peer.name] = evaluate(peer.events(block.data, block.channels, block.fs_hz), truth, cell,
                                                   emg_channels)
            out["detectors"][peer.name]["seconds"] = round(time.perf_counter() - t, 2)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("%s: %.0f s", cell.label, out["seconds"])
    return out


def _tune_cell(cell: Cell) -> dict[str, dict[float, tuple[int, int, int]]]:
    warnings.filterwarnings("ignore")
    sim = _simulate(cell)
    truth = [e.to_event() for e in sim.truth]
    block = _emg_block(sim)
    out = {}
    for peer in PEERS:
        if not peer.grid:
            continue
        out[peer.name] = {}
        for th in peer.grid:
            s = score(peer.tuned(th).events(block.data, block.channels, block.fs_hz), truth)["twitch"]
            out[peer.name][th] = (s.true_positives, s.false_positives, s.false_negatives)
    return out


def tune(quick: bool, background: str, pool: ProcessPoolExecutor) -> tuple[tuple[Peer, ...], dict[str, Any]]:
    """Each tunable peer's threshold with the best mean twitch F1 over the tuning cells."""
    results = list(pool.map(_tune_cell, tuning_cells(quick, background)))
    chosen, record = [], {}
    for peer in PEERS:
        if not peer.grid:
            chosen.append(peer)
            continue
        f1 = {th: float(np.mean([_f1(*r[peer.name][th]) for r in results])) for th in peer.grid}
        best = max(peer.grid, key=lambda th: (f1[th], -th))
        chosen.append(peer.tuned(best))
        record[peer.name] = {"grid": list(peer.grid), "mean_f1": [round(f1[th], 4) for th in peer.grid],
                             "chosen": best, "note": peer.note}
        if best in (peer.grid[0], peer.grid[-1]):
            log.warning("%s: best threshold %g is at the edge of its grid", peer.name, best)
    return tuple(chosen), record


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# --- pooling and tables -----------------------------------------------------------------
def pooled(cells: list[dict[str, Any]], detector: str, kind: str = "twitch") -> dict[str, Any] | None:
    """Micro-averaged scores of ``detector`` over ``cells`` (counts summed, errors concatenated)."""
    rows = [c["detectors"][detector] for c in cells if detector in c["detectors"]]
    if not rows:
        return None
    tp, fp, fn = (sum(r[kind][k] for r in rows) for k in ("tp", "fp", "fn"))
    errs = np.abs([v for r in rows for v in r[kind]["onset_errors_ms"]])
    durs = np.abs([v for r in rows for v in r[kind]["duration_errors_s"]])
    frags = [v for r in rows for v in r[kind]["fragments"]]
    right, matched = sum(r["region_right"] for r in rows), sum(r["region_matched"] for r in rows)
    hit_tp, hit_fn = sum(r["hit_tp"] for r in rows), sum(r["hit_fn"] for r in rows)
    minutes = sum(r["minutes"] for r in rows)
    channel_min = sum(r.get("channel_minutes", 0.0) for r in rows)  # not in runs before 2 Dec 2026
    move_min = sum(r["movement_minutes"] for r in rows)
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "f1": round(_f1(tp, fp, fn), 4),
        "onset_error_median_ms": round(float(np.median(errs)), 2) if errs.size else None,
        "onset_error_p95_ms": round(float(np.percentile(errs, 95)), 2) if errs.size else None,
        "duration_error_median_s": round(float(np.median(durs)), 2) if durs.size else None,
        "mean_fragments": round(float(np.mean(frags)), 2) if frags else None,
        "region_accuracy": _ratio(right, matched), "hit_rate": _ratio(hit_tp, hit_tp + hit_fn),
        "twitches_per_min": round(sum(r["twitches_detected"] for r in rows) / minutes, 3) if minutes else None,
        "twitches_detected": sum(r["twitches_detected"] for r in rows), "emg_channel_minutes": round(channel_min, 1),
        "twitches_per_channel_min": round(sum(r["twitches_detected"] for r in rows) / channel_min, 4)
        if channel_min else None,
        "twitches_per_movement_min": round(sum(r["twitches_in_movement"] for r in rows) / move_min, 3)
        if move_min else None,
    }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def detectors(cells: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for c in cells:
        names += [n for n in c["detectors"] if n not in names]
    return names


def summarize(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The tables: F1 by SNR (reference conditions), headline twitch scores, robustness, cramps, false alarms."""
    twitch = [c for c in cells if c["cell"]["task"] == "twitch"]
    ref = [c for c in twitch if c["cell"]["mains_hz"] == 50 and c["cell"]["emg_fs_hz"] == 2000]
    snrs = sorted({c["cell"]["snr_db"] for c in twitch})
    out: dict[str, Any] = {"f1_by_snr": {}, "twitch_by_snr": {}, "conditions": {}, "cramp": {}, "false_alarms": {}}
    emg_names = detectors([c for c in ref if c["cell"]["sensors"] == "emg"])
    series = [(n, "emg") for n in emg_names] + [(US, "both"), (US, "acc")]
    for name, sensors in series:
        key = name if sensors == "emg" else f"{name} [{sensors}]"
        by = {s: pooled([c for c in ref if c["cell"]["snr_db"] == s and c["cell"]["sensors"] == sensors], name)
              for s in snrs}
        out["f1_by_snr"][key] = {str(s): (p["f1"] if p else None) for s, p in by.items()}
        out["twitch_by_snr"][key] = {str(s): p for s, p in by.items()}
    for sensors in ("emg", "both"):
        for m in sorted({c["cell"]["mains_hz"] for c in twitch}):
            for fs in sorted({c["cell"]["emg_fs_hz"] for c in twitch}):
                sel = [c for c in twitch if (c["cell"]["sensors"], c["cell"]["mains_hz"], c["cell"]["emg_fs_hz"]) ==
                       (sensors, m, fs) and c["cell"]["snr_db"] >= 6]
                for name in detectors(sel):
                    out["conditions"].setdefault(f"{name} [{sensors}]", {})[f"{m} Hz mains, {fs} sps"] = pooled(sel, name)
    cramp = [c for c in cells if c["cell"]["task"] == "cramp"]
    out["cramp_by_snr"] = {}
    for name in detectors(cramp):
        out["cramp"][name] = pooled(cramp, name, "cramp")
        out["cramp_by_snr"][name] = {str(s): pooled([c for c in cramp if c["cell"]["snr_db"] == s], name, "cramp")
                                     for s in sorted({c["cell"]["snr_db"] for c in cramp})}
    for task in ("noise", "movement"):
        for sensors in ("emg", "both"):
            sel = [c for c in cells if c["cell"]["task"] == task and c["cell"]["sensors"] == sensors]
            for name in detectors(sel):
                p = pooled(sel, name)
                if p:
                    out["false_alarms"].setdefault(f"{name} [{sensors}]", {})[task] = {
                        "twitches_per_min": p["twitches_per_min"], "twitches_detected": p["twitches_detected"],
                        "emg_channel_minutes": p["emg_channel_minutes"],
                        "twitches_per_channel_min": p["twitches_per_channel_min"],
                        "twitches_per_movement_min": p["twitches_per_movement_min"],
                        "movement": pooled(sel, name, "movement") if task == "movement" else None}
    return out


def tables(summary: dict[str, Any], headline_snr_db: tuple[float, ...]) -> str:
    """Plain-text tables for the terminal (the README takes them as they are)."""
    lines = []
    f1 = summary["f1_by_snr"]
    snrs = list(next(iter(f1.values())).keys()) if f1 else []
    w = max(len(k) for k in f1) + 2 if f1 else 20
    lines.append("Twitch F1 by SNR (50 Hz mains, 2000 sps; peers see EMG only)")
    lines.append(f"{'detector':<{w}}" + "".join(f"{float(s):>+8g}dB" for s in snrs))
    for name, row in f1.items():
        lines.append(f"{name:<{w}}" + "".join(f"{v:>10.3f}" if v is not None else f"{'-':>10}" for v in row.values()))
    lines.append("")
    for snr in headline_snr_db:
        lines.append(f"Twitches at {snr:+g} dB (50 Hz, 2000 sps)")
        lines.append(f"{'detector':<{w}}{'prec':>7}{'recall':>7}{'F1':>7}{'onset med/p95 ms':>18}{'region':>8}{'hit':>7}")
        for name, row in summary["twitch_by_snr"].items():
            p = row.get(str(snr))
            if p:
                onset = f"{_fmt(p['onset_error_median_ms'], 1)}/{_fmt(p['onset_error_p95_ms'], 1)}"
                lines.append(f"{name:<{w}}{_fmt(p['precision']):>7}{_fmt(p['recall']):>7}{_fmt(p['f1']):>7}{onset:>18}"
                             f"{_fmt(p['region_accuracy']):>8}{_fmt(p['hit_rate']):>7}")
        lines.append("")
    lines.append("(region: share of onset-matched twitches given the right region; hit: true twitches with any "
                 f"detection of any class within {HIT_TOLERANCE_S * 1e3:g} ms)")
    lines.append("")
    lines.append("Twitch F1 by mains and sampling rate (pooled over SNR >= 6 dB)")
    conds = summary["conditions"]
    cond_names = list(next(iter(conds.values())).keys()) if conds else []
    w2 = max([len(k) for k in conds] + [10]) + 2
    lines.append(f"{'detector':<{w2}}" + "".join(f"{c:>24}" for c in cond_names))
    for name, row in conds.items():
        lines.append(f"{name:<{w2}}" + "".join(f"{_fmt(row[c]['f1'] if row.get(c) else None):>24}" for c in cond_names))
    lines.append("")
    lines.append("Cramps (0-20 dB, 4-20 s cramps)")
    lines.append(f"{'detector':<{w}}{'sens':>7}{'prec':>7}{'onset med ms':>14}{'dur err med s':>15}{'fragments':>11}")
    for name, p in summary["cramp"].items():
        lines.append(f"{name:<{w}}{_fmt(p['recall']):>7}{_fmt(p['precision']):>7}{_fmt(p['onset_error_median_ms'], 1):>14}"
                     f"{_fmt(p['duration_error_median_s'], 2):>15}{_fmt(p['mean_fragments'], 2):>11}")
    for name, row in summary.get("cramp_by_snr", {}).items():
        if name == US:
            lines.append(f"{name} by SNR: " + ", ".join(
                f"{float(snr):+g} dB sens {_fmt(p['recall'], 2)} prec {_fmt(p['precision'], 2)} "
                f"onset {_fmt(p['onset_error_median_ms'], 0)} ms" for snr, p in row.items()))
    lines.append("")
    lines.append("False twitches per minute (no twitches simulated; per ch-min: per EMG channel-minute of pure noise)")
    lines.append(f"{'detector':<{w}}{'pure noise':>12}{'per ch-min':>12}{'movement rec.':>15}{'in movement':>13}"
                 f"{'movement recall':>17}")
    for name, row in summary["false_alarms"].items():
        noise, move = row.get("noise") or {}, row.get("movement") or {}
        mv = (move.get("movement") or {}).get("recall") if name.startswith(US) else "n/a"
        lines.append(f"{name:<{w}}{_fmt(noise.get('twitches_per_min'), 2):>12}"
                     f"{_fmt(noise.get('twitches_per_channel_min'), 3):>12}{_fmt(move.get('twitches_per_min'), 2):>15}"
                     f"{_fmt(move.get('twitches_per_movement_min'), 1):>13}{_fmt(mv):>17}")
    for name, row in summary["false_alarms"].items():
        if name.startswith(US) and (row.get("noise") or {}).get("emg_channel_minutes"):
            n = row["noise"]
            lines.append(f"{name} on pure noise: {n['twitches_detected']} false twitches in "
                         f"{n['emg_channel_minutes']:g} EMG channel-minutes")
    return "\n".join(lines)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) else str(v)


def run(quick: bool, workers: int, background: str = "white") -> dict[str, Any]:
    """Tune the peers, run the grid in ``workers`` processes, and return the JSON body."""
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        peers, tuning = tune(quick, background, pool)
        log.info("tuned peers in %.0f s", time.perf_counter() - t0)
        cells = grid(quick, background)
        results = list(pool.map(run_cell, cells, [peers] * len(cells)))
    return {"quick": quick, "background": background, "background_knobs": BACKGROUNDS[background],
            "seconds": round(time.perf_counter() - t0, 1), "tuning": tuning,
            "peer_notes": {p.name: p.note for p in peers if p.note},
            "summary": summarize(results), "cells": results}
