"""Findings are read by their place in the chain, not by an index of flows: a request's
findings, and events narrowed by rule, are exactly what a plain filter by flow gives, and
the database answers both through an index instead of reading every finding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import make_samples
import pytest
from click.testing import CliRunner
from finding_edits import delete_findings
from sqlalchemy import event, inspect, select

from diagscope.cli import main
from diagscope.store.engine import open_engine
from diagscope.store.queries import iter_events, iter_events_matching, iter_findings_of_flow
from diagscope.store.tables import finding_occurrences, findings, requests


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("chain-queries-db") / "diagscope.sqlite")
        return
    from conftest import fresh_pg_database

    with fresh_pg_database(request.getfixturevalue("pg_server")) as url:
        yield url


@pytest.fixture(scope="module")
def stored(database, tmp_path_factory):
    """Both sample captures in one run: requests with and without findings, request-level
    findings (destination) and event-level ones, side by side in the chain."""
    engine = _stored_run(database, tmp_path_factory)
    yield engine
    engine.dispose()  # before PostgreSQL's database is dropped


@pytest.fixture(scope="module")
def stored_in_sqlite(tmp_path_factory):
    """The same run in SQLite, whose query plans the tests read."""
    engine = _stored_run(str(tmp_path_factory.mktemp("plans") / "diagscope.sqlite"),
                         tmp_path_factory)
    yield engine
    engine.dispose()


def _stored_run(database: str, tmp_path_factory):
    from diagscope.sources.synthetic import write_capture

    folder = tmp_path_factory.mktemp("chain-queries")
    paths = []
    for name, flows in (("json", make_samples.office_json_flows()),
                        ("bond", make_samples.office_bond_flows())):
        path = folder / f"{name}.mitm"
        write_capture(str(path), flows)
        paths.append(str(path))
    result = CliRunner().invoke(main, ["replay", *paths, "--db", database])
    assert result.exit_code in (0, 1), result.output
    engine = open_engine(database)
    # Every sample request has findings; requests without any (a clean one, the first and
    # the last) must not take their neighbours'.
    flows = _flows(engine)
    with engine.begin() as conn:
        delete_findings(conn, finding_occurrences.c.flow_id.in_(
            [flows[0], flows[3], flows[-1]]))
    return engine


def _by_flow(engine, flow_id: str) -> list[tuple]:
    """(rule, detail, event index) of the flow's findings, by a plain filter on the flow."""
    with engine.connect() as conn:
        return [(row.rule, row.detail, row.event_index) for row in conn.execute(
            select(findings).where(findings.c.run_id == 1, findings.c.flow_id == flow_id)
            .order_by(findings.c.id))]


def _flows(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(requests.c.flow_id).order_by(requests.c.seq)).scalars())


def test_every_request_gets_exactly_its_own_findings(stored):
    flows = _flows(stored)
    counts = [len(_by_flow(stored, flow)) for flow in flows]
    assert 0 in counts and max(counts) > 1  # both kinds of request are there
    for flow in flows:
        found = list(iter_findings_of_flow(stored, 1, flow))
        assert {f["flow_id"] for f in found} <= {flow}
        assert [(f["rule"], f["detail"], f["event_index"]) for f in found] == \
            _by_flow(stored, flow)


def test_an_unknown_flow_has_no_findings(stored):
    assert list(iter_findings_of_flow(stored, 1, "no-such-flow")) == []
    assert list(iter_findings_of_flow(stored, 2, _flows(stored)[0])) == []


@pytest.mark.parametrize("rules", [("destination",), ("personal-data",), ("level", "purpose"),
                                   ("no-such-rule",)])
def test_events_narrowed_by_rule_are_those_a_finding_of_the_rule_is_about(stored, rules):
    with stored.connect() as conn:
        about = conn.execute(select(findings.c.flow_id, findings.c.event_index).where(
            findings.c.run_id == 1, findings.c.rule.in_(rules))).all()
    whole_requests = {flow for flow, index in about if index is None}
    single_events = {(flow, index) for flow, index in about if index is not None}
    expected = [e for e in iter_events(stored, 1)
                if e["flow_id"] in whole_requests or (e["flow_id"], e["event_index"])
                in single_events]
    assert list(iter_events_matching(stored, 1, rules=rules)) == expected
    if rules == ("destination",):
        assert whole_requests and expected  # request-level findings reach their events


@contextmanager
def statements(engine) -> Iterator[list[tuple[str, object]]]:
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _plans(engine, seen) -> list[str]:
    lines = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            lines += [row[3] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters)]
    return lines


def test_reading_by_chain_position_uses_an_index(stored_in_sqlite):
    engine = stored_in_sqlite
    flow = _flows(engine)[1]
    with statements(engine) as seen:
        list(iter_findings_of_flow(engine, 1, flow))
        list(iter_events_matching(engine, 1, rules=("level",)))
    plans = _plans(engine, seen)
    # The view's tables appear under its aliases: o for the places, k for the kinds.
    assert not [line for line in plans if line.startswith(("SCAN o", "SCAN k"))], plans
    assert not [line for line in plans if "CORRELATED" in line], plans
    assert any("ix_finding_occurrences_run_chain" in line for line in plans), plans


def test_the_index_by_flow_is_gone(stored):
    with stored.connect() as conn:
        names = {index["name"] for index in inspect(conn).get_indexes("finding_occurrences")}
    assert names == {"ix_finding_occurrences_run_chain"}
