"""Every capture format testers have, chosen by content: .mitm, HAR, SAZ, DDV, directories."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile
from pathlib import Path

from click.testing import CliRunner
from conftest import telemetry_flow

from diagscope.cli import main
from diagscope.sources.registry import open_source
from diagscope.sources.saz import dechunk
from diagscope.sources.synthetic import gzip_bytes, json_stream, raw_deflate

EVENTS = [
    {"ver": "4.0", "name": "Office.Word.FileOpen", "time": "2026-11-02T09:00:00.000Z",
     "data": {"EventInfo.Level": 1, "User.Email": "jan.jansen@minjenv.nl"}},
    {"ver": "4.0", "name": "Office.Licensing.Heartbeat", "time": "2026-11-02T09:00:01.000Z",
     "data": {"EventInfo.Level": 110}},
]
HOST = "self.events.data.microsoft.com"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def jsonl(*args: str) -> list[dict]:
    return [json.loads(x) for x in run(*args, "--format", "jsonl").output.splitlines()]


def strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("run", "flow_id")} for r in rows]


def raw_request(body: bytes, headers: list[tuple[str, str]], chunked: bool = False,
                target: str = f"https://{HOST}/OneCollector/1.0/") -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(f"{len(body[i:i + 7]):x}\r\n".encode() + body[i:i + 7] + b"\r\n"
                           for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def make_saz(path: Path, sessions: list[bytes | None]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for i, raw in enumerate(sessions, 1):
            if raw is None:
                zf.writestr(f"raw/{i:02d}_c.txt", "CONNECT self.events.data.microsoft.com:443 "
                            "HTTP/1.1\r\nHost: x\r\n\r\n")
                continue
            zf.writestr(f"raw/{i:02d}_c.txt", raw)
            zf.writestr(f"raw/{i:02d}_s.txt", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            zf.writestr(f"raw/{i:02d}_m.xml",
                        f'<Session SID="{i}"><SessionTimers ClientBeginRequest='
                        f'"2026-11-02T10:00:0{i}.1234567+01:00"/></Session>')


def test_dechunk():
    assert dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n") == (b"abcde", None)
    assert dechunk(b"3\r\nabc\r\n5\r\nde")[1] == "chunked body is truncated"
    assert dechunk(b"zz\r\n")[1].startswith("bad chunk size")


def test_saz_gives_the_same_results_as_mitm(tmp_path, capture, db_path):
    ct = [("Content-Type", "application/x-json-stream")]
    bodies = [(json_stream(EVENTS), ct, False),
              (gzip_bytes(json_stream(EVENTS)), [*ct, ("Content-Encoding", "gzip")], True),
              (raw_deflate(json_stream(EVENTS)), [*ct, ("Content-Encoding", "deflate")], False)]
    saz = tmp_path / "lab.saz"
    make_saz(saz, [None] + [raw_request(b, h, c) for b, h, c in bodies])
    mitm = capture([telemetry_flow(f"f{i}", b, h) for i, (b, h, _) in enumerate(bodies)])
    assert open_source(str(saz)).kind == "saz"
    assert run("replay", str(saz), "--db", db_path).exit_code == 0
    assert run("replay", mitm, "--db", db_path).exit_code == 0
    for what in ("events", "findings"):
        saz_rows = jsonl(what, "--db", db_path, "--run", "1")
        mitm_rows = jsonl(what, "--db", db_path, "--run", "2")
        assert saz_rows
        assert strip(saz_rows) == strip(mitm_rows)
    events = jsonl("events", "--db", db_path, "--run", "1")
    assert events[0]["time"] == "2026-11-02T09:00:00Z"
    assert len(events) == 6


def test_saz_named_mitm_and_malformed_sessions(tmp_path, db_path):
    good = raw_request(json_stream(EVENTS), [("Content-Type", "application/x-json-stream")])
    truncated = raw_request(json_stream(EVENTS), [("Content-Type", "application/x-json-stream")],
                            chunked=True)[:-40]
    saz = tmp_path / "misnamed.mitm"
    make_saz(saz, [b"GARBAGE\r\n\r\n", truncated, good])
    result = run("replay", str(saz), "--db", db_path)
    assert result.exit_code == 0, result.output
    assert "session 01 skipped" in result.output
    assert "telemetry requests:  2" in result.output
    findings = jsonl("findings", "--db", db_path)
    assert any(f["rule"] == "undecodable" for f in findings)


def _har(path: Path, body: bytes, as_base64: bool, copies: int = 1) -> None:
    path.write_text(json.dumps(_har_document([_har_entry(body, as_base64)] * copies)))


def _har_document(entries: list[dict]) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
                    "entries": entries}}


def _har_entry(body: bytes, as_base64: bool) -> dict:
    text = base64.b64encode(body).decode() if as_base64 else body.decode("latin-1")
    return {
        "startedDateTime": "2026-11-02T09:00:00.000Z", "time": 5,
        "request": {"method": "POST", "url": f"https://{HOST}/OneCollector/1.0/",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "application/x-json-stream"},
                                {"name": "Content-Encoding", "value": "gzip"}],
                    "queryString": [], "cookies": [], "headersSize": -1,
                    "bodySize": len(body),
                    "postData": {"mimeType": "application/x-json-stream", "text": text,
                                 **({"encoding": "base64"} if as_base64 else {})}},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                     "headers": [], "cookies": [], "content": {"size": 0, "mimeType": ""},
                     "redirectURL": "", "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
    }


def test_har_with_binary_bodies_and_a_warning(tmp_path, db_path):
    body = gzip_bytes(json_stream(EVENTS))
    har = tmp_path / "browser.har"
    _har(har, body, as_base64=True)
    result = run("replay", str(har), "--db", db_path)
    assert result.exit_code == 0 and "HAR file" in result.output
    assert len(jsonl("events", "--db", db_path)) == 2
    mangled = tmp_path / "mangled.har"
    _har(mangled, body.replace(b"\x8b", b"?"), as_base64=False)
    assert run("replay", str(mangled), "--db", db_path).exit_code == 0
    assert [f["rule"] for f in jsonl("findings", "--db", db_path)
            if f["rule"] == "undecodable"] == ["undecodable"]


def test_har_cut_off_keeps_the_entries_before_the_damage(tmp_path, db_path):
    har = tmp_path / "cut.har"
    _har(har, gzip_bytes(json_stream(EVENTS)), as_base64=True, copies=3)
    text = har.read_text()
    har.write_text(text[: text.rindex('"startedDateTime"')])  # into the third entry
    result = run("replay", str(har), "--db", db_path)
    assert result.exit_code != 0 and "damaged HAR file" in result.output
    assert "after 2 flows" in result.output
    assert len(jsonl("events", "--db", db_path)) == 4


def test_har_entry_with_a_bad_url_is_skipped_not_fatal(tmp_path, db_path):
    bad = _har_entry(b"x", as_base64=False)
    bad["request"]["url"] = "https://host:99999999/OneCollector/1.0/"
    har = tmp_path / "badport.har"
    good = _har_entry(gzip_bytes(json_stream(EVENTS)), as_base64=True)
    har.write_text(json.dumps(_har_document([bad, good])))
    result = run("replay", str(har), "--db", db_path)
    assert result.exit_code == 0 and "entry 0 skipped" in result.output
    assert len(jsonl("events", "--db", db_path)) == 2


def test_large_har_is_read_in_constant_memory(tmp_path):
    import tracemalloc

    har = tmp_path / "big.har"
    body = bytes(range(256)) * 40  # 10 KiB a body, 13.7 KiB as base64
    _har(har, body, as_base64=True, copies=1500)
    size = har.stat().st_size
    tracemalloc.start()
    try:
        reader = open_source(str(har))
        count = sum(1 for _ in reader.requests())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 1500 and size > 20_000_000
    assert peak < size / 10, f"peak {peak} bytes reading a {size}-byte HAR"


def _ddv_rows() -> list[dict]:
    return [{"Name": e["name"], "Timestamp": f"2026-11-02T09:00:0{i}Z",
             "Payload": json.dumps(e), "IsCoreData": "True", "DiagnosticDataTypes": "{11}"}
            for i, e in enumerate(EVENTS)]


def test_ddv_csv_and_json(tmp_path, db_path):
    csv_path = tmp_path / "mydata.csv"
    out = io.StringIO()
    out.write('#TYPE Microsoft.Diagnostics.DiagnosticRecord\n')
    writer = csv.DictWriter(out, fieldnames=list(_ddv_rows()[0]))
    writer.writeheader()
    writer.writerows(_ddv_rows())
    csv_path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(out.getvalue().encode("utf-16"))
    json_path = tmp_path / "mydata.json"
    json_path.write_text(json.dumps(_ddv_rows()))
    for path in (csv_path, utf16, json_path):
        assert open_source(str(path)).kind == "ddv"
        result = run("replay", str(path), "--db", db_path)
        assert result.exit_code == 0, result.output
        events = jsonl("events", "--db", db_path)
        assert [e["name"] for e in events] == [e["name"] for e in EVENTS]
        rules = {f["rule"] for f in jsonl("findings", "--db", db_path)}
        assert "destination" not in rules and "transport" not in rules
        assert "personal-data" in rules and "level" in rules


def test_directory_of_mixed_inputs_keeps_sources(tmp_path, capture, db_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(_ddv_rows()))
    Path(capture([telemetry_flow("m", json_stream(EVENTS))])).rename(folder / "b.mitm")
    assert run("replay", str(folder), "--db", db_path).exit_code == 0
    from sqlalchemy import select

    from diagscope.store.engine import open_engine
    from diagscope.store.tables import requests

    with open_engine(db_path).connect() as conn:
        sources = [r[0] for r in conn.execute(select(requests.c.source).order_by(
            requests.c.seq))]
    assert sources == [str(folder / "a.json")] * 2 + [str(folder / "b.mitm")]


def test_garbage_file_is_a_clean_error(tmp_path, db_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    result = run("replay", str(junk), "--db", db_path)
    assert result.exit_code == 2 and "damaged" in result.output
    assert "Traceback" not in result.output


def test_reconcile_wire_against_viewer(tmp_path, capture, db_path):
    only_wire = {"name": "Office.Only.OnTheWire", "time": "2026-11-02T09:05:00Z"}
    wire = capture([telemetry_flow("w", json_stream([*EVENTS, only_wire]))])
    viewer = tmp_path / "ddv.json"
    only_viewer = {"Name": "Office.Only.InTheViewer", "Timestamp": "2026-11-02T09:06:00Z",
                   "Payload": json.dumps({"name": "Office.Only.InTheViewer"})}
    rows = [*_ddv_rows(), only_viewer]
    viewer.write_text(json.dumps(rows))
    run("replay", wire, "--db", db_path)
    run("replay", str(viewer), "--db", db_path)
    data = json.loads(run("reconcile", "1", "2", "--db", db_path, "--format", "json").output)
    assert data["matched"] == 2
    assert [e["name"] for e in data["wire_only"]] == ["Office.Only.OnTheWire"]
    assert [e["name"] for e in data["viewer_only"]] == ["Office.Only.InTheViewer"]
    text = run("reconcile", "1", "2", "--db", db_path).output
    assert "on the wire, not in the viewer (run 1): 1" in text
