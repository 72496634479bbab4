"""Finding rows built from each kind's remembered parts are exactly the rows (and digests)
that building every row on its own gives: the chain must not depend on the shortcut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagscope.model import Finding, Product, Severity
from diagscope.store import rows
from diagscope.store.chain import content_digest
from diagscope.store.packing import unpack


def built_one_by_one(flow_id: str, findings: list[Finding]) -> list[tuple[dict, str]]:
    out = []
    for f in findings:
        row = rows._finding_row(flow_id, f)
        digest = content_digest(row)
        rows.pack_columns(row, rows.FINDING_PACKING)
        out.append((row, digest))
    return out


@pytest.fixture(autouse=True)
def no_remembered_kinds():
    rows._KINDS.clear()
    yield
    rows._KINDS.clear()


def finding(**changes) -> Finding:
    base = {"rule": "personal-data", "severity": Severity.VIOLATION,
            "detail": "An e-mail address in a field not declared as such.",
            "clause": "Processor agreement 2.3: no personal data in diagnostic data.",
            "event_index": 3, "event_name": "Office.Word.FileOpen", "product": Product.OFFICE,
            "field": "data.User.Email", "pii_kind": "email", "value": "u***@example.nl"}
    return Finding(**{**base, **changes})


KINDS = [
    finding(),
    finding(event_index=None, event_name=None, field=None, pii_kind=None, value=None,
            rule="destination", severity=Severity.REVIEW, product=Product.UNKNOWN),
    finding(clause=""),
    finding(value="Zoë \u00e9\u4e2d\u6587 \"quoted\" \\ back\tslash\n"),
    finding(detail="lone \ud800 surrogate and a \x00 NUL"),
    finding(field="data.\u00e9l\u00e8ve", event_name="\u2603.Event"),
]


def test_each_kind_gives_the_rows_built_one_by_one():
    findings = [*KINDS, *KINDS, finding(event_index=0), finding(event_index=12345)]
    for flow_id in ("7f1b0e8c-1c8e-4b8e-9a59-2f6b2b3f6a11", "bench-7-42"):
        assert rows.finding_rows(flow_id, findings) == built_one_by_one(flow_id, findings)
    assert all(kind is not None for kind in rows._KINDS.values())


@pytest.mark.parametrize("flow_id", ["tab\there", "\u00e9t\u00e9-1", "nul\x00", 'q"uote',
                                     "\u2028", ""])
def test_flow_ids_that_need_escaping_take_the_long_way_with_the_same_result(flow_id):
    assert rows.finding_rows(flow_id, KINDS) == built_one_by_one(flow_id, KINDS)


def test_a_remembered_kind_does_not_leak_the_previous_flow_or_index():
    first = rows.finding_rows("flow-a", [finding(event_index=1)])
    second = rows.finding_rows("flow-b", [finding(event_index=2)])
    assert (first[0][0]["flow_id"], first[0][0]["event_index"]) == ("flow-a", 1)
    assert (second[0][0]["flow_id"], second[0][0]["event_index"]) == ("flow-b", 2)
    assert first[0][1] != second[0][1]
    second[0][0]["chain_seq"] = 9  # the writer numbers rows in place
    assert "chain_seq" not in rows.finding_rows("flow-c", [finding()])[0][0]


def test_packed_columns_read_back_as_the_texts():
    row, _ = rows.finding_rows("flow-a", [finding()])[0]
    assert unpack(row["detail"]) == finding().detail
    assert unpack(row["clause"]) == finding().clause


def test_remembering_is_bounded(monkeypatch):
    monkeypatch.setattr(rows, "_KINDS_LIMIT", 5)
    findings = [finding(value=f"v{i}") for i in range(12)]
    assert rows.finding_rows("flow-a", findings) == built_one_by_one("flow-a", findings)
    assert len(rows._KINDS) <= 5


texts = st.one_of(st.none(), st.text(max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(
    Finding,
    rule=st.sampled_from(["personal-data", "level", "purpose", "unknown-event"]),
    severity=st.sampled_from(list(Severity)),
    detail=st.text(max_size=40),
    clause=st.text(max_size=20),
    event_index=st.one_of(st.none(), st.integers(0, 10**6)),
    event_name=texts, product=st.sampled_from(list(Product)), field=texts, pii_kind=texts,
    value=texts), max_size=8),
    st.text(max_size=40))
def test_any_findings_give_the_rows_built_one_by_one(findings, flow_id):
    assert rows.finding_rows(flow_id, findings) == built_one_by_one(flow_id, findings)
    # and again, from remembered kinds
    assert rows.finding_rows(flow_id, findings) == built_one_by_one(flow_id, findings)
