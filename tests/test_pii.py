"""Detectors one by one, masking, canaries, and the personal-data rule with its allowances."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from diagscope.model import Event, FieldMark, RecordFlag, Request
from diagscope.pii.canary import CanarySet, canary_set, read_canary_file
from diagscope.pii.mask import mask
from diagscope.pii.scan import DETECTORS, scan_event_values
from diagscope.pipeline import Inspector
from diagscope.policy.load import load_policy
from diagscope.sources.synthetic import json_stream


def kinds(key: str, value: str) -> set[str]:
    return {h.kind for d in DETECTORS for h in d.scan(f"data.{key}", key, value)}


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("Mail", "mailto:Jan.Jansen@MinJenV.nl?subject=x", {"email"}),
    ("Ip", "::1", set()),
    ("Ip", "fe80::1ff:fe23:4567:890a", set()),
    ("Ip", "2001:db8::1", set()),
    ("Ip", "0.0.0.0", set()),
    ("Ip", "8.8.8.8", {"ip-address"}),
    ("Build", "16.0.17328.20162", set()),
    ("Text", "v10.0.22631.1 installed", set()),
    ("Bsn", "123456782", {"bsn"}),
    ("Counter", "123456782", set()),  # passes the elfproef, but nothing says it is a BSN
    ("CardNumber", "4111111111111111", {"payment-card"}),
    ("Counter", "4111111111111111", set()),  # Luhn-valid, but a bare counter
    ("Text", "4111 1111 1111 1112", set()),  # card-like, fails Luhn
    ("Text", "9111 1111 1111 1113", set()),  # no issuer starts with 9
    ("Phone", "+31 6 12345678", {"phone"}),
    ("Count", "0612345678", set()),
    ("Path", "C:\\Users\\Public\\Desktop\\x.lnk", set()),
    ("Path", "C:/Users/jan/AppData/Local/Temp", {"user-path"}),
    ("Path", "/Users/marie/Library", {"user-path"}),
    ("Pattern", "*.docx", set()),
    ("Mac", "ff:ff:ff:ff:ff:ff", set()),
    ("Mac", "0123.4567.89ab", {"mac-address"}),
    ("Count", "52.0907, 5.1214", set()),  # a pair, but not in a location field
    ("Geo.Position", "52.0907;5.1214", {"gps"}),
])
def test_detectors(key, value, expected):
    assert kinds(key, value) == expected


def test_integers_and_nested_values_are_scanned():
    event = Event(0, "x", data={"Bsn": 123456782, "list": ["a", {"Mail": "a.b@c.nl"}],
                                "Location": {"lat": 52.1, "lon": 5.12}},
                  ext={"app": {"userId": "p.bakker@example.org"}})
    found = {(h.kind, h.field) for h in scan_event_values(event)}
    assert found == {("bsn", "data.Bsn"), ("email", "data.list[1].Mail"),
                     ("gps", "data.Location"), ("email", "ext.app.userId")}


def test_repeated_extensions_give_the_same_findings_as_a_fresh_scan():
    def event(i: int, user: str, seq: int) -> Event:
        return Event(i, "x", data={"n": i},
                     ext={"user": {"localId": user}, "sdk": {"seq": seq, "ip": "8.8.4.4"},
                          "loc": [{"Mail": user}]})

    events = [event(0, "a@b.nl", 1), event(1, "a@b.nl", 2), event(2, "c@d.nl", 3),
              event(3, "c@d.nl", 4)]
    for e in events:
        remembered = scan_event_values(e)
        fresh = scan_event_values(e, DETECTORS)  # explicit detectors: no reuse
        assert remembered == fresh
        assert {h.value for h in remembered} == {e.ext["user"]["localId"], "8.8.4.4"}
        assert {h.field for h in remembered} == {"ext.user.localId", "ext.sdk.ip",
                                                 "ext.loc[0].Mail"}


@pytest.mark.parametrize(("value", "kind", "masked"), [
    ("jan.jansen@minjenv.nl", "email", "j********@m******.nl"),
    ("111222333", "bsn", "*****2333"),
    ("NL91ABNA0417164300", "iban", "NL91**********4300"),
    ("4111111111111111", "payment-card", "************1111"),
    ("+31612345678", "phone", "**********78"),
    ("145.1.2.3", "ip-address", "145.*.*.*"),
    ("Ontslagbrief.docx", "document-name", "O**************cx"),
    ("abc", None, "***"),
])
def test_mask(value, kind, masked):
    assert mask(value, kind) == masked


def test_masking_never_reveals_more_than_a_third():
    for n in range(5, 60):
        value = "x" * n
        assert mask(value).count("x") <= max(1, n // 3)


VALUE = "Ontslagbrief-Canary-7f3a"


@pytest.mark.parametrize(("text", "encoding"), [
    (f"title={VALUE}", "plain text"),
    (VALUE.upper(), "plain text"),
    (base64.b64encode(VALUE.encode()).decode(), "base64"),
    (VALUE.encode("utf-16-le").decode("latin-1"), "UTF-16 text"),
    (VALUE.encode("utf-16-le").hex(), "UTF-16 hex"),
    (hashlib.md5(VALUE.encode()).hexdigest(), "md5 of the value"),
    (hashlib.sha1(VALUE.lower().encode()).hexdigest().upper(), "sha1 of the lower-cased value"),
    (hashlib.sha256(VALUE.encode()).hexdigest(), "sha256 of the value"),
])
def test_canary_found_in_every_encoding(text, encoding):
    canaries = CanarySet([("doc", VALUE)])
    hits = canaries.find(text)
    assert [h.label for h in hits] == ["doc"]
    assert encoding in {h.encoding for h in hits}


def test_canary_url_encoded():
    canaries = CanarySet([("account", "jan.jansen@minjenv.nl")])
    text = f"https://x.example/?u={quote('jan.jansen@minjenv.nl', safe='')}"
    assert {h.encoding for h in canaries.find(text)} == {"URL-encoded"}


def test_canaries_never_expose_their_values(tmp_path):
    canaries = CanarySet([("doc", VALUE)], salt="s")
    assert VALUE not in repr(canaries) and VALUE not in str(canaries.records)
    assert canaries.records[0].salted_sha256 == hashlib.sha256(f"s{VALUE}".encode()).hexdigest()
    assert canaries.matches(VALUE) and not canaries.matches("other")
    with pytest.raises(ValueError, match="too short"):
        CanarySet([("x", "ab")])
    f = tmp_path / "canaries.txt"
    f.write_text("# planted on 2 Nov\naccount=jan.jansen@minjenv.nl\nMail subject Canary 42\n")
    assert read_canary_file(f) == [("account", "jan.jansen@minjenv.nl"),
                                   ("canary-3", "Mail subject Canary 42")]
    assert canary_set([], [f]) is not None and canary_set([]) is None


def inspect(event: dict, canaries=None, policy=None):
    inspector = Inspector(policy or load_policy().policy, catalogue=lambda _n: None,
                          canaries=canaries)
    host = "eu-office.events.data.microsoft.com"
    headers = [("Content-Type", "application/x-json-stream")]
    request = Request("f", datetime.now(UTC), "POST", "https", host, 443, "/OneCollector/1.0/",
                      headers, json_stream([event]))
    inspection = inspector.inspect(request)
    assert inspection is not None
    return [f for f in inspection.findings if f.rule == "personal-data"]


def test_rule_reports_masked_values_with_clause_and_field():
    findings = inspect({"name": "Office.X", "data": {"User.Email": "jan.jansen@minjenv.nl"}})
    (f,) = findings
    assert (f.pii_kind, f.field, f.value) == ("email", "data.User.Email", "j********@m******.nl")
    assert f.severity.value == "violation" and "WP216" in f.clause


def test_declared_pii_and_customer_content():
    event = {"name": "Office.X", "data": {"Who": "some identity", "Hashed": "a" * 64,
                                          "Body": "my typed sentence"},
             "ext": {"metadata": {"f": {"Who": {"t": (10 << 5) | 1},
                                        "Hashed": {"t": (9 << 5) | 1},
                                        "Body": {"t": (1 << 13) | 1}}}}}
    found = {(f.pii_kind, f.field) for f in inspect(event)}
    assert found == {("declared-pii", "data.Who"), ("customer-content", "data.Body")}
    detail = next(f.detail for f in inspect(event) if f.pii_kind == "declared-pii")
    assert "Identity" in detail


def test_allowances_exempt_pseudonyms_but_never_canaries():
    digest = hashlib.sha256(b"jan.jansen@minjenv.nl").hexdigest()
    event = {"name": "Office.X", "data": {"User.PrimaryIdentityHash": digest},
             "ext": {"device": {"localId": "r:6d3b1a2c-4f5e-4a7b-8c9d-0e1f2a3b4c5d"},
                     "metadata": {"f": {"User.PrimaryIdentityHash": {"t": (10 << 5) | 1}}}}}
    assert inspect(event) == []
    canaries = CanarySet([("account", "jan.jansen@minjenv.nl")])
    (f,) = inspect(event, canaries)
    assert (f.pii_kind, f.field, f.value) == ("canary", "data.User.PrimaryIdentityHash",
                                              "[canary account]")
    assert "sha256 of the value" in f.detail


def test_bond_marks_feed_the_rule():
    from bondwriter import records_body

    from diagscope.decode.csprotocol import decode_records

    body = records_body([{"name": "Office.Y", "time": datetime(2026, 11, 2, tzinfo=UTC),
                          "flags": RecordFlag.MARK_PII,
                          "data": {"Subject": {"value": "Re: ontslag", "pii": "MailSubject",
                                               "customer": True}}}])
    (event,) = decode_records(body).events
    assert event.marks == {"data.Subject": FieldMark("MailSubject", True)}


def test_replay_with_canaries_finds_the_hashed_title(capture, sample_flows, db_path):
    import json

    from click.testing import CliRunner

    from diagscope.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["replay", capture(sample_flows), "--db", db_path,
                                  "--canary", f"doc={VALUE}"])
    assert result.exit_code == 0
    rows = [json.loads(x) for x in runner.invoke(
        main, ["findings", "--db", db_path, "--format", "jsonl"]).output.splitlines()]
    hashed = [r for r in rows
              if r["pii_kind"] == "canary" and r["field"] == "data.Document.NameHash"]
    assert hashed and "sha256 of the lower-cased value" in hashed[0]["detail"]
    assert all(VALUE not in json.dumps(r) for r in rows)
    runs = runner.invoke(main, ["runs", "--db", db_path, "--format", "jsonl"]).output
    assert VALUE not in runs
    from diagscope.store.engine import open_engine
    from diagscope.store.tables import runs as runs_table

    with open_engine(db_path).connect() as conn:
        stored = conn.execute(runs_table.select()).one()
    assert VALUE not in json.dumps(stored.canaries) and VALUE not in stored.command
    assert stored.canaries["canaries"][0]["label"] == "doc"


def test_reveal_only_on_a_terminal(capture, sample_flows, db_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from diagscope.cli import main

    runner = CliRunner()
    runner.invoke(main, ["replay", capture(sample_flows), "--db", db_path])
    refused = runner.invoke(main, ["findings", "--db", db_path, "--reveal"])
    assert refused.exit_code == 2 and "own terminal" in refused.output
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    from diagscope import reveal
    from diagscope.store.engine import open_engine
    from diagscope.store.queries import iter_findings

    engine = open_engine(db_path)
    clear = reveal.reveal(engine, 1, iter_findings(engine, 1))
    email = next(f for f in clear if f["pii_kind"] == "email")
    assert email["value"] == "jan.jansen@minjenv.nl"
    masked = next(f for f in iter_findings(engine, 1) if f["pii_kind"] == "email")
    assert masked["value"] == "j********@m******.nl"
    assert json.dumps(masked)
