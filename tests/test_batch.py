"""`fascdetect batch` on a real Dask cluster: a scheduler and two workers started here as processes on 127.0.0.1.

The cohort is six short simulated nights (written by `fascdetect simulate`)
and one corrupt file. The Parquet output is compared with `analyze --json`
of each file, also for a recording split into one task per foot; a worker is
SIGKILLed mid-task; a batch is stopped with Ctrl-C (SIGINT) while one foot of
a split recording is done and the other is not, and resumed; truncated files
on disk are failed rows; every process's sockets are checked to be on
loopback only.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import json
import math
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fascdetect.batch.discover import discover
from fascdetect.batch.store import BatchStore, flatten_summary, settings_sha256
from fascdetect.batch.task import Outcome, SidePass, Task, merge_sides
from fascdetect.cli import main

N_NIGHTS = 6
NIGHT = "1m"
STARTUP_TIMEOUT_S = 90
RUN_TIMEOUT_S = 300
# Columns that say when and where a row was computed, not what was found.
PROVENANCE = {"analysed_at", "elapsed_s", "worker"}


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cohort")
    for seed in range(1, N_NIGHTS + 1):
        code, _ = cli("simulate", "--scenario", "rest", "--duration", NIGHT, "--seed", str(seed),
                      "--out", str(d / f"night{seed}.edf"), "--no-progress")
        assert code == 0
    # Not an EDF at all, though it is named like one: a failed row, and the batch goes on.
    (d / "corrupt.edf").write_bytes(b"NOT-EDF!" + os.urandom(4000))
    return d


@pytest.fixture(scope="module")
def reference(cohort) -> dict[str, dict]:
    """`fascdetect analyze --json` of every night: what the Parquet must hold."""
    out = {}
    for f in sorted(cohort.glob("night*.edf")):
        code, text = cli("analyze", str(f), "--json", "--workers", "1")
        assert code == 0
        out[str(f.resolve())] = json.loads(text)
    return out


@pytest.fixture(scope="module")
def long_night(tmp_path_factory) -> tuple[Path, dict]:
    """A longer recording whose task surely outlasts a poll: killed under, or interrupted before."""
    path = tmp_path_factory.mktemp("long") / "long.edf"
    assert cli("simulate", "--scenario", "rest", "--duration", "10m", "--seed", "99", "--out", str(path),
               "--no-progress")[0] == 0
    _, text = cli("analyze", str(path), "--json", "--workers", "1")
    return path.resolve(), json.loads(text)


def split_mb(cohort: Path, long: Path) -> str:
    """A --split-mb between the nights' size and the long night's: only the long night is split."""
    night = max(f.stat().st_size for f in cohort.glob("night*.edf"))
    assert long.stat().st_size > 2 * night
    return str((night + long.stat().st_size) / 2 / 1e6)


@dataclass
class Cluster:
    address: str
    client: object
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    directory: Path = Path()

    def start_worker(self, name: str) -> None:
        log = open(self.directory / f"{name}.log", "wb")
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", self.address, "--host", "127.0.0.1", "--no-dashboard",
             "--dashboard-address", "127.0.0.1:0", "--nthreads", "1", "--no-nanny", "--name", name, "--local-directory", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT)

    def pids(self) -> list[int]:
        return [self.scheduler.pid] + [p.pid for p in self.workers.values() if p.poll() is None]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import Client

    d = tmp_path_factory.mktemp("dask")
    info = d / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         # Without a dashboard the scheduler still serves /health on the dashboard address: keep it on loopback.
         "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)], stdout=open(d / "scheduler.log", "wb"), stderr=subprocess.STDOUT)
    c = None
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not info.exists() or not info.read_text().strip():
            assert scheduler.poll() is None, (d / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "scheduler did not start"
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        c = Cluster(address, None, scheduler, directory=d)
        c.start_worker("w0")
        c.start_worker("w1")
        c.client = Client(address, timeout=STARTUP_TIMEOUT_S)
        c.client.wait_for_workers(2, timeout=STARTUP_TIMEOUT_S)
        yield c
    finally:
        if c is not None and c.client is not None:
            c.client.close()
        procs = [scheduler] + (list(c.workers.values()) if c is not None else [])
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def first_run(cluster, cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch") / "out"
    code, text = cli("batch", str(cohort / "*.edf"), "--out", str(out), "--scheduler", cluster.address,
                     "--no-progress", "--json")
    return out, code, json.loads(text)


def read(out: Path, name: str) -> list[dict]:
    return pq.read_table(out / name).to_pylist()


def without_nulls(row: dict) -> dict:
    return {k: v for k, v in row.items() if v is not None}


def assert_equals_analyze(row: dict, doc: dict, events: list[dict]) -> None:
    """A done row of recordings.parquet and its rows of events.parquet hold what `analyze --json` printed."""
    assert row["status"] == "done" and row["error"] is None
    assert row["duration_s"] == doc["recording"]["duration_s"]
    assert row["start"].isoformat() == doc["recording"]["start"]
    assert row["channels"] == [c["label"] for c in doc["recording"]["channels"]]
    assert row["n_channels"] == len(doc["recording"]["channels"])
    assert json.loads(row["summary_json"]) == doc["summary"]
    assert json.loads(row["channels_json"]) == doc["recording"]["channels"]
    for ch in doc["recording"]["channels"]:
        if "rest_s" in ch:  # rest time per channel
            assert row[ch["label"].replace(" ", "_").replace("-", "_") + "_rest_s"] == ch["rest_s"]
    for region in doc["summary"]["regions"]:
        for key, value in region.items():
            if key not in ("side", "region", "name"):
                assert row[f"{region['side']}_{region['region']}_{key}"] == value, key
    for side, m in doc["summary"]["movement"].items():
        assert row[f"movement_{side}_total_s"] == m["total_s"]
    assert (row["twitches"], row["bursts"], row["cramps"]) == \
        (doc["summary"]["twitches"], doc["summary"]["bursts"], doc["summary"]["cramps"])
    for key, value in doc["summary"].items():  # whatever else the summary holds, now or later
        if key == "regions" or isinstance(value, dict):
            continue
        if value == []:
            assert row[key] is None, key
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            assert json.loads(row[key]) == value, key
        else:
            assert row[key] == value, key
    assert [{k: v for k, v in without_nulls(e).items() if k != "recording_id"} for e in events] == doc["events"]
    assert row["n_events"] == len(doc["events"])


def task_keys(stream: list[dict], path: Path) -> set[str]:
    """The suffixes of the Dask task keys that ran for ``path`` (``L``, ``R``, ``merge``; '' for its first task)."""
    from fascdetect.batch.store import path_key

    prefix = f"fascdetect-batch-{path_key(str(path))}-"
    return {str(t["key"])[len(prefix) + 8:].lstrip("-") for t in stream if str(t["key"]).startswith(prefix)}


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def non_loopback(pids: list[int]) -> list[str]:
    """Every inet socket of these processes (and their children) whose either end is not a loopback address."""
    bad = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                conns = p.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            for conn in conns:
                for addr in (conn.laddr, conn.raddr):
                    if addr and not ipaddress.ip_address(addr.ip).is_loopback:
                        bad.append(f"pid {p.pid}: {conn.status} {conn.laddr} -> {conn.raddr}")
    return bad


def listening(pids: list[int]) -> list[str]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            found += [c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet") if c.status == "LISTEN"]
    return found


# --- the cluster run --------------------------------------------------------------
def test_batch_on_a_dask_cluster_equals_analyze_json(first_run, cohort, reference):
    out, code, report = first_run
    assert code == 1  # complete, with one failed recording
    assert (report["found"], report["done"], report["failed"], report["analysed"]) == (7, 6, 1, 7)
    rows = read(out, "recordings.parquet")
    events = read(out, "events.parquet")
    assert [r["path"] for r in rows] == sorted(str(p.resolve()) for p in cohort.glob("*.edf"))
    by_id: dict[str, list[dict]] = {}
    for e in events:
        by_id.setdefault(e["recording_id"], []).append(e)
    for row in rows:
        assert row["recording_id"] == sha256(row["path"])
        if row["path"].endswith("corrupt.edf"):
            continue
        assert_equals_analyze(row, reference[row["path"]], by_id.get(row["recording_id"], []))
    assert sum(report["events"].values()) == len(events) == sum(len(d["events"]) for d in reference.values())
    for name in ("recordings.parquet", "events.parquet"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600


def test_a_large_recording_runs_one_task_per_foot_and_equals_analyze_json(cluster, cohort, reference, long_night,
                                                                          tmp_path):
    from distributed import get_task_stream

    long, doc = long_night
    nights = [cohort / "night1.edf", cohort / "night2.edf"]
    with get_task_stream(client=cluster.client) as stream:
        code, text = cli("batch", str(long), *map(str, nights), "--out", str(tmp_path / "out"), "--scheduler",
                         cluster.address, "--split-mb", split_mb(cohort, long), "--no-progress", "--json")
    assert code == 0 and json.loads(text)["done"] == 3
    # The long night: its first task (hash, truncation check, feet), one task per foot, their merge.
    assert task_keys(stream.data, long) == {"", "L", "R", "merge"}
    assert all(task_keys(stream.data, n.resolve()) == {""} for n in nights)
    rows = {r["path"]: r for r in read(tmp_path / "out", "recordings.parquet")}
    events = read(tmp_path / "out", "events.parquet")
    row = rows[str(long)]
    assert row["recording_id"] == sha256(long)
    mine = [e for e in events if e["recording_id"] == row["recording_id"]]
    # Equal to analyze --json, in one process (--workers 1) and split into two as analyze does by default.
    assert_equals_analyze(row, doc, mine)
    _, split_doc = cli("analyze", str(long), "--json", "--workers", "2")
    assert_equals_analyze(row, json.loads(split_doc), mine)
    for night in nights:
        night_row = rows[str(night.resolve())]
        assert_equals_analyze(night_row, reference[night_row["path"]],
                              [e for e in events if e["recording_id"] == night_row["recording_id"]])
    # A rerun does nothing for it either.
    code, text = cli("batch", str(long), *map(str, nights), "--out", str(tmp_path / "out"), "--scheduler",
                     cluster.address, "--split-mb", split_mb(cohort, long), "--no-progress", "--json")
    assert (code, json.loads(text)["analysed"], json.loads(text)["unchanged"]) == (0, 0, 3)


def test_a_split_recording_is_failed_when_one_foot_fails(long_night):
    from fascdetect.analyze import analyze_side
    from fascdetect.config import DetectorConfig
    from fascdetect.regions import NO_MONTAGE

    long, doc = long_night
    task = Task(str(long), NO_MONTAGE, DetectorConfig())
    first = Outcome(str(long), "split", recording_id=sha256(long), sides=["L", "R"])
    left = SidePass("L", run=analyze_side(long, NO_MONTAGE, DetectorConfig(), "L"))
    out = merge_sides(task, first, left, SidePass("R", error=f"{long}: file shrank while reading"))
    assert (out.status, out.error, out.result) == ("failed", f"{long}: file shrank while reading", None)
    out = merge_sides(task, first, left, SidePass("R", run=analyze_side(long, NO_MONTAGE, DetectorConfig(), "R")))
    assert out.status == "done" and out.error is None
    result = json.loads(json.dumps(out.result))
    assert (result["summary"], result["events"]) == (doc["summary"], doc["events"])


def test_a_corrupt_file_is_a_failed_row_with_its_reason(first_run):
    out, _, report = first_run
    [row] = [r for r in read(out, "recordings.parquet") if r["path"].endswith("corrupt.edf")]
    assert row["status"] == "failed"
    assert "not an EDF or BDF file" in row["error"] and "\n" not in row["error"]
    assert row["summary_json"] is None and row["n_events"] is None
    assert report["failures"] == [{"path": row["path"], "error": row["error"]}]
    assert all(e["recording_id"] != row["recording_id"] for e in read(out, "events.parquet"))


def test_truncated_files_are_failed_rows_that_name_what_is_missing(cohort, cluster, tmp_path):
    from fascdetect.io.edf_read import read_layout

    data = (cohort / "night1.edf").read_bytes()
    layout = read_layout(cohort / "night1.edf")
    header, record = layout.header_bytes, layout.record_bytes
    n = layout.declared_records
    files = {
        # Cut in the middle of a data record (a copy that stopped).
        "cut-in-data.edf": data[:header + (n // 2) * record + record // 3],
        # Cut between records: the header still claims all of them.
        "cut-between-records.edf": data[:header + (n - 7) * record],
        "cut-in-header.edf": data[:700],
    }
    # A writer that stopped before its header update: count -1, every record it wrote whole. Nothing the
    # header promises is missing, so it is analysed, with the reader's warning.
    unfinished = bytearray(data[:header + 20 * record])
    unfinished[236:244] = b"-1      "
    files["unfinished.edf"] = bytes(unfinished)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    code, text = cli("batch", *(str(tmp_path / name) for name in files), "--out", str(tmp_path / "out"),
                     "--scheduler", cluster.address, "--no-progress", "--json")
    report = json.loads(text)
    assert code == 1 and (report["done"], report["failed"]) == (1, 3)
    rows = {Path(r["path"]).name: r for r in read(tmp_path / "out", "recordings.parquet")}
    path = str((tmp_path / "cut-in-data.edf").resolve())
    assert rows["cut-in-data.edf"]["status"] == "failed"
    assert rows["cut-in-data.edf"]["error"] == \
        f"{path}: truncated: {n // 2} of {n} data records present (and {record // 3} of {record} bytes of " \
        f"data record {n // 2 + 1})"
    assert rows["cut-between-records.edf"]["error"].endswith(f"truncated: {n - 7} of {n} data records present")
    assert "truncated header" in rows["cut-in-header.edf"]["error"]
    for name in ("cut-in-data.edf", "cut-between-records.edf", "cut-in-header.edf"):
        assert rows[name]["status"] == "failed" and rows[name]["summary_json"] is None
    assert rows["unfinished.edf"]["status"] == "done" and rows["unfinished.edf"]["duration_s"] == 20 * layout.record_s
    assert any("unknown number (-1)" in w for w in rows["unfinished.edf"]["warnings"])
    failed_ids = {r["recording_id"] for r in rows.values() if r["status"] == "failed"}
    assert all(e["recording_id"] not in failed_ids for e in read(tmp_path / "out", "events.parquet"))
    # analyze itself still reads what is there, and says so.
    code, text = cli("analyze", str(tmp_path / "cut-in-data.edf"), "--json", "--workers", "1")
    assert code == 0 and json.loads(text)["recording"]["duration_s"] == (n // 2) * layout.record_s


EMGDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "physionet_emgdb"
MONTAGES = Path(__file__).resolve().parents[1] / "docs" / "montages"


def test_real_wfdb_records_by_any_name_equal_analyze_and_share_the_history_key(cluster, tmp_path):
    if not (EMGDB / "emg_healthy.hea").is_file():
        pytest.skip(f"real recordings not found at {EMGDB} (see ../shared/data/README.md)")
    from fascdetect.history.store import file_sha256

    montage = str(MONTAGES / "physionet_emgdb.toml")
    code, text = cli("batch", str(EMGDB / "emg_healthy"), str(EMGDB / "emg_healthy.dat"),
                     str(EMGDB / "emg_myopathy.hea"), "--montage", montage, "--out", str(tmp_path / "out"),
                     "--scheduler", cluster.address, "--no-progress", "--json")
    assert code == 0 and json.loads(text)["found"] == 2
    rows = read(tmp_path / "out", "recordings.parquet")
    events = read(tmp_path / "out", "events.parquet")
    assert [Path(r["path"]).name for r in rows] == ["emg_healthy.hea", "emg_myopathy.hea"]
    for row in rows:
        assert row["recording_id"] == file_sha256(row["path"])
        _, doc = cli("analyze", row["path"], "--montage", montage, "--json")
        doc = json.loads(doc)
        assert json.loads(row["summary_json"]) == doc["summary"]
        assert [{k: v for k, v in without_nulls(e).items() if k != "recording_id"}
                for e in events if e["recording_id"] == row["recording_id"]] == doc["events"]


def test_a_truncated_wfdb_record_is_a_failed_row(cluster, tmp_path):
    if not (EMGDB / "emg_healthy.hea").is_file():
        pytest.skip(f"real recordings not found at {EMGDB} (see ../shared/data/README.md)")
    (tmp_path / "emg_healthy.hea").write_bytes((EMGDB / "emg_healthy.hea").read_bytes())
    (tmp_path / "emg_healthy.dat").write_bytes((EMGDB / "emg_healthy.dat").read_bytes()[:2 * 30000 + 1])
    code, text = cli("batch", str(tmp_path / "emg_healthy.hea"), "--montage", str(MONTAGES / "physionet_emgdb.toml"),
                     "--out", str(tmp_path / "out"), "--scheduler", cluster.address, "--no-progress", "--json")
    assert code == 1
    [row] = read(tmp_path / "out", "recordings.parquet")
    assert row["status"] == "failed" and row["error"].endswith("truncated: 30000 of 50860 samples present")


def test_a_rerun_processes_nothing_already_done(first_run, cohort, cluster):
    out, _, _ = first_run
    parts = sorted((out / "parts").rglob("*.*"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in parts if p.name != ".lock"}
    rows_before = read(out, "recordings.parquet")
    events_before = read(out, "events.parquet")

    # Same arguments: the six done nights are skipped without a task; the failed file is tried again.
    code, text = cli("batch", str(cohort / "*.edf"), "--out", str(out), "--scheduler", cluster.address,
                     "--no-progress", "--json")
    again = json.loads(text)
    assert (code, again["analysed"], again["unchanged"], again["done"], again["failed"]) == (1, 1, 6, 6, 1)
    good = {p: v for p, v in before.items() if "corrupt" not in p.name and
            not (p.suffix == ".json" and json.loads(v[1])["status"] == "failed")}
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in good} == good
    assert [without_nulls(r) for r in read(out, "recordings.parquet") if r["status"] == "done"] == \
        [without_nulls(r) for r in rows_before if r["status"] == "done"]
    assert read(out, "events.parquet") == events_before

    # A night copied back over itself (new modification time, same bytes) is hashed, not analysed again.
    night = cohort / "night1.edf"
    os.utime(night, ns=(night.stat().st_atime_ns, night.stat().st_mtime_ns + 10**9))
    code, text = cli("batch", str(cohort / "night*.edf"), "--out", str(out), "--scheduler", cluster.address,
                     "--no-progress", "--json")
    again = json.loads(text)
    assert (code, again["analysed"], again["unchanged"], again["done"], again["failed"]) == (0, 0, 6, 6, 0)
    assert read(out, "events.parquet") == events_before

    # Other detector settings are other results: everything is analysed again.
    code, text = cli("batch", str(cohort / "night*.edf"), "--out", str(out), "--scheduler", cluster.address,
                     "--no-progress", "--json", "--set", "threshold_on=4.0")
    assert json.loads(text)["analysed"] == 6
    assert {r["settings_sha256"] for r in read(out, "recordings.parquet")} != \
        {r["settings_sha256"] for r in rows_before}


def test_save_adds_each_recording_to_the_history_once(cohort, cluster, tmp_path):
    from fascdetect.history.store import History

    nights = [str(cohort / "night1.edf"), str(cohort / "night2.edf")]
    db = tmp_path / "history.sqlite3"
    for expected in ((2, 0, 2), (0, 2, 0)):
        code, text = cli("batch", *nights, "--out", str(tmp_path / "out"), "--scheduler", cluster.address,
                         "--no-progress", "--json", "--save", "--db", str(db))
        report = json.loads(text)
        assert code == 0 and (report["analysed"], report["unchanged"], report["history"]["saved"]) == expected
    with History(db, create=False) as history:
        stored = history.recordings()
    assert sorted(r["sha256"] for r in stored) == sorted(sha256(n) for n in nights)
    # A new database lacks them: done recordings are analysed again to be saved there.
    code, text = cli("batch", *nights, "--out", str(tmp_path / "out"), "--scheduler", cluster.address,
                     "--no-progress", "--json", "--save", "--db", str(tmp_path / "other.sqlite3"))
    assert (json.loads(text)["analysed"], json.loads(text)["history"]["saved"]) == (2, 2)


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split-by-foot"])
def test_a_worker_killed_mid_task_still_gives_the_complete_result(cohort, reference, long_night, cluster, tmp_path,
                                                                   split):
    """Whole: the long night's one task is killed. Split: the worker analysing one of its feet is killed."""
    from distributed import get_task_stream

    from fascdetect.batch.store import path_key

    long, doc = long_night
    expected = dict(reference, **{str(long): doc})
    long_key = f"fascdetect-batch-{path_key(str(long.resolve()))}"
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cluster.client.wait_for_workers(2, timeout=STARTUP_TIMEOUT_S)
    batch = subprocess.Popen(
        [sys.executable, "-m", "fascdetect", "batch", str(long), str(cohort / "*.edf"), "--out", str(out),
         "--scheduler", cluster.address, "--no-progress", "--json"]
        + (["--split-mb", split_mb(cohort, long)] if split else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    killed = killed_key = killed_addr = None
    stray = []
    try:
        with get_task_stream(client=cluster.client) as stream:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            polls = 0
            while killed is None and batch.poll() is None and time.monotonic() < deadline:
                for addr, keys in cluster.client.processing().items():
                    mine = [str(k) for k in keys if str(k).startswith(long_key)
                            and (not split or str(k).endswith(("-L", "-R")))]
                    if mine:
                        name = cluster.client.scheduler_info()["workers"][addr]["name"]
                        killed, killed_key, killed_addr = cluster.workers[str(name)], mine[0], addr
                        killed.send_signal(signal.SIGKILL)
                        killed.wait()
                        break
                if polls % 10 == 0:
                    stray += non_loopback([batch.pid] + cluster.pids())
                polls += 1
                time.sleep(0.02)
            assert killed is not None, "the long recording's task was not seen running on a worker"
            stdout, stderr = batch.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if batch.poll() is None:
            batch.kill()
        cluster.start_worker(f"w{len(cluster.workers)}")
    assert batch.returncode == 1, stderr.decode()
    report = json.loads(stdout)
    assert (report["done"], report["failed"]) == (N_NIGHTS + 1, 1)
    assert stray == []
    # The task the dead worker held ran again on another worker; the output is whole and right.
    ran_on = [t["worker"] for t in stream.data if t["key"] == killed_key]
    assert ran_on and killed_addr not in ran_on
    rows = read(out, "recordings.parquet")
    events = read(out, "events.parquet")
    assert len(rows) == N_NIGHTS + 2
    if not split:  # split, the long night's first task (and nights) may have finished there before the kill
        assert all(r["worker"].rsplit(":", 1)[1] != str(killed.pid) for r in rows if r["worker"])
    for row in rows:
        if row["status"] == "done":
            assert_equals_analyze(row, expected[row["path"]],
                                  [e for e in events if e["recording_id"] == row["recording_id"]])


def test_ctrl_c_with_one_foot_done_leaves_no_part_of_the_recording_and_a_rerun_finishes(long_night, cluster,
                                                                                        tmp_path):
    """A split recording is done only when all its feet are: with one foot finished, nothing of it lands."""
    from fascdetect.batch.store import path_key

    def states(prefix, dask_scheduler=None):
        return {str(k): ts.state for k, ts in dask_scheduler.tasks.items() if str(k).startswith(prefix)}

    long, doc = long_night
    long_key = f"fascdetect-batch-{path_key(str(long))}"
    out = tmp_path / "out"
    args = ["batch", str(long), "--out", str(out), "--scheduler", cluster.address, "--split-mb", "0",
            "--no-progress", "--json"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cluster.client.wait_for_workers(2, timeout=STARTUP_TIMEOUT_S)
    batch = subprocess.Popen([sys.executable, "-m", "fascdetect", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
    frozen = frozen_key = None
    interrupted_at = {}
    try:
        # Stop (SIGSTOP) the worker of the first foot seen running; when the other foot is done, Ctrl-C.
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while batch.poll() is None and time.monotonic() < deadline:
            if frozen is None:
                for addr, keys in cluster.client.processing().items():
                    feet = [str(k) for k in keys if str(k).startswith(long_key) and str(k).endswith(("-L", "-R"))]
                    if feet:
                        name = cluster.client.scheduler_info()["workers"][addr]["name"]
                        frozen, frozen_key = cluster.workers[str(name)], feet[0]
                        frozen.send_signal(signal.SIGSTOP)
                        break
            else:
                now = cluster.client.run_on_scheduler(states, long_key)
                other = [k for k in now if k.endswith(("-L", "-R")) and k != frozen_key]
                if other and now[other[0]] == "memory":
                    interrupted_at = now
                    batch.send_signal(signal.SIGINT)
                    break
            time.sleep(0.02)
        stdout, stderr = batch.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if frozen is not None:
            frozen.send_signal(signal.SIGCONT)
        if batch.poll() is None:
            batch.kill()
    assert frozen is not None and interrupted_at, "one foot was not seen done while the other was held"
    assert interrupted_at[frozen_key] == "processing"
    assert not any(k.endswith("-merge") and state == "memory" for k, state in interrupted_at.items())
    assert batch.returncode == 130, stderr.decode()
    report = json.loads(stdout)
    assert report["interrupted"] and (report["done"], report["failed"]) == (0, 0)
    assert read(out, "recordings.parquet") == [] and read(out, "events.parquet") == []
    assert not list((out / "parts").rglob("*.json")) and not list((out / "parts").rglob("*.parquet"))
    assert not list(out.rglob("*.tmp-*"))

    # The same command again analyses it whole.
    code, text = cli(*args)
    assert code == 0 and json.loads(text)["done"] == 1
    [row] = read(out, "recordings.parquet")
    assert_equals_analyze(row, doc, read(out, "events.parquet"))


def test_the_cluster_listens_and_connects_on_loopback_only(cluster, first_run):
    info = cluster.client.scheduler_info()
    assert info["address"].startswith("tcp://127.0.0.1:")
    assert info["workers"] and all(addr.startswith("tcp://127.0.0.1:") for addr in info["workers"])
    pids = cluster.pids() + [os.getpid()]
    assert listening(pids) and all(ipaddress.ip_address(ip).is_loopback for ip in listening(pids))
    assert non_loopback(pids) == []


# --- the embedded engine ------------------------------------------------------------
def test_local_cluster_ctrl_c_leaves_a_consistent_output_and_a_rerun_finishes(cohort, reference, long_night,
                                                                               tmp_path):
    long, doc = long_night
    expected = dict(reference, **{str(long): doc})
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    # The long recording comes last: one worker cannot have finished it when Ctrl-C comes.
    args = [sys.executable, "-m", "fascdetect", "batch", str(cohort), str(cohort / "corrupt.edf"), str(long),
            "--out", str(out), "--workers", "1", "--no-progress", "--json"]
    batch = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stray = []
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        parts = out / "parts" / "recordings"
        # Wait for two finished nights, then press Ctrl-C.
        while batch.poll() is None and time.monotonic() < deadline:
            stray += non_loopback([batch.pid])
            done = [p for p in parts.glob("*.json") if json.loads(p.read_text())["status"] == "done"] \
                if parts.is_dir() else []
            if len(done) >= 2:
                batch.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
        stdout, stderr = batch.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if batch.poll() is None:
            batch.kill()
    assert stray == []
    assert batch.returncode == 130, stderr.decode()
    report = json.loads(stdout)
    assert report["interrupted"] and 2 <= report["done"] <= N_NIGHTS
    rows = read(out, "recordings.parquet")
    events = read(out, "events.parquet")
    assert len(rows) == report["done"] + report["failed"]
    counts: dict[str, int] = {}
    for e in events:
        counts[e["recording_id"]] = counts.get(e["recording_id"], 0) + 1
    done = [r for r in rows if r["status"] == "done"]
    assert {r["recording_id"] for r in done if r["n_events"]} == set(counts)
    for r in done:
        assert counts.get(r["recording_id"], 0) == r["n_events"] == len(expected[r["path"]]["events"])
    assert not list(out.rglob("*.tmp-*"))

    # The rerun analyses only what was not done, and ends with the whole cohort.
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    code, text = cli(*args[3:])
    again = json.loads(text)
    assert code == 1 and not again["interrupted"]
    assert again["unchanged"] == report["done"] and again["done"] == N_NIGHTS + 1 and again["failed"] == 1
    assert again["analysed"] == N_NIGHTS + 2 - report["done"]
    events = read(out, "events.parquet")
    assert len(events) == sum(len(d["events"]) for d in expected.values())
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert [p.cmdline() for p in left if "resource_tracker" not in " ".join(p.cmdline())] == []


# --- store and discovery, without Dask ------------------------------------------------
def test_discovery_walks_directories_globs_and_keeps_a_missing_path(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.edf", "a/b/y.BDF", "a/x.truth.tsv", "a/r.hea", "a/r.dat", "a/t.csv", "a/.hidden.edf"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "a" / ".cache").mkdir()
    (tmp_path / "a" / ".cache" / "z.edf").write_bytes(b"")
    found = discover([str(tmp_path / "a"), str(tmp_path / "a" / "*.csv"), str(tmp_path / "a" / "r.dat"),
                      str(tmp_path / "gone.edf")])
    names = [str(p.relative_to(tmp_path.resolve())) for p in found]
    assert names == ["a/.hidden.edf", "a/r.hea", "a/x.edf", "a/b/y.BDF", "a/t.csv", "gone.edf"]
    assert discover([str(tmp_path / "a")], exclude=tmp_path / "a" / "b") == \
        [p for p in found[:3]]


def test_a_glob_that_matches_nothing_is_said(tmp_path, caplog):
    """Beside paths that match, a mistyped glob is not silently dropped: its pattern is named."""
    (tmp_path / "x.edf").write_bytes(b"")
    with caplog.at_level("WARNING", logger="fascdetect.batch.discover"):
        found = discover([str(tmp_path / "x.edf"), str(tmp_path / "nigth*.edf")])
    assert [p.name for p in found] == ["x.edf"]
    assert [r.getMessage() for r in caplog.records] == [f"{tmp_path / 'nigth*.edf'}: no recording matches "
                                                        "(other than ones already listed)"]


def test_a_field_that_is_a_number_in_one_file_and_text_in_another_becomes_text(tmp_path):
    store = BatchStore(tmp_path)
    for i, value in enumerate([3, "n/a"]):
        result = {"recording": {}, "events": [{"kind": "twitch", "onset": 1.0, "note": value}],
                  "summary": {"odd": value}}
        store.commit(Outcome(f"/c/{i}.edf", "done", recording_id=f"id{i}", result=result,
                             analysed_at="2026-01-06T08:00:00+00:00"), "s" * 64, {})
    store.compact(["/c/0.edf", "/c/1.edf"])
    store.close()
    assert [r["odd"] for r in read(tmp_path, "recordings.parquet")] == ["3", "n/a"]
    assert [e["note"] for e in read(tmp_path, "events.parquet")] == ["3", "n/a"]


def test_an_output_path_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert main(["batch", str(tmp_path / "night.edf"), "--out", str(tmp_path / "taken")]) == 2
    assert "cannot use" in capsys.readouterr().err


def test_a_missing_file_is_a_failed_row_without_any_engine(tmp_path):
    code, text = cli("batch", str(tmp_path / "gone.edf"), "--out", str(tmp_path / "out"), "--json")
    report = json.loads(text)
    assert code == 1 and report["failures"][0]["error"].endswith("gone.edf: file not found")
    [row] = read(tmp_path / "out", "recordings.parquet")
    assert row["status"] == "failed" and read(tmp_path / "out", "events.parquet") == []


_event = st.fixed_dictionaries(
    {"kind": st.sampled_from(["twitch", "burst", "cramp", "movement", "activity"]),
     "onset": st.floats(0, 1e5), "duration": st.floats(0, 100)},
    optional={"peak_uv": st.floats(0, 1e4), "peak_mg": st.floats(0, 1e4), "pattern": st.just("gait"),
              "doublet": st.booleans(), "rate_hz": st.floats(0, 100)})
_summary = st.fixed_dictionaries(
    {"regions": st.lists(st.fixed_dictionaries({"side": st.sampled_from("LR"), "region": st.sampled_from(["ADM", "AbH"]),
                                                "twitches": st.integers(0, 99)}), max_size=3,
                         unique_by=lambda r: (r["side"], r["region"])),
     "twitches": st.integers(0, 99)},
    optional={"channels": st.dictionaries(st.sampled_from(["EMG L-ADM", "EMG R-AbH"]),
                                          st.fixed_dictionaries({"rest_s": st.floats(0, 1e4)})),
              "extra": st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False))})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), _summary, st.lists(_event, max_size=6)), min_size=1, max_size=5))
