"""History database and its commands, on real SQLite files and real simulated recordings.

The recordings are short (1 minute, one foot, two EMG channels) so the whole
module runs in well under a minute on two shared cores.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fascdetect.cli import main
from fascdetect.history.store import MIGRATIONS, SCHEMA_VERSION, History, night_of

NIGHTS = 5
SIM_ARGS = ["--duration", "1m", "--sides", "R", "--emg-regions", "ADM,AbH", "--acc-regions", "", "--no-progress"]


@pytest.fixture(scope="module")
def nights_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nights") / "sim"
    assert main(["simulate", "--nights", str(NIGHTS), "--start", "2026-03-02", "--out", str(out), *SIM_ARGS]) == 0
    return out


def edfs(d: Path) -> list[str]:
    return sorted(str(p) for p in d.glob("*.edf"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_simulated_history_has_a_recording_per_night_and_a_diary(nights_dir):
    files = edfs(nights_dir)
    assert [Path(f).stem for f in files] == [f"2026-03-0{d}" for d in range(2, 2 + NIGHTS)]
    diary = (nights_dir / "diary.tsv").read_text().splitlines()
    assert diary[0].split("\t") == ["date", "tags", "symptoms", "note"]
    assert any("exercise=" in line for line in diary[1:])
    assert mode(nights_dir / "diary.tsv") == 0o600


def test_round_trip_add_twice_import_diary_and_report(nights_dir, tmp_path, capsys):
    db = tmp_path / "h" / "history.sqlite3"
    rc, out, _ = cli(["history", "add", "--no-progress", "--db", str(db), *edfs(nights_dir)], capsys)
    assert rc == 0 and f"{NIGHTS} recording(s) stored, 0 already" in out
    rc, out, _ = cli(["history", "add", "--no-progress", "--db", str(db), *edfs(nights_dir)], capsys)
    assert rc == 0 and f"0 recording(s) stored, {NIGHTS} already in the history" in out
    assert out.count("already in the history:") == NIGHTS
    rc, out, _ = cli(["history", "list", "--json", "--db", str(db)], capsys)
    rows = json.loads(out)
    assert [r["night"] for r in rows] == [f"2026-03-0{d}" for d in range(2, 2 + NIGHTS)]
    assert all(r["channels"] == 2 and r["version"] and r["settings"] for r in rows)
    assert cli(["diary", "import", "--db", str(db), str(nights_dir / "diary.tsv")], capsys)[0] == 0
    rc, out, _ = cli(["diary", "import", "--db", str(db), str(nights_dir / "diary.tsv")], capsys)
    assert "imported 0 diary entries" in out and "already there" in out
    report = tmp_path / "report.html"
    rc, out, _ = cli(["report", "--db", str(db), "--out", str(report)], capsys)
    assert rc == 0 and f"{NIGHTS} recorded night(s)" in out
    html = report.read_text()
    for d in range(2, 2 + NIGHTS):
        assert f'<tr data-night="2026-03-0{d}">' in html
    # exercise days have more little-toe twitching in the simulated person: the association must be positive
    tag_row = html.split('data-tag="exercise"')[1]
    difference = float(tag_row.split('data-difference="')[1].split('"')[0])
    assert difference > 0
    assert mode(db) == 0o600 and mode(db.parent) == 0o700 and mode(report) == 0o600
    for side_file in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if side_file.exists():
            assert mode(side_file) == 0o600


def test_stored_rows_match_the_analysis(nights_dir, tmp_path, capsys):
    first = edfs(nights_dir)[0]
    db = tmp_path / "h.sqlite3"
    rc, out, err = cli(["analyze", first, "--json", "--save", "--db", str(db)], capsys)
    assert rc == 0 and "saved" in err
    result = json.loads(out)
    with History(db) as h:
        (rec,) = h.recordings()
        assert rec["n_events"] == len(result["events"])
        assert len(h.events(rec["id"])) == len(result["events"])
        assert rec["duration_s"] == pytest.approx(result["recording"]["duration_s"])
        assert rec["start"] == result["recording"]["start"]
        stored = {(r["side"], r["region"]): r["twitches"] for r in h.regions(rec["id"])}
        assert stored == {(r["side"], r["region"]): r["twitches"] for r in result["summary"]["regions"]}
        chans = h.channels(rec["id"])
        assert [c["label"] for c in chans] == [c["label"] for c in result["recording"]["channels"]]
        assert all(0 < c["rest_s"] <= rec["duration_s"] for c in chans)
        json_rest = {c["label"]: c.get("rest_s") for c in result["recording"]["channels"]}
        if all(v is not None for v in json_rest.values()):  # the analysis gives rest per channel: stored as given
            assert {c["label"]: c["rest_s"] for c in chans} == pytest.approx(json_rest)
        json_regions = {(r["side"], r["region"]): r.get("rest_s") for r in result["summary"]["regions"]}
        if all(v is not None for v in json_regions.values()):
            assert {(r["side"], r["region"]): r["rest_s"] for r in h.regions(rec["id"])} == pytest.approx(json_regions)
    rc, _, err = cli(["analyze", first, "--save", "--db", str(db)], capsys)
    assert rc == 0 and "already in the history" in err


def test_remove_deletes_the_recording_and_its_rows(nights_dir, tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    cli(["history", "add", "--no-progress", "--db", str(db), edfs(nights_dir)[1]], capsys)
    rc, out, _ = cli(["history", "remove", "1", "--db", str(db)], capsys)
    assert rc == 0 and "removed recording 1" in out
    con = sqlite3.connect(db)
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("recordings", "events", "regions",
                                                                            "channels", "movement")] == [0] * 5
    con.close()
    rc, _, err = cli(["history", "remove", "1", "--db", str(db)], capsys)
    assert rc == 6 and "no recording with id 1" in err and len(err.strip().splitlines()) == 1


def test_diary_add_and_list(tmp_path, capsys):
    db = str(tmp_path / "h.sqlite3")
    rc, out, _ = cli(["diary", "add", "--db", db, "--date", "2026-03-04", "--tag", "caffeine=3", "--tag", "Hot-Soak",
                      "--symptom", "pain", "--symptom", "pain", "--note", "long day"], capsys)
    assert rc == 0 and "night of 2026-03-04" in out
    rc, out, _ = cli(["diary", "list", "--json", "--db", db], capsys)
    (e,) = json.loads(out)
    assert e["night"] == "2026-03-04" and e["symptoms"] == ["pain"] and e["note"] == "long day"
    assert e["tags"] == [{"name": "caffeine", "value": "3"}, {"name": "hot-soak", "value": ""}]
    rc, _, err = cli(["diary", "add", "--db", db, "--tag", "bad tag!"], capsys)
    assert rc == 2 and "bad diary tag" in err
    rc, _, err = cli(["diary", "add", "--db", db, "--date", "2026-02-30", "--note", "x"], capsys)
    assert rc == 2 and "cannot read date" in err
    rc, _, err = cli(["diary", "add", "--db", db], capsys)
    assert rc == 2 and "nothing to note" in err
    with pytest.raises(SystemExit):  # argparse: not one of the fixed warning signs
        main(["diary", "add", "--db", db, "--symptom", "itching"])


def test_diary_dates_in_words():
    from datetime import date

    from fascdetect.history.diary import parse_date

    assert parse_date("last night", relative=True, today=date(2026, 3, 1)) == "2026-02-28"
    assert parse_date("Tonight", relative=True, today=date(2026, 3, 1)) == "2026-03-01"


def test_diary_default_date_follows_the_night_rule(tmp_path, capsys):
    db = str(tmp_path / "h.sqlite3")
    cli(["diary", "add", "--db", db, "--tag", "stress=high"], capsys)
    rc, out, _ = cli(["diary", "list", "--json", "--db", db], capsys)
    assert json.loads(out)[0]["night"] == night_of(datetime.now()).isoformat()


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2100, 1, 1)))
def test_night_of_is_the_evening_the_night_began(t):
    expected = t.date() if t.hour >= 12 else t.date() - timedelta(days=1)
    assert night_of(t) == expected


def _first_schema_file(path: Path) -> None:
    """A database exactly as the first schema left it, with one recording in it."""
    con = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            con.execute(statement)
    con.execute("PRAGMA application_id=1178686275")
    con.execute("PRAGMA user_version=1")
    con.execute("INSERT INTO recordings VALUES (7, 'abc', '/x/night.edf', '2026-03-02T23:00:00', '2026-03-02', 3600.0, "
                "'{}', '0.1.0', '2026-03-03T08:00:00+00:00', 0, '[]', '[]')")
    con.execute("INSERT INTO channels VALUES (7, 'EMG R-ADM', 'EMG', 'R', 'ADM', NULL, 'uV', 2000.0, 3500.0)")
    con.execute("INSERT INTO regions VALUES (7, 'R', 'ADM', 120, 2.057, 3500.0, 0, 0, 0, 0.0, 0.0)")
    con.commit()
    con.close()


def test_migration_from_the_first_schema(tmp_path, capsys):
    db = tmp_path / "old.sqlite3"
    _first_schema_file(db)
    with History(db) as h:
        assert h.schema_version == SCHEMA_VERSION
        (rec,) = h.recordings()
        assert rec["id"] == 7 and rec["twitches"] == 120
        h.add_diary("2026-03-02", [("exercise", "jog")], ["numbness"], "")
    rc, out, _ = cli(["diary", "list", "--json", "--db", str(db)], capsys)
    assert json.loads(out)[0]["symptoms"] == ["numbness"]
    rc, out, _ = cli(["report", "--db", str(db), "--out", str(tmp_path / "r.html")], capsys)
    assert rc == 0 and "numbness or tingling" in (tmp_path / "r.html").read_text()


def test_newer_schema_is_refused_unchanged(tmp_path, capsys):
    db = tmp_path / "new.sqlite3"
    _first_schema_file(db)
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=99")
    con.commit()
    con.close()
    before = db.read_bytes()
    rc, _, err = cli(["diary", "add", "--db", str(db), "--note", "x"], capsys)
    assert rc == 6 and "newer fascdetect" in err and len(err.strip().splitlines()) == 1
    assert db.read_bytes() == before


@pytest.mark.parametrize("content", [b"this is not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_database_gives_one_line_and_changes_nothing(nights_dir, tmp_path, capsys, content):
    db = tmp_path / "bad.sqlite3"
    db.write_bytes(content)
    for args in (["history", "add", "--no-progress", edfs(nights_dir)[0]], ["history", "list"],
                 ["diary", "add", "--note", "x"], ["report", "--out", str(tmp_path / "r.html")],
                 ["analyze", edfs(nights_dir)[0], "--save"]):
        rc, _, err = cli([*args, "--db", str(db)], capsys)
        assert rc == 6, (args, err)
        assert len(err.strip().splitlines()) == 1 and str(db) in err and "Traceback" not in err
        assert db.read_bytes() == content
    assert not (tmp_path / "r.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sqlite3"]


def test_another_programs_database_is_refused(tmp_path, capsys):
    db = tmp_path / "other.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE songs (title TEXT)")
    con.commit()
    con.close()
    before = db.read_bytes()
    rc, _, err = cli(["diary", "add", "--note", "x", "--db", str(db)], capsys)
    assert rc == 6 and "another program" in err and db.read_bytes() == before


def test_locked_database_gives_one_line_and_changes_nothing(tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    with History(db) as h:
        h.add_diary("2026-03-02", [("a", "")], [], "")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        rc, _, err = cli(["diary", "add", "--note", "while locked", "--db", str(db)], capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rc == 6 and "busy" in err and len(err.strip().splitlines()) == 1
    with History(db) as h:
        assert [e["note"] for e in h.diary()] == [""]


def _count_consistent(db: Path) -> int:
    """Recordings in the database, after checking each has exactly its events and summary rows."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT id, n_events FROM recordings").fetchall()
        for rid, n_events in rows:
            assert con.execute("SELECT count(*) FROM events WHERE recording_id=?", (rid,)).fetchone()[0] == n_events
            assert con.execute("SELECT count(*) FROM regions WHERE recording_id=?", (rid,)).fetchone()[0] == 2
            assert con.execute("SELECT count(*) FROM channels WHERE recording_id=?", (rid,)).fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM events WHERE recording_id NOT IN (SELECT id FROM recordings)"
                           ).fetchone()[0] == 0
        return len(rows)
    finally:
        con.close()


