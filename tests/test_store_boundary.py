"""The store's boundary: only store/ speaks SQL, times come back aware UTC from every
database, private files are private, and decoders, capture formats and report formats are
found in their registries."""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from conftest import telemetry_flow
from sqlalchemy import DateTime, Engine, func, inspect, select, text, update

import diagscope
from diagscope.decode.body import decode_body
from diagscope.decode.registry import DecodedEvents, register_decoder, unregister_decoder
from diagscope.files import ensure_private, private_file, write_private
from diagscope.model import DecodeStatus, Event, Request
from diagscope.pipeline import Inspector
from diagscope.policy.load import LoadedPolicy
from diagscope.report.build import BuiltReport, build_for_run, render
from diagscope.report.formats import (
    DEFAULT_FORMAT,
    format_for_suffix,
    register_format,
    report_formats,
    unregister_format,
)
from diagscope.sources.flows import CaptureDamage, request_from_flow
from diagscope.sources.registry import (
    expand_inputs,
    open_source,
    register_source,
    unregister_source,
)
from diagscope.sources.synthetic import json_stream
from diagscope.store.engine import open_engine
from diagscope.store.migrate import MIGRATIONS
from diagscope.store.queries import (
    iter_event_times,
    iter_findings,
    iter_request_rows,
    list_runs,
    run_record,
)
from diagscope.store.settings import attach_settings, run_scenario
from diagscope.store.statistics import run_statistics
from diagscope.store.tables import finding_kinds, findings, metadata, runs
from diagscope.store.types import UtcDateTime
from diagscope.store.verify import verify_run
from diagscope.store.writer import RunWriter, finish_run, start_run

SOURCE = Path(diagscope.__file__).parent
CT = [("Content-Type", "application/x-json-stream")]
#: A zone far from UTC with a half-hour offset: a value read back in it cannot pass as UTC.
SESSION_ZONE = "Asia/Kolkata"


# -- Times ---------------------------------------------------------------------------------


def _store_run(engine: Engine, loaded: LoadedPolicy) -> int:
    run_id = start_run(engine, loaded=loaded, label="boundary", source_kind="replay",
                       scenario={"name": "boundary"})
    inspector = Inspector(loaded.policy)
    writer = RunWriter(engine, run_id)
    for i, time in enumerate(("2026-11-02T09:00:00Z", "2026-11-02T10:30:00+01:00")):
        body = json_stream([{"name": "Office.Word.FileOpen", "ver": "4.0", "time": time,
                             "data": {"EventInfo.Level": 1}}])
        inspection = inspector.inspect(request_from_flow(telemetry_flow(f"f{i}", body, CT)))
        assert inspection is not None
        writer.add(inspection)
    writer.flush()
    finish_run(engine, run_id, status="complete", write_errors=3)
    return run_id


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, db_path: str) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = db_path
    else:
        # libpq's options: the server hands times back in this session zone.
        url = request.getfixturevalue("pg_url") + f"?options=-c%20timezone%3D{SESSION_ZONE}"
    engine = open_engine(url)
    yield engine
    engine.dispose()


def _assert_aware_utc(value: datetime | None, what: str) -> None:
    assert value is not None, what
    assert value.utcoffset() == timedelta(0), f"{what}: {value!r} is not aware UTC"


def test_every_datetime_column_is_utc_datetime():
    columns = [c for t in metadata.tables.values() for c in t.columns]
    assert not [c for c in columns if isinstance(c.type, DateTime)]
    assert sum(isinstance(c.type, UtcDateTime) for c in columns) == 4


def test_every_datetime_reads_back_aware_utc(engine, loaded_policy):
    run_id = _store_run(engine, loaded_policy)
    read = 0
    with engine.connect() as conn:
        for table in metadata.tables.values():
            for column in table.columns:
                if isinstance(column.type, UtcDateTime):
                    for (value,) in conn.execute(select(column).where(column.is_not(None))):
                        _assert_aware_utc(value, f"{table.name}.{column.name}")
                        read += 1
    assert read >= 6  # started_at, ended_at, two request times, two event times
    stats = run_statistics(engine, run_id)  # aggregates keep the type
    _assert_aware_utc(stats.first_event, "min(events.time)")
    assert stats.first_event == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert stats.last_event == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    times = list(iter_event_times(engine, run_id))
    assert len(times) == 2
    for time, _ in times:
        _assert_aware_utc(time, "events.time")
    _assert_aware_utc(run_record(engine, run_id)["started_at"], "runs.started_at")
    assert list_runs(engine)[0]["started_at"].endswith("Z")


