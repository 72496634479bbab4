"""`diagscope proxy` with real mitmproxy, a local HTTPS collector, and real clients."""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
from click.testing import CliRunner
from conftest import unavailable
from e2e_support import CollectorStub, ProxyProcess
from sqlalchemy import select

from diagscope.cli import main
from diagscope.sources.synthetic import json_stream, raw_deflate
from diagscope.store.engine import open_engine
from diagscope.store.queries import request_mapping
from diagscope.store.tables import requests

pytestmark = pytest.mark.e2e

EVENTS = [
    {"ver": "4.0", "name": "Office.Word.FileOpen", "time": "2026-11-02T09:00:00.000Z",
     "iKey": "o:4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e",
     "data": {"EventInfo.Level": 1, "User.Email": "jan.jansen@minjenv.nl"}},
    {"ver": "4.0", "name": "Office.Licensing.Heartbeat", "time": "2026-11-02T09:00:01.000Z",
     "data": {"EventInfo.Level": 110}},
]


@pytest.fixture
def collector(tmp_path):
    stub = CollectorStub(tmp_path)
    yield stub
    stub.close()


@pytest.fixture
def proxy(tmp_path, collector):
    process = ProxyProcess(tmp_path, "--label", "e2e", upstream_ca=collector.ca)
    yield process
    if process.proc.poll() is None:
        process.stop()


def client_context(proxy: ProxyProcess) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(proxy.ca_cert))


def post(proxy: ProxyProcess, url: str, body: bytes, headers: dict[str, str]) -> int:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": proxy.proxy_url, "http": proxy.proxy_url}),
        urllib.request.HTTPSHandler(context=client_context(proxy)),
    )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def stored(proxy: ProxyProcess) -> list[dict]:
    with open_engine(str(proxy.db)).connect() as conn:
        return [request_mapping(r._mapping)
                for r in conn.execute(select(requests).order_by(requests.c.seq))]


def exported(proxy: ProxyProcess, what: str) -> list[dict]:
    out = CliRunner().invoke(main, [what, "--db", str(proxy.db), "--format", "jsonl"]).output
    return [json.loads(line) for line in out.splitlines()]


def test_forwards_every_byte_and_records_the_events(proxy, collector):
    body = gzip.compress(json_stream(EVENTS))
    headers = {"Content-Type": "application/x-json-stream", "Content-Encoding": "gzip",
               "APIKey": "4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e-0a1b-7001", "Client-Id": "NO_AUTH"}
    assert post(proxy, collector.url, body, headers) == 200
    proxy.wait_for("2 events")
    assert proxy.stop() == 0
    (seen,) = collector.received
    assert seen.body == body  # unchanged on the wire
    assert {k.lower(): v for k, v in seen.headers}["apikey"] == headers["APIKey"]
    (row,) = stored(proxy)
    assert row["body"] == body and row["response_status"] == 200
    events = exported(proxy, "events")
    assert [e["name"] for e in events] == ["Office.Word.FileOpen", "Office.Licensing.Heartbeat"]
    said = "\n".join(proxy.seen)
    # The same summary replay prints: one session behind both doors.
    assert "Run 1 (slm-rijk-2019" in said
    assert "telemetry requests:  1" in said and "events:              2" in said
    assert (proxy.folder / "session.mitm").stat().st_size > len(body)
    assert (proxy.folder / "session.mitm").stat().st_mode & 0o077 == 0


def test_non_telemetry_passes_untouched(proxy, collector):
    url = f"https://localhost:{collector.port}/config/v1"
    assert post(proxy, url, b"hello", {"Content-Type": "text/plain"}) == 200
    proxy.stop()
    assert collector.received[0].body == b"hello"
    assert stored(proxy) == []