def test_killed_add_leaves_a_consistent_database(nights_dir, tmp_path):
    db = tmp_path / "h.sqlite3"
    files = edfs(nights_dir)
    cmd = [sys.executable, "-m", "fascdetect", "history", "add", "--no-progress", "--db", str(db), *files]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
                stored = con.execute("SELECT count(*) FROM recordings").fetchone()[0]
                con.close()
            except sqlite3.Error:
                stored = 0  # schema not there yet
        if stored >= 1:
            break
        time.sleep(0.02)
    killed = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert killed, "history add finished before it could be killed"
    kept = _count_consistent(db)
    assert 1 <= kept < len(files)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(files) - kept} recording(s) stored, {kept} already in the history" in done.stdout
    assert _count_consistent(db) == len(files)


def test_record_save_stores_the_night_when_the_recording_closes(tmp_path, capsys):
    db, out = tmp_path / "h.sqlite3", tmp_path / "rec.edf"
    rc, stdout, _ = cli(["record", "--source", "sim:rest", "--duration", "5s", "--out", str(out), "--status-every", "0",
                         "--save", "--db", str(db)], capsys)
    assert rc == 0 and "saved" in stdout
    with History(db) as h:
        (rec,) = h.recordings()
        assert rec["duration_s"] == pytest.approx(5.0) and Path(rec["path"]) == out.resolve()


