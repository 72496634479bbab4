"""Windows' EventTranscript.db replayed directly: the real events back in the store they came
from, read without changing a byte, and every way the file can be unusable named in one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventtranscript_db import insert_events, write_event_transcript
from sqlalchemy import select

from diagscope.cli import main
from diagscope.sources import eventtranscript
from diagscope.sources.registry import expand_inputs, open_source
from diagscope.store.engine import open_engine
from diagscope.store.queries import request_mapping
from diagscope.store.tables import requests

REAL_DDV = Path(__file__).resolve().parent / "fixtures" / "real-samples" / "windows" / \
    "real-ddv-v1.json"
CRITICAL_DATA = 0x0000_8000_0000_0000
MEASURES = 0x0000_4000_0000_0000
#: Shown by the viewer with its "required only" switch on, and shown only without it, on the
#: author's machine (FullEventNames/RequiredOnly.txt and RequiredandOptional.txt of
#: AndrewRathbun/EventTranscript.db-Research). The TextInput events are in neither list.
SHOWN_AS_REQUIRED = "Census."
SHOWN_AS_OPTIONAL = {"Microsoft.Windows.Kernel.Power.OSStateChange", "LSM.ReconnectTime",
                     "LSM.DisconnectTime", "Win32kTraceLogging.AppInteractivitySummary"}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def jsonl(*args: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in run(*args, "--format", "jsonl").output.splitlines()]


def real_rows() -> list[dict[str, Any]]:
    """The 27 real events, with what the viewer showed about them. Keywords are test values:
    the published exports do not show them; the TextInput rows keep none."""
    rows = json.loads(REAL_DDV.read_text(encoding="utf-8"))
    for row in rows:
        name = row["Name"]
        if name.startswith(SHOWN_AS_REQUIRED):
            row["IsRequired"], row["Keywords"] = True, CRITICAL_DATA
        elif name in SHOWN_AS_OPTIONAL or "IsRequired" in row:
            row["IsRequired"], row["Keywords"] = False, MEASURES
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(db_path: str) -> list[dict[str, Any]]:
    with open_engine(db_path).connect() as conn:
        rows = conn.execute(select(requests).order_by(requests.c.seq)).mappings().all()
    return [request_mapping(row) for row in rows]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    folder = tmp_path / "EventTranscript"
    folder.mkdir()
    return write_event_transcript(folder / "EventTranscript.db", real_rows())


def test_real_events_replay_from_the_database_unchanged(transcript, db_path):
    rows = real_rows()
    before, listing = sha256(transcript), sorted(os.listdir(transcript.parent))
    assert open_source(str(transcript)).kind == "eventtranscript"

    result = run("replay", str(transcript), "--db", db_path)

    assert result.exit_code == 0, result.output
    assert [e["name"] for e in jsonl("events", "--db", db_path)] == [r["Name"] for r in rows]
    saved = stored(db_path)
    assert [r["body"] for r in saved] == [row["Payload"].encode("utf-8") for row in rows]
    hj = next(r for r in saved
              if dict(r["headers"])["X-DDV-Name"].endswith("HJ_BeforeNavigateExtended"))
    assert dict(hj["headers"])["X-DDV-Categories"] == "1,24"
    assert dict(hj["headers"])["X-DDV-Required"] == "false"
    # 2021-05-18T17:08:46.6756009Z as a FILETIME, to the microsecond
    assert hj["time"].replace(tzinfo=UTC) == datetime(2021, 5, 18, 17, 8, 46, 675600, UTC)
    assert (sha256(transcript), sorted(os.listdir(transcript.parent))) == (before, listing)


def test_viewer_facts_travel_with_each_request(transcript):
    requests_read = list(open_source(str(transcript)).requests())
    facts = {}
    for request in requests_read:
        headers = dict(request.headers)
        facts[headers["X-DDV-Name"]] = headers
    census = facts["Census.Battery"]
    assert census["X-DDV-Categories"] == "11" and census["X-DDV-Required"] == "true"
    assert census["X-DDV-Keywords"] == hex(CRITICAL_DATA) and census["X-DDV-Core"] == "true"
    assert census["X-DDV-Producer"] == "Windows"
    browsing = facts["Microsoft.Windows.App.Browser.HJ_BeforeNavigateExtended"]
    assert browsing["X-DDV-Categories"] == "1,24" and browsing["X-DDV-Required"] == "false"
    typing = facts["Microsoft.Windows.TextInput.LinguisticData.ShapeWrittenText"]
    assert typing["X-DDV-Categories"] == "17"
    assert "X-DDV-Required" not in typing and "X-DDV-Keywords" not in typing
    # Row keys are rowids: the two DPTipcSample rows are two requests, in the order written.
    paths = [r.path for r in requests_read]
    assert paths[-1].endswith("eventtranscript-row=27") and len(set(paths)) == 27
    again = [r.flow_id for r in open_source(str(transcript)).requests()]
    assert again == [r.flow_id for r in requests_read] and len(set(again)) == 27


def test_a_database_without_its_log_is_read_without_writing_beside_it(tmp_path, db_path):
    folder = tmp_path / "copied"
    folder.mkdir()
    database = write_event_transcript(folder / "EventTranscript.db", real_rows(),
                                      journal_mode="WAL")
    before = sha256(database)
    assert os.listdir(folder) == ["EventTranscript.db"]

    assert run("replay", str(database), "--db", db_path).exit_code == 0

    assert len(jsonl("events", "--db", db_path)) == 27
    assert os.listdir(folder) == ["EventTranscript.db"] and sha256(database) == before


def test_a_shadow_copy_with_its_write_ahead_log(tmp_path, db_path):
    rows = real_rows()
    live, shadow = tmp_path / "live", tmp_path / "shadow"
    live.mkdir()
    shadow.mkdir()
    database = write_event_transcript(live / "EventTranscript.db", rows[:20],
                                      journal_mode="WAL")
    writer = sqlite3.connect(database)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # the last 7 events stay in the log
    insert_events(writer, rows[20:])
    writer.commit()
    for name in ("EventTranscript.db", "EventTranscript.db-wal"):
        shutil.copyfile(live / name, shadow / name)
    writer.close()
    copy = shadow / "EventTranscript.db"
    before = {name: sha256(shadow / name) for name in os.listdir(shadow)}

    # A folder replays the database once: its log is read with it, not as a capture.
    assert expand_inputs([str(shadow)]) == [str(copy)]
    result = run("replay", str(shadow), "--db", db_path)

    assert result.exit_code == 0, result.output
    assert [e["name"] for e in jsonl("events", "--db", db_path)] == [r["Name"] for r in rows]
    assert {name: sha256(shadow / name) for name in os.listdir(shadow)} == before


def test_a_copy_taken_during_a_write_is_read_as_it_was_before(transcript, db_path):
    # A writer that dies inside a transaction leaves its rollback journal beside the file.
    unfinished = (
        "import sqlite3, os, sys\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "conn.execute('PRAGMA cache_size = 1')\n"
        "conn.execute('BEGIN')\n"
        "conn.execute('DELETE FROM events_persisted')\n"
        "conn.execute('INSERT INTO events_persisted (payload) VALUES (zeroblob(200000))')\n"
        "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", unfinished, str(transcript)], check=True)
    folder = transcript.parent
    assert sorted(os.listdir(folder)) == ["EventTranscript.db", "EventTranscript.db-journal"]
    before = {name: sha256(folder / name) for name in os.listdir(folder)}

    result = run("replay", str(transcript), "--db", db_path)

    assert result.exit_code == 0, result.output
    assert "had not finished" in result.output
    assert [e["name"] for e in jsonl("events", "--db", db_path)] == \
        [r["Name"] for r in real_rows()]
    assert {name: sha256(folder / name) for name in os.listdir(folder)} == before


def test_a_cut_off_database_keeps_the_events_before_the_cut(transcript, db_path):
    data = transcript.read_bytes()
    pages = len(data) // 4096
    transcript.write_bytes(data[:pages * 3 // 4 * 4096])

    result = run("replay", str(transcript), "--db", db_path)

    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = error_lines(result.output)
    assert len(errors) == 1 and "database disk image is malformed" in errors[0]
    names = [e["name"] for e in jsonl("events", "--db", db_path)]
    assert 0 < len(names) < 27
    assert names == [r["Name"] for r in real_rows()][:len(names)]
    assert f"after {len(names)} flows" in errors[0]


def test_a_foreign_sqlite_database_is_named_with_its_tables(tmp_path, db_path):
    places = tmp_path / "places.sqlite"
    conn = sqlite3.connect(places)
    conn.executescript("CREATE TABLE moz_places (url TEXT); CREATE TABLE moz_bookmarks (id);")
    conn.close()

    result = run("replay", str(places), "--db", db_path)

    assert result.exit_code == 2 and "Traceback" not in result.output
    [error] = error_lines(result.output)
    assert "an SQLite database but not an EventTranscript.db" in error
    assert "no events_persisted table (its tables: moz_bookmarks, moz_places)" in error


def test_a_locked_database_is_named_not_waited_on(transcript, db_path, monkeypatch):
    monkeypatch.setattr(eventtranscript, "LOCK_WAIT_SECONDS", 0.1)
    holder = sqlite3.connect(transcript, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("replay", str(transcript), "--db", db_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert result.exit_code == 2 and "Traceback" not in result.output
    [error] = error_lines(result.output)
    assert "database is locked" in error and "DiagTrack" in error


def test_empty_files(tmp_path, db_path):
    zero = tmp_path / "EventTranscript.db"
    zero.write_bytes(b"")
    tableless = tmp_path / "fresh.db"
    sqlite3.connect(tableless).execute("VACUUM")  # a valid database with nothing in it

    for path, message in ((zero, "empty file (0 bytes), not an EventTranscript.db"),
                          (tableless, "an SQLite database with no tables")):
        result = run("replay", str(path), "--db", db_path)
        assert result.exit_code == 2 and "Traceback" not in result.output
        [error] = error_lines(result.output)
        assert message in error


def test_an_empty_transcript_is_no_damage(tmp_path):
    reader = open_source(str(write_event_transcript(tmp_path / "EventTranscript.db", [])))
    assert list(reader.requests()) == [] and reader.damage is None


def test_utf16_text_and_keywords_beyond_63_bits(tmp_path):
    rows = real_rows()[:2]
    rows[0]["Keywords"] = -(1 << 63) | CRITICAL_DATA  # SQLite stores bit 63 as the sign
    database = write_event_transcript(tmp_path / "EventTranscript.db", rows,
                                      encoding="UTF-16le")
    reader = open_source(str(database))

    read = list(reader.requests())

    assert [r.body for r in read] == [row["Payload"].encode("utf-8") for row in rows]
    assert dict(read[0].headers)["X-DDV-Keywords"] == "0x8000800000000000"
    assert any("UTF-16le" in warning for warning in reader.warnings)
