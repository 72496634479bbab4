"""Write the sample captures in this folder, reproducibly (same script, same bytes).

The traffic imitates a lab machine running Microsoft 365 Apps and Windows 11: 1DS JSON
uploads as the JS SDK and the C++ SDK send them (headers as in wire-format.md §1.2-1.3),
gzip and raw-deflate bodies, plus ordinary non-telemetry requests that must be ignored.

    python captures/make_samples.py --out captures
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bondwriter import records_body

from diagscope.sources.synthetic import (
    gzip_bytes,
    json_stream,
    make_flow,
    raw_deflate,
    write_capture,
)

START = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
TENANT = "4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e"
IKEY = f"o:{TENANT}"
APIKEY = f"{TENANT}-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-7001"
OFFICE_VER = "16.0.17328.20162"
OS_VER = "10.0.22631.4460"
CANARY_EMAIL = "jan.jansen@minjenv.nl"
CANARY_DOC = "Ontslagbrief-Canary-7f3a"

# ext.metadata.f type codes: (piiKind << 5) | type, type 1 = string (1DS JS SDK).
PII_SMTP_STRING = (9 << 5) | 1
CUSTOMER_CONTENT_STRING = (1 << 13) | 1


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def office_event(
    name: str, t: datetime, seq: int, level: int | None, app: str = "Word",
    data: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ext: dict[str, Any] = {
        "app": {"name": app, "ver": OFFICE_VER, "id": f"{app}.exe", "locale": "nl-NL"},
        "os": {"name": "Windows", "ver": OS_VER, "locale": "nl-NL"},
        "device": {"localId": "s:8E1F37A2-5C4B-4E1D-9F0A-2B3C4D5E6F70", "deviceClass":
                   "Windows.Desktop"},
        "user": {"localId": "m:0003BFFD9C2A41E7", "locale": "nl-NL"},
        "sdk": {"ver": "1DS-Web-JS-4.3.3", "seq": seq,
                "epoch": "6d3b1a2c-4f5e-4a7b-8c9d-0e1f2a3b4c5d"},
        "loc": {"timezone": "+01:00"},
    }
    if metadata:
        ext["metadata"] = {"f": metadata}
    body: dict[str, Any] = {"App.Name": app, "Session.Id": "7a9c2e1f-3b4d-4c5e-8f60-718293a4b5c6"}
    if level is not None:
        body["EventInfo.Level"] = level
    body.update(data or {})
    return {"ver": "4.0", "name": name, "time": _iso(t), "iKey": IKEY, "ext": ext, "data": body}


def windows_event(name: str, t: datetime, seq: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "ver": "4.0", "name": name, "time": _iso(t), "iKey": "o:0a89d516ae714e01ae89c96d185e9ae3",
        "ext": {
            "utc": {"cat": 0x0000800000000000, "flags": 0x2A40, "eventFlags": 0x102,
                    "pgName": "WINCORE", "seq": seq},
            "os": {"name": "Windows", "ver": OS_VER, "bootId": 12},
            "device": {"localId": "s:8E1F37A2-5C4B-4E1D-9F0A-2B3C4D5E6F70",
                       "deviceClass": "Windows.Desktop"},
            "app": {"id": "W:0000f519feec486de87ed73cb92d3cac802400000000!0000f519feec486"},
        },
        "data": data,
    }


def js_headers(body_len: int, gzipped: bool = False) -> list[tuple[str, str]]:
    headers = [
        ("Host", "self.events.data.microsoft.com"),
        ("Content-Type", "text/plain;charset=UTF-8"),
        ("client-id", "NO_AUTH"),
        ("client-version", "1DS-Web-JS-4.3.3"),
        ("apikey", APIKEY),
        ("upload-time", "1793610000000"),
        ("cache-control", "no-cache, no-store"),
        ("Content-Length", str(body_len)),
    ]
    if gzipped:
        headers.insert(2, ("Content-Encoding", "gzip"))
    return headers


def cpp_json_headers(host: str, body_len: int) -> list[tuple[str, str]]:
    return [
        ("Host", host),
        ("Expect", "100-continue"),
        ("SDK-Version", "EVT-Windows-C++-No-3.7.62.1"),
        ("Client-Id", "NO_AUTH"),
        ("Content-Type", "application/x-json-stream"),
        ("Upload-Time", "1793610000000"),
        ("APIKey", APIKEY),
        ("Content-Encoding", "deflate"),
        ("Content-Length", str(body_len)),
    ]


JS_PATH = "/OneCollector/1.0/?cors=true&content-type=application/x-json-stream&w=0"


def office_json_flows() -> list:
    t = START
    flows = []
    seq = 0

    def next_t(seconds: float = 7.0) -> datetime:
        nonlocal t
        t = t + timedelta(seconds=seconds)
        return t

    # Session start at the agreed level (essential and service events only).
    batch = []
    for name, level in (
        ("Office.Telemetry.ProcessIdleQueueJob", 120),
        ("Office.Licensing.Heartbeat", 110),
        ("Office.ClickToRun.UpdateStatus", 110),
        ("Office.System.UserChangedDiagnosticLevel", 120),
    ):
        seq += 1
        batch.append(office_event(name, next_t(1), seq, level))
    body = json_stream(batch)
    flows.append(make_flow(
        "office-json-1", time=t.timestamp(), host="self.events.data.microsoft.com",
        path=JS_PATH, headers=js_headers(len(body)), body=body,
    ))

    # Same, gzip-compressed by the JS SDK's zipPayload feature.
    batch = []
    for name, level in (("Office.Identity.TokenRefresh", 110), ("Office.Licensing.Heartbeat", 110)):
        seq += 1
        batch.append(office_event(name, next_t(1), seq, level, app="Outlook"))
    body = gzip_bytes(json_stream(batch))
    flows.append(make_flow(
        "office-json-2", time=next_t().timestamp(), host="self.events.data.microsoft.com",
        path=JS_PATH, headers=js_headers(len(body), gzipped=True), body=body,
    ))

    # Required and optional events although the policy says Neither: violations.
    batch = []
    for name, level, extra, meta in (
        ("Office.Word.FileOpen", 1, {"Document.Extension": "docx"}, None),
        ("Office.Outlook.Desktop.Compose.SendMail", 2,
         {"Mail.Subject": f"Re: {CANARY_DOC}", "User.Email": CANARY_EMAIL},
         {"User.Email": {"t": PII_SMTP_STRING}, "Mail.Subject": {"t": CUSTOMER_CONTENT_STRING}}),
        ("Office.Feed.Recommendation.Shown", 2, {"Campaign.Id": "M365-Upsell-Q4"}, None),
    ):
        seq += 1
        batch.append(office_event(name, next_t(2), seq, level, data=extra, metadata=meta))
    body = raw_deflate(json_stream(batch))
    flows.append(make_flow(
        "office-json-3", time=next_t().timestamp(), host="self.events.data.microsoft.com",
        path="/OneCollector/1.0/", headers=cpp_json_headers(
            "self.events.data.microsoft.com", len(body)), body=body,
    ))

    # An event with no level signal at all: nothing passes silently.
    seq += 1
    path_value = f"C:\\Users\\jjansen\\Documents\\{CANARY_DOC}.docx"
    batch = [office_event(
        "Office.Word.Document.Save", next_t(), seq, None,
        data={"Document.Path": path_value,
              "Document.NameHash": hashlib.sha256(CANARY_DOC.lower().encode()).hexdigest()},
    )]
    body = raw_deflate(json_stream(batch))
    flows.append(make_flow(
        "office-json-4", time=next_t().timestamp(), host="us-mobile.events.data.microsoft.com",
        path="/OneCollector/1.0/", headers=cpp_json_headers(
            "us-mobile.events.data.microsoft.com", len(body)), body=body,
    ))

    # Windows census over the Windows endpoint (UTC extension, CRITICAL_DATA keyword).
    batch = [windows_event("Census.App", next_t(), 41, {"AppraiserEnabled": True}),
             windows_event("Microsoft.Windows.Inventory.Core.InventoryApplicationAdd",
                           next_t(1), 42, {"Name": "Microsoft 365 Apps", "Version": OFFICE_VER})]
    body = gzip_bytes(json_stream(batch))
    flows.append(make_flow(
        "windows-json-1", time=next_t().timestamp(), host="eu-v10c.events.data.microsoft.com",
        path="/OneCollector/1.0/", headers=[
            ("Host", "eu-v10c.events.data.microsoft.com"),
            ("Content-Type", "application/x-json-stream"),
            ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))],
        body=body,
    ))

    # Security-level Windows data (allowed at Security) to the EU endpoint.
    batch = [windows_event("Microsoft.Windows.MSRT.ScanResult", next_t(), 43,
                           {"EngineVersion": "1.1.24090.11", "ThreatsFound": 0})]
    body = gzip_bytes(json_stream(batch))
    flows.append(make_flow(
        "windows-json-2", time=next_t().timestamp(), host="eu-v10c.events.data.microsoft.com",
        path="/OneCollector/1.0/", headers=[
            ("Host", "eu-v10c.events.data.microsoft.com"),
            ("Content-Type", "application/x-json-stream"),
            ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))],
        body=body,
    ))

    # A legacy Aria web client posting in the clear, content type in the query string.
    seq += 1
    batch = [office_event("Office.Online.Addin.Survey.Prompt", next_t(), seq, 2, app="Excel")]
    body = json_stream(batch)
    flows.append(make_flow(
        "aria-http", time=next_t().timestamp(), host="browser.pipe.aria.microsoft.com",
        scheme="http",
        path="/Collector/3.0/?qsp=true&content-type=application/x-json-stream"
             "&client-id=NO_AUTH&sdk-version=AWT-Web-JS-1.1.1",
        headers=[("Host", "browser.pipe.aria.microsoft.com"),
                 ("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
        body=body,
    ))

    # Ordinary traffic around it, which diagscope must leave alone.
    flows.append(make_flow(
        "officeclient-config", time=next_t().timestamp(), host="officeclient.microsoft.com",
        path="/config16processed?rs=nl-nl&build=16.0.17328", method="GET",
        headers=[("Host", "officeclient.microsoft.com")], response_body=b"<config/>",
    ))
    flows.append(make_flow(
        "ecs-config", time=next_t().timestamp(), host="ecs.office.com",
        path="/config/v1/Office/1.0?Clientid=%7B0%7D&Application=Word", method="GET",
        headers=[("Host", "ecs.office.com")], response_body=b"{}",
    ))
    flows.append(make_flow(
        "login", time=next_t().timestamp(), host="login.microsoftonline.com",
        path="/common/oauth2/v2.0/token", method="POST",
        headers=[("Host", "login.microsoftonline.com"),
                 ("Content-Type", "application/x-www-form-urlencoded")],
        body=b"grant_type=refresh_token&client_id=d3590ed6-52b3-4102-aeff-aad2292ab01c",
    ))
    return flows


def bond_headers(host: str, body_len: int, tenants: list[str], encoding: str | None
                 ) -> list[tuple[str, str]]:
    """What the 1DS C++ SDK sends (HttpRequestEncoder.cpp)."""
    headers = [
        ("Host", host),
        ("Expect", "100-continue"),
        ("SDK-Version", "EVT-Windows-C++-No-3.7.62.1"),
        ("Client-Id", "NO_AUTH"),
        ("Content-Type", "application/bond-compact-binary"),
        ("Upload-Time", "1793610000000"),
        ("APIKey", ",".join(tenants)),
    ]
    if encoding:
        headers.append(("Content-Encoding", encoding))
    headers.append(("Content-Length", str(body_len)))
    return headers


def bond_record(name: str, t: datetime, seq: int, level: int | None, data: dict[str, Any],
                ikey: str = IKEY, app: str = "Word") -> dict[str, Any]:
    props: dict[str, Any] = {"App.Name": app}
    if level is not None:
        props["EventInfo.Level"] = level
    props.update(data)
    return {
        "ver": "4.0", "name": name, "time": t, "iKey": ikey, "flags": 0x00400101,
        "ext": {
            "app": {"name": app, "ver": OFFICE_VER, "id": f"{app}.exe", "locale": "nl-NL"},
            "os": {"name": "Windows", "ver": OS_VER, "locale": "nl-NL"},
            "device": {"localId": "s:8E1F37A2-5C4B-4E1D-9F0A-2B3C4D5E6F70",
                       "deviceClass": "Windows.Desktop"},
            "user": {"localId": "m:0003BFFD9C2A41E7", "locale": "nl-NL"},
            "sdk": {"ver": "EVT-Windows-C++-No-3.7.62.1", "seq": seq,
                    "epoch": "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8"},
        },
        "data": props,
    }


def office_bond_flows() -> list:
    """Office Win32's own uploads: Bond records, raw deflate by default."""
    t = START + timedelta(minutes=5)
    other_tenant = "0f8a9b7c6d5e4f3a2b1c0d9e8f7a6b5c"
    other_key = f"{other_tenant}-1b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e-7002"
    flows = []
    host = "self.events.data.microsoft.com"

    # Essential and service data, two tenants in one batch (APIKey lists both).
    records = [
        bond_record("Office.Telemetry.ProcessIdleQueueJob", t, 101, 120, {}),
        bond_record("Office.ClickToRun.UpdateStatus", t + timedelta(seconds=1), 102, 110,
                    {"Update.Version": OFFICE_VER}),
        bond_record("Office.Licensing.Heartbeat", t + timedelta(seconds=2), 103, 110, {},
                    ikey=f"o:{other_tenant}"),
    ]
    body = raw_deflate(records_body(records))
    flows.append(make_flow("office-bond-1", time=(t + timedelta(seconds=3)).timestamp(),
                           host=host, path="/OneCollector/1.0/",
                           headers=bond_headers(host, len(body), [APIKEY, other_key], "deflate"),
                           body=body))

    # Optional data with declared PII and customer content: the SDK marks the fields.
    t += timedelta(seconds=20)
    records = [bond_record(
        "Office.Word.Document.Save", t, 104, 2,
        {"Document.Title": {"value": CANARY_DOC, "customer": True},
         "User.Email": {"value": CANARY_EMAIL, "pii": "SmtpAddress"},
         "Document.Path": f"C:\\Users\\jjansen\\Documents\\{CANARY_DOC}.docx"})]
    body = gzip_bytes(records_body(records))
    # gzip, but labelled "deflate": what the C++ SDK does when configured for gzip.
    flows.append(make_flow("office-bond-2", time=(t + timedelta(seconds=1)).timestamp(),
                           host=host, path="/OneCollector/1.0/",
                           headers=bond_headers(host, len(body), [APIKEY], "deflate"),
                           body=body))

    # Uncompressed, to the EU endpoint.
    t += timedelta(seconds=20)
    eu = "eu-mobile.events.data.microsoft.com"
    records = [bond_record("Office.System.UserChangedDiagnosticLevel", t, 105, 120,
                           {"OldDiagnosticLevel": 1, "NewDiagnosticLevel": 3})]
    body = records_body(records)
    flows.append(make_flow("office-bond-3", time=(t + timedelta(seconds=1)).timestamp(),
                           host=eu, path="/OneCollector/1.0/",
                           headers=bond_headers(eu, len(body), [APIKEY], None), body=body))

    # An upload cut short on the wire (the connection dropped mid-body): the records before
    # the damage are decoded, the rest is an `undecodable` finding with the raw bytes kept.
    t += timedelta(seconds=20)
    records = [bond_record("Office.Licensing.Heartbeat", t, 106, 110, {}),
               bond_record("Office.Word.FileSave", t, 107, 1, {"Document.Extension": "docx"})]
    whole = records_body(records)
    body = whole[: len(whole) - 30]
    flows.append(make_flow("office-bond-4", time=(t + timedelta(seconds=1)).timestamp(),
                           host=eu, path="/OneCollector/1.0/",
                           headers=bond_headers(eu, len(body), [APIKEY], None), body=body,
                           status=None, error="client disconnected"))
    return flows