def test_two_recordings_of_one_night_are_pooled(tmp_path, capsys, monkeypatch):
    a, b = tmp_path / "a.edf", tmp_path / "b.edf"
    assert main(["simulate", "--start", "2026-03-02T23:10", "--out", str(a), "--seed", "1", *SIM_ARGS]) == 0
    assert main(["simulate", "--start", "2026-03-03T02:40", "--out", str(b), "--seed", "2", *SIM_ARGS]) == 0
    monkeypatch.setenv("FASCDETECT_DB", str(tmp_path / "env.sqlite3"))
    rc, out, _ = cli(["history", "add", "--no-progress", str(a), str(b)], capsys)
    assert rc == 0 and str(tmp_path / "env.sqlite3") in out
    from fascdetect.history.nights import load_period

    with History() as h:
        assert [r["night"] for r in h.recordings()] == ["2026-03-02", "2026-03-02"]
        p = load_period(h)
        twitches = sum(r["twitches"] for rec in h.recordings() for r in h.regions(rec["id"]))
    (night,) = p.nights
    assert night.recorded_s == pytest.approx(120.0) and night.twitches == twitches
    assert p.detail.recordings[1][0] == pytest.approx(3.5 * 3600)  # the second starts 3 h 30 min later
    html_path = tmp_path / "r.html"
    assert main(["report", "--out", str(html_path)]) == 0
    assert html_path.read_text().count('<tr data-night="') == 1


