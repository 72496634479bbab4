"""Microsoft's 1DS JavaScript SDK, in Node, sending through `diagscope proxy`.

Observed on the wire (SDK 4.4.4, fetch transport): `POST /OneCollector/1.0/?cors=true&
content-type=application/x-json-stream&client-id=NO_AUTH&client-version=1DS-Web-JS-4.4.4&
apikey=<iKey>&upload-time=<ms>&time-delta-to-apply-millis=use-collector-delta` with header
`content-type: text/plain;charset=UTF-8`: the real content type travels in the query string.
The body is one JSON event per line; `iKey` is `o:<tenant>`; property kinds travel in
`ext.metadata.f` as `{"t": (piiKind << 5) | type}`, customer content as `1 << 13`.

The proxy runs in reverse mode in front of a local HTTPS collector stub; Node trusts the
proxy's CA through NODE_EXTRA_CA_CERTS. Nothing leaves the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from e2e_support import CollectorStub, ProxyProcess, require_sdk, send_with_sdk
from sqlalchemy import select

from diagscope.cli import main
from diagscope.store.engine import open_engine
from diagscope.store.queries import request_mapping
from diagscope.store.tables import events, requests

pytestmark = pytest.mark.e2e


@pytest.fixture
def sdk_run(tmp_path):
    require_sdk()
    stub = CollectorStub(tmp_path)
    proxy = ProxyProcess(tmp_path, "--set", f"mode=reverse:https://localhost:{stub.port}",
                         "--canary", "doc=Ontslagbrief-Canary-7f3a", upstream_ca=stub.ca)
    try:
        sent = send_with_sdk(f"https://localhost:{proxy.port}/OneCollector/1.0/",
                             proxy.ca_cert)
        proxy.wait_for("3 events", timeout=30)
    finally:
        proxy.stop()
        stub.close()
    return sent, proxy, stub


def _plain(value):
    return value["value"] if isinstance(value, dict) and "value" in value else value


def test_stored_events_match_what_the_sdk_sent(sdk_run):
    sent, proxy, _ = sdk_run
    with open_engine(str(proxy.db)).connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.event_index)).all()
    assert [r.name for r in rows] == [e["name"] for e in sent]
    for row, event in zip(rows, sent, strict=True):
        cs = json.loads(row.cs)
        assert cs["iKey"] == "o:4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e"
        assert cs["ver"] == "4.0" and row.time is not None
        for key, value in event["data"].items():
            assert cs["data"][key] == _plain(value), key
    mail = json.loads(rows[1].marks)
    assert mail["data.User.Email"] == {"pii_kind": "SmtpAddress", "customer_content": False}
    assert mail["data.Client.Ip"]["pii_kind"] == "IPV4Address"
    assert mail["data.Mail.Subject"]["customer_content"] is True


def test_collector_received_exactly_what_the_client_sent(sdk_run):
    _, proxy, stub = sdk_run
    (received,) = stub.received
    with open_engine(str(proxy.db)).connect() as conn:
        (stored,) = conn.execute(select(requests)).all()
    row = SimpleNamespace(**request_mapping(stored._mapping))
    assert row.body == received.body
    assert "content-type=application/x-json-stream" in row.path and "cors=true" in row.path
    assert row.content_type == "application/x-json-stream"


def test_sdk_traffic_is_judged(sdk_run):
    _, proxy, _ = sdk_run
    out = CliRunner().invoke(main, ["findings", "--db", str(proxy.db), "--format", "jsonl"])
    findings = [json.loads(line) for line in out.output.splitlines()]
    kinds = {(f["pii_kind"], f["field"]) for f in findings if f["rule"] == "personal-data"}
    assert ("email", "data.User.Email") in kinds
    assert ("declared-pii", "data.User.Email") in kinds
    assert ("customer-content", "data.Mail.Subject") in kinds
    assert ("canary", "data.Mail.Subject") in kinds
    assert ("ip-address", "data.Client.Ip") in kinds
    levels = {(f["event_name"], f["severity"]) for f in findings if f["rule"] == "level"}
    assert ("Office.Word.FileOpen", "violation") in levels
    assert Path(proxy.db).exists()