def test_a_time_in_another_zone_is_stored_as_utc(engine, loaded_policy):
    run_id = _store_run(engine, loaded_policy)
    ended = datetime(2026, 11, 2, 15, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(ended_at=ended))
    assert run_record(engine, run_id)["ended_at"] == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            text = conn.exec_driver_sql("SELECT ended_at FROM runs").scalar()
        assert text == "2026-11-02 09:30:00.000000"  # the UTC wall time, as always stored


def test_run_counts_write_errors_and_keeps_collected_settings(engine, loaded_policy):
    run_id = _store_run(engine, loaded_policy)
    assert run_record(engine, run_id)["write_errors"] == 3
    assert run_scenario(engine, run_id) == {"name": "boundary"}
    record = {"office": {"level": "neither"}, "mismatches": []}
    attach_settings(engine, run_id, record)
    assert run_record(engine, run_id)["settings"] == record


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, and findings (a view, of which the kinds table holds fewer)."""
    counted = {**metadata.tables, "findings": findings}
    counted.pop("finding_kinds")
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in counted.items()}


def test_a_database_from_before_write_errors_keeps_every_row(engine, loaded_policy):
    run_id = _store_run(engine, loaded_policy)
    before = _row_counts(engine)
    assert before["requests"] and before["events"] and before["findings"]
    _migrate(engine, "0004", down=True)
    with engine.connect() as conn:
        assert "write_errors" not in {c["name"] for c in inspect(conn).get_columns("runs")}
    _migrate(engine, "head")
    after = _row_counts(engine)
    # Going below 0006 drops the run's chained metadata (header and closing entry); every
    # request, event and finding survives the round trip.
    assert before.pop("run_entries") == 2 and after.pop("run_entries") == 0
    assert after == before
    assert run_record(engine, run_id)["write_errors"] == 0  # nothing was counted then
    report = verify_run(engine, run_id)
    assert report.chain_format == 1 and "chain position 0 was deleted" in (report.problem or "")


def test_digests_and_headers_written_before_0009_read_and_verify_after_it(engine,
                                                                          loaded_policy):
    run_id = _store_run(engine, loaded_policy)
    requests_before = list(iter_request_rows(engine, run_id))
    _migrate(engine, "0008", down=True)
    with engine.connect() as conn:
        stored_hash, stored_headers = conn.execute(
            text("SELECT chain_hash, headers FROM requests ORDER BY id")).first()
    assert isinstance(stored_hash, str) and len(stored_hash) == 64  # hex text, as 0008 kept
    assert not isinstance(stored_headers, bytes)  # JSON (text on SQLite, parsed on PostgreSQL)
    _migrate(engine, "head")
    assert list(iter_request_rows(engine, run_id)) == requests_before
    assert verify_run(engine, run_id).ok


def test_findings_written_before_0011_read_and_verify_after_it(engine, loaded_policy):
    """Each kind of finding is stored once per run since 0011: findings stored before it
    are moved there, and come back exactly as they were, on either side of the migration."""
    first = _store_run(engine, loaded_policy)
    second = _store_run(engine, loaded_policy)
    before = {run: list(iter_findings(engine, run)) for run in (first, second)}
    assert len(before[first]) >= 4 and before[first][0]["clause"]
    _migrate(engine, "0010", down=True)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert "findings" in tables and not tables & {"finding_kinds", "finding_occurrences"}
        assert not inspect(conn).get_view_names()
    assert {run: list(iter_findings(engine, run)) for run in before} == before
    _migrate(engine, "head")
    assert {run: list(iter_findings(engine, run)) for run in before} == before
    distinct = {tuple(f[c] for c in ("rule", "severity", "detail", "clause", "field",
                                     "value", "event_name", "product", "pii_kind"))
                for f in before[first]}
    with engine.connect() as conn:
        kinds = conn.execute(select(finding_kinds.c.run_id, func.count())
                             .group_by(finding_kinds.c.run_id)).all()
    assert sorted(kinds) == [(first, len(distinct)), (second, len(distinct))]
    assert len(distinct) < len(before[first])  # kinds repeat, and are stored once
    assert verify_run(engine, first).ok and verify_run(engine, second).ok
    # New findings get ids after the moved ones (PostgreSQL's sequence was moved on).
    third = _store_run(engine, loaded_policy)
    with engine.connect() as conn:
        ids = conn.execute(select(findings.c.id)).scalars().all()
    assert len(set(ids)) == len(ids) == 3 * len(before[first])
    assert verify_run(engine, third).ok


# -- Private files ---------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets others read new files, so only diagscope's own care keeps them
    private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_creates_0600_files_and_folders(tmp_path, open_umask):
    target = tmp_path / "new" / "folder" / "report.html"
    write_private(target, "verslag ë")
    assert target.read_bytes() == "verslag ë".encode()
    assert _mode(target) == 0o600
    write_private(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"


def test_write_private_makes_an_existing_file_private(tmp_path, open_umask):
    target = tmp_path / "report.json"
    target.write_text("an old, longer report")
    target.chmod(0o644)
    write_private(target, "{}")
    assert _mode(target) == 0o600 and target.read_text() == "{}"


def test_ensure_private_keeps_content_and_fixes_the_mode(tmp_path, open_umask):
    fresh = tmp_path / "sub" / "fresh.sqlite"
    ensure_private(fresh)
    assert fresh.read_bytes() == b"" and _mode(fresh) == 0o600
    existing = tmp_path / "lab.sqlite"
    existing.write_bytes(b"SQLite format 3\x00")
    existing.chmod(0o644)
    ensure_private(existing)
    assert existing.read_bytes() == b"SQLite format 3\x00" and _mode(existing) == 0o600


def test_private_file_appears_whole_and_private_or_not_at_all(tmp_path, open_umask):
    target = tmp_path / "evidence.zip"
    target.write_bytes(b"the previous bundle")
    target.chmod(0o644)
    with pytest.raises(RuntimeError), private_file(target) as fo:
        fo.write(b"half a bun")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"the previous bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.zip"]  # no temp left
    with private_file(target) as fo:
        fo.write(b"the new bundle")
    assert target.read_bytes() == b"the new bundle" and _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.zip"]


# -- No SQL outside the store ----------------------------------------------------------------

#: SQLAlchemy's statement builders: with them a module writes its own queries.
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text"}
#: Modules that run SQL on a database that is not the store, and why.
OTHER_DATABASES = {
    # Reads Windows' own EventTranscript.db (a capture) through sqlite3.
    "sources/eventtranscript.py",
}


def _sql_outside_the_store(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    sqlalchemy_names: set[str] = set()
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "sqlalchemy":
                problems += [f"imports {a.name} from {node.module}" for a in node.names
                             if a.name in STATEMENT_BUILDERS]
            if node.module == "diagscope.store.tables":
                problems.append("imports the store's tables")
        elif isinstance(node, ast.Import):
            sqlalchemy_names |= {(a.asname or a.name).split(".")[0] for a in node.names
                                 if a.name.split(".")[0] == "sqlalchemy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in STATEMENT_BUILDERS \
                and isinstance(node.value, ast.Name) and node.value.id in sqlalchemy_names:
            problems.append(f"uses {node.value.id}.{node.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("execute", "exec_driver_sql"):
            problems.append(f"calls .{node.func.attr}() on line {node.lineno}")
    return problems


def test_no_module_outside_the_store_runs_sql():
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative.startswith("store/") or relative in OTHER_DATABASES:
            continue
        problems = _sql_outside_the_store(path)
        if problems:
            found[relative] = problems
    assert not found, f"SQL outside src/diagscope/store (add a store function): {found}"


def test_the_boundary_check_sees_sql(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import sqlalchemy as sa\nfrom sqlalchemy import select\n"
                      "def f(conn):\n    return conn.execute(sa.text('SELECT 1'))\n")
    assert len(_sql_outside_the_store(module)) == 3


# -- Registries ------------------------------------------------------------------------------

TEST_TYPE = "application/x-diagscope-test"


@pytest.fixture
def test_decoder() -> Iterator[list[bytes]]:
    seen: list[bytes] = []

    def decode(body: bytes) -> DecodedEvents:
        seen.append(body)
        return DecodedEvents([Event(index=0, name=body[1:-1].decode())])

    register_decoder(TEST_TYPE, decode)
    yield seen
    unregister_decoder(TEST_TYPE)


def _request(content_type: str, body: bytes) -> Request:
    return Request("r", datetime(2026, 11, 2, tzinfo=UTC), "POST", "https", "collector.test",
                   443, "/OneCollector/1.0/", [("Content-Type", content_type)], body)


def test_a_registered_decoder_decodes_its_content_type(test_decoder):
    decoded = decode_body(_request(TEST_TYPE, b"[Test.Event]"))
    assert test_decoder == [b"[Test.Event]"]
    assert decoded.status is DecodeStatus.OK and decoded.content_type == TEST_TYPE
    assert [e.name for e in decoded.events] == ["Test.Event"]


def test_an_unregistered_content_type_stays_undecodable():
    decoded = decode_body(_request(TEST_TYPE, b"[Test.Event]"))
    assert decoded.status is DecodeStatus.UNDECODABLE
    assert decoded.error == f"unrecognised content type {TEST_TYPE!r}"


@dataclass
class _TestCapture:
    path: str
    kind: str = "test"
    damage: CaptureDamage | None = None
    flows_read: int = 0
    position: int = 0
    warnings: list[str] = field(default_factory=list)

    def requests(self) -> Iterator[Request]:
        yield from ()


@pytest.fixture
def test_source() -> Iterator[None]:
    register_source("test", order=5, sniff=lambda _path, head: head.startswith(b"TESTCAP"),
                    reader=lambda path, _head: _TestCapture(path), companions=("-index",))
    yield
    unregister_source("test")


def test_a_registered_capture_format_is_chosen_by_content(tmp_path, test_source):
    ours, other = tmp_path / "a.bin", tmp_path / "b.bin"
    ours.write_bytes(b"TESTCAP 1\n")
    other.write_bytes(b"not a capture of any kind")
    assert isinstance(open_source(str(ours)), _TestCapture)
    assert open_source(str(other)).kind == "mitm"  # the fallback still takes the rest


def test_files_beside_a_capture_that_belong_to_it_are_left_out(tmp_path, test_source):
    (tmp_path / "a.cap").write_bytes(b"TESTCAP 1\n")
    (tmp_path / "a.cap-index").write_bytes(b"index")
    (tmp_path / "b.cap-index").write_bytes(b"an index without its capture")
    assert [Path(p).name for p in expand_inputs([str(tmp_path)])] == ["a.cap", "b.cap-index"]


@pytest.fixture
def test_format() -> Iterator[None]:
    def as_text(built: BuiltReport, lang: str) -> str:
        return f"{built.report.verdict.result} ({lang})\n"

    register_format("txt", as_text, ("txt", "text"))
    yield
    unregister_format("txt")


def test_built_in_report_formats_and_their_suffixes():
    assert {"html", "json", "md"} <= set(report_formats())
    assert DEFAULT_FORMAT == "html"
    assert [format_for_suffix(s) for s in (".html", "htm", ".JSON", ".md", "markdown")] == \
        ["html", "html", "json", "md", "md"]
    assert format_for_suffix(".pdf") is None


def test_a_registered_report_format_renders(db_path, loaded_policy, test_format):
    engine = open_engine(db_path)
    run_id = _store_run(engine, loaded_policy)
    assert "txt" in report_formats() and format_for_suffix(".TEXT") == "txt"
    built = build_for_run(engine, run_id)
    assert render(built, "txt", "nl") == f"{built.report.verdict.result} (nl)\n"
    with pytest.raises(LookupError):
        render(built, "pdf")