def test_add_goes_on_past_an_unreadable_file(nights_dir, tmp_path, capsys):
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"0" * 512)
    db = tmp_path / "h.sqlite3"
    rc, out, err = cli(["history", "add", "--no-progress", "--db", str(db), str(junk), edfs(nights_dir)[0]], capsys)
    assert rc == 3 and "junk.edf" in err and "1 recording(s) stored" in out and "1 could not be read" in out


def test_rest_time_comes_from_the_summary_when_it_has_it():
    from fascdetect.history.store import channel_rest_s

    chans = [{"label": "EMG R-ADM", "side": "R", "region": "ADM"}, {"label": "EMG R-AbH", "side": "R", "region": "AbH"}]
    movement = {"movement": {"R": {"count": 1, "total_s": 10.0}}}
    assert channel_rest_s(movement, chans, 100.0) == {"EMG R-ADM": 90.0, "EMG R-AbH": 90.0}
    for summary in ({"channels": [{"label": "EMG R-ADM", "rest_s": 42.0}]},
                    {"channels": {"EMG R-ADM": {"rest_s": 42.0}}}, {"rest_s": {"EMG R-ADM": 42.0}}):
        assert channel_rest_s(summary | movement, chans, 100.0) == {"EMG R-ADM": 42.0, "EMG R-AbH": 90.0}
    regions = {"regions": [{"side": "R", "region": "AbH", "rest_s": 55.5}]}
    assert channel_rest_s(regions | movement, chans, 100.0) == {"EMG R-ADM": 90.0, "EMG R-AbH": 55.5}