def test_chunked_upload(proxy, collector):
    body = raw_deflate(json_stream(EVENTS))
    context = client_context(proxy)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as raw:
        raw.sendall(f"CONNECT localhost:{collector.port} HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    .encode())
        assert b"200" in raw.recv(4096)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            head = ("POST /OneCollector/1.0/ HTTP/1.1\r\nHost: localhost\r\n"
                    "Content-Type: application/x-json-stream\r\nContent-Encoding: deflate\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            tls.sendall(head.encode())
            for i in range(0, len(body), 50):
                piece = body[i:i + 50]
                tls.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            tls.sendall(b"0\r\n\r\n")
            assert b"200" in tls.recv(4096)
    proxy.wait_for("2 events")
    proxy.stop()
    assert collector.received[0].body == body
    assert stored(proxy)[0]["body"] == body


def test_http2_client(tmp_path, collector):
    if shutil.which("curl") is None:
        unavailable("curl is not installed")
    # Lazy connection strategy: mitmproxy offers HTTP/2 to the client without first asking
    # the (HTTP/1.1-only) collector stub, and translates between the two.
    proxy = ProxyProcess(tmp_path, "--set", "connection_strategy=lazy", upstream_ca=collector.ca)
    body = json_stream(EVENTS)
    result = subprocess.run(
        ["curl", "-sS", "--http2", "--proxy", proxy.proxy_url, "--cacert", str(proxy.ca_cert),
         "-H", "Content-Type: application/x-json-stream", "--data-binary", "@-",
         "-o", "/dev/null", "-w", "%{http_version} %{http_code}", collector.url],
        input=body, capture_output=True, timeout=60,
    )
    assert result.stdout.decode() == "2 200", result.stderr
    proxy.wait_for("2 events")
    proxy.stop()
    (row,) = stored(proxy)
    assert row["http_version"] == "HTTP/2.0" and row["body"] == body
    assert collector.received[0].body == body


def test_collector_reset_is_recorded_once(proxy, collector):
    body = json_stream(EVENTS)
    status = post(proxy, collector.url + "?stub=reset", body,
                  {"Content-Type": "application/x-json-stream"})
    assert status == 502
    proxy.wait_for("2 events")
    proxy.stop()
    (row,) = stored(proxy)
    assert row["body"] == body and row["response_status"] is None and row["error"]


def test_collector_that_never_answers_is_recorded_at_shutdown(proxy, collector):
    body = json_stream(EVENTS)
    import threading

    def send() -> None:
        # The proxy shuts down while the collector still has not answered.
        with contextlib.suppress(OSError):
            post(proxy, collector.url + "?stub=hang", body,
                 {"Content-Type": "application/x-json-stream"})

    threading.Thread(target=send, daemon=True).start()
    deadline = time.monotonic() + 20
    while not collector.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert collector.received, "the request did not reach the collector"
    assert proxy.stop() == 0
    (row,) = stored(proxy)
    assert row["body"] == body and row["response_status"] is None
    assert len(exported(proxy, "events")) == 2


def test_client_disconnect_mid_body(proxy, collector):
    context = client_context(proxy)
    body = json_stream(EVENTS)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as raw:
        raw.sendall(f"CONNECT localhost:{collector.port} HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    .encode())
        assert b"200" in raw.recv(4096)
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(
            f"POST /OneCollector/1.0/ HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: application/x-json-stream\r\nContent-Length: {len(body) + 500}"
            f"\r\n\r\n".encode() + body
        )
        time.sleep(0.5)
        tls.close()
    time.sleep(1)
    proxy.stop()
    rows = stored(proxy)
    assert len(rows) <= 1  # at most once; mitmproxy may not surface a request without its body
    assert collector.received == []  # an incomplete request is never forwarded
    if rows:
        assert rows[0]["error"]


def test_block_answers_violations_itself(tmp_path, collector):
    proxy = ProxyProcess(tmp_path, "--block", upstream_ca=collector.ca)
    try:
        bad = json_stream(EVENTS)
        headers = {"Content-Type": "application/x-json-stream"}
        assert post(proxy, collector.url, bad, headers) == 204
        proxy.wait_for("BLOCKED")
    finally:
        proxy.stop()
    assert collector.received == []  # nothing reached the collector
    (row,) = stored(proxy)
    assert row["action"] == "blocked" and row["response_status"] == 204
    assert "blocked:             1" in "\n".join(proxy.seen)


def test_kill_minus_nine_keeps_acknowledged_requests(proxy, collector):
    headers = {"Content-Type": "application/x-json-stream"}
    for i in range(5):
        event = dict(EVENTS[1], name=f"Office.Licensing.Heartbeat{i}")
        assert post(proxy, collector.url, json_stream([event]), headers) == 200
    proxy.wait_for("1 events", count=5)
    proxy.kill()
    rows = stored(proxy)
    assert len(rows) == 5
    result = CliRunner().invoke(main, ["verify", "--db", str(proxy.db)])
    assert result.exit_code == 0, result.output


def test_an_isolated_lab_still_records_what_the_client_sent(tmp_path):
    # A port nothing listens on: the collector refuses every connection, as a lab without a
    # route to Microsoft does. The proxy reads the request first (connection_strategy lazy,
    # its default), then fails upstream.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    proxy = ProxyProcess(tmp_path, "--label", "isolated")
    try:
        body = json_stream(EVENTS)
        url = f"https://localhost:{closed}/OneCollector/1.0/"
        for _ in range(2):
            assert post(proxy, url, body, {"Content-Type": "application/x-json-stream"}) == 502
        proxy.wait_for("2 events", count=2)
    finally:
        proxy.stop()
    rows = stored(proxy)
    assert [r["body"] for r in rows] == [body, body]
    assert all(r["response_status"] is None and r["error"] for r in rows)
    said = "\n".join(proxy.seen)
    # The unreachable server is named once, in one line; each stored request says why it
    # went unanswered.
    assert said.count("cannot be reached") == 1
    assert f"upstream localhost:{closed} cannot be reached (connection refused): clients get " \
           "502; telemetry sent to it is still recorded" in said
    assert said.count("not answered by the server: connection refused") == 2
    assert "Traceback" not in said


def test_remote_listening_needs_consent_and_auth():
    runner = CliRunner()
    result = runner.invoke(main, ["proxy", "--listen-host", "0.0.0.0"])
    assert result.exit_code == 2 and "--allow-remote" in result.output
    result = runner.invoke(main, ["proxy", "--listen-host", "0.0.0.0", "--allow-remote"])
    assert result.exit_code == 2 and "--proxyauth" in result.output


def test_bond_client_through_the_proxy(proxy, collector):
    from datetime import UTC, datetime

    from bondwriter import records_body

    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    records = [{"name": "Office.Word.FileOpen", "time": t, "iKey": "o:tenant",
                "data": {"EventInfo.Level": 1, "User.Email": {"value": "a@b.nl",
                                                              "pii": "SmtpAddress"}}},
               {"name": "Office.Licensing.Heartbeat", "time": t, "data": {"EventInfo.Level": 110}}]
    body = raw_deflate(records_body(records))
    headers = {"Content-Type": "application/bond-compact-binary", "Content-Encoding": "deflate",
               "Client-Id": "NO_AUTH", "APIKey": "tenant-1,tenant-2"}
    assert post(proxy, collector.url, body, headers) == 200
    proxy.wait_for("2 events")
    proxy.stop()
    assert collector.received[0].body == body
    with open_engine(str(proxy.db)).connect() as conn:
        from diagscope.store.tables import events as events_table

        rows = conn.execute(select(events_table).order_by(events_table.c.event_index)).all()
    assert [(r.name, r.wire_format, r.ikey) for r in rows] == [
        ("Office.Word.FileOpen", "bond", "o:tenant"), ("Office.Licensing.Heartbeat", "bond", None)]
    first = json.loads(rows[0].cs)
    assert first["data"] == {"EventInfo.Level": 1, "User.Email": "a@b.nl"}
    assert first["time"] == "2026-11-02T09:00:00Z"
    assert json.loads(rows[0].marks)["data.User.Email"]["pii_kind"] == "SmtpAddress"


def test_purge_deletes_the_session_capture_but_not_user_files(proxy, collector, tmp_path):
    assert post(proxy, collector.url, json_stream(EVENTS),
                {"Content-Type": "application/x-json-stream"}) == 200
    proxy.wait_for("2 events")
    proxy.stop()
    session = proxy.folder / "session.mitm"
    assert session.exists()
    result = CliRunner().invoke(main, ["purge", "--db", str(proxy.db), "--run", "1", "--yes"])
    assert result.exit_code == 0 and "1 capture files" in result.output
    assert not session.exists()
    assert stored(proxy) == []