def test_parts_compact_into_tables_that_hold_every_field(recordings):
    """Whatever fields the analyser's JSON carries (new kinds, new summary keys), they reach the Parquet.

    A field keeps one type across recordings (as the analyser's do), except that integers and floats mix.
    """
    with tempfile.TemporaryDirectory() as d:
        store = BatchStore(d)
        settings_json = {"detector": {"x": 1}}
        s = settings_sha256(settings_json)
        paths = []
        for i, (ok, summary, events) in enumerate(recordings):
            path = f"/cohort/{i}.edf"
            paths.append(path)
            result = {"recording": {"path": path, "duration_s": 60.0, "start": "2026-01-05T22:00:00",
                                    "channels": [], "skipped": []}, "events": events, "summary": summary}
            store.commit(Outcome(path, "done" if ok else "failed", recording_id=f"id{i}",
                                 error=None if ok else "broken", result=result if ok else None,
                                 analysed_at="2026-01-06T08:00:00+00:00"), s, settings_json)
        store.compact(paths)
        store.close()
        rows = pq.read_table(Path(d) / "recordings.parquet").to_pylist()
        events = pq.read_table(Path(d) / "events.parquet").to_pylist()
    assert [r["path"] for r in rows] == paths
    for row, (ok, summary, evs) in zip(rows, recordings):
        assert row["status"] == ("done" if ok else "failed")
        if ok:
            assert json.loads(row["summary_json"]) == summary
            for name, value in flatten_summary(summary).items():
                got = row[name]
                assert got == value or (isinstance(value, int) and math.isclose(got, value)), name
            mine = [{k: v for k, v in without_nulls(e).items() if k != "recording_id"}
                    for e in events if e["recording_id"] == row["recording_id"]]
            assert mine == [{k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                             for k, v in e.items()} for e in evs]
    assert len(events) == sum(len(evs) for ok, _, evs in recordings if ok)