def test_two_adds_at_once_store_each_recording_once(nights_dir, tmp_path):
    db = tmp_path / "h.sqlite3"
    cmd = [sys.executable, "-m", "fascdetect", "history", "add", "--no-progress", "--db", str(db), *edfs(nights_dir)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    stored = [int(out.split(" recording(s) stored")[0].rsplit("\n", 1)[-1]) for out, _ in outs]
    assert sum(stored) == NIGHTS
    assert _count_consistent(db) == NIGHTS


def test_wal_side_files_are_owner_only_too(tmp_path):
    db = tmp_path / "h.sqlite3"
    old = os.umask(0o022)
    try:
        with History(db) as h:
            h.add_diary("2026-03-02", [("x", "")], [], "")
            assert h.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
            assert wal.exists() and shm.exists()
            assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        os.umask(old)


def test_damage_inside_the_file_is_found_before_writing(tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    with History(db) as h:
        h.import_diary([(f"2026-03-{1 + i % 28:02d}", [("tag", str(i))], [], "x" * 200) for i in range(400)])
    size = db.stat().st_size
    with open(db, "r+b") as f:  # the header stays readable; pages in the middle do not
        f.seek(size // 2)
        f.write(b"\xde\xad" * 8192)
    before = db.read_bytes()
    for args in (["diary", "add", "--note", "x"], ["history", "remove", "1"], ["diary", "list"],
                 ["diary", "import", str(tmp_path / "none.tsv")]):
        rc, _, err = cli([*args, "--db", str(db)], capsys)
        assert rc in (2, 6) and len(err.strip().splitlines()) == 1, (args, err)
    assert db.read_bytes() == before


def test_replace_reanalyses_a_stored_recording_under_its_id(nights_dir, tmp_path, capsys):
    db, night = tmp_path / "h.sqlite3", edfs(nights_dir)[1]
    cli(["history", "add", "--no-progress", "--db", str(db), night], capsys)
    with History(db) as h:
        (before,) = h.recordings()
    rc, out, _ = cli(["history", "add", "--no-progress", "--replace", "--db", str(db), "--set",
                      "twitch_min_local_snr=40", night], capsys)
    assert rc == 0 and "0 recording(s) stored, 1 re-analysed and replaced, 0 already" in out
    with History(db) as h:
        (after,) = h.recordings()
        assert after["id"] == before["id"] and after["twitches"] < before["twitches"]
        assert after["settings"] != before["settings"]
        assert len(h.events(after["id"])) == after["n_events"]


EMGDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "physionet_emgdb"
MONTAGES = Path(__file__).resolve().parents[1] / "docs" / "montages"


def test_a_real_wfdb_record_is_one_recording_by_any_of_its_names(tmp_path, capsys):
    if not (EMGDB / "emg_healthy.hea").is_file():
        pytest.skip(f"real recordings not found at {EMGDB} (see ../shared/data/README.md)")
    db = tmp_path / "h.sqlite3"
    names = [str(EMGDB / "emg_healthy.hea"), str(EMGDB / "emg_healthy"), str(EMGDB / "emg_healthy.dat")]
    rc, out, err = cli(["history", "add", "--no-progress", "--db", str(db), "--montage",
                        str(MONTAGES / "physionet_emgdb.toml"), *names], capsys)
    assert rc == 0, err
    assert "1 recording(s) stored, 2 already in the history" in out