def ddv_export() -> list[dict[str, Any]]:
    """What `Get-DiagnosticData | ConvertTo-Json` gives on the lab machine: Windows' own
    record of what it sent, including an event the wire capture did not see."""
    t = START + timedelta(seconds=40)
    rows = []
    windows_events: tuple[tuple[str, dict[str, Any]], ...] = (
        ("Census.App", {"AppraiserEnabled": True}),
        ("Microsoft.Windows.Inventory.Core.InventoryApplicationAdd",
         {"Name": "Microsoft 365 Apps", "Version": OFFICE_VER}),
        ("Microsoft.Windows.Update.WUClient.CheckForUpdatesSucceeded",
         {"NumberOfApplicableUpdates": 0, "CallerName": "UpdateOrchestrator"}),
    )
    for i, (name, data) in enumerate(windows_events):
        event = windows_event(name, t + timedelta(seconds=7 + i), 41 + i, data)
        rows.append({"Name": name, "Timestamp": event["time"], "Payload": json.dumps(event),
                     "IsCoreData": True, "DiagnosticDataTypes": [11]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    for name, flows in (("office-json.mitm", office_json_flows()),
                        ("office-bond.mitm", office_bond_flows())):
        n = write_capture(str(out / name), flows)
        print(f"wrote {out / name} ({n} flows)")
    rows = ddv_export()
    (out / "ddv-export.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out / 'ddv-export.json'} ({len(rows)} Diagnostic Data Viewer rows)")


if __name__ == "__main__":
    main()
