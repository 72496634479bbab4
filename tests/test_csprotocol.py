"""CsProtocol Records -> Events: every field, PII marks, damage, and fuzzing."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from bondwriter import PII, Writer, record, records_body
from hypothesis import given, settings
from hypothesis import strategies as st

from diagscope.decode.csprotocol import decode_records, ticks_to_datetime
from diagscope.model import FieldMark, RecordFlag

T = datetime(2026, 11, 2, 9, 30, 15, 250000, tzinfo=UTC)
GUID = "6d3b1a2c-4f5e-4a7b-8c9d-0e1f2a3b4c5d"

FULL = {
    "ver": "4.0", "name": "Office.Outlook.Desktop.Compose.SendMail", "time": T,
    "popSample": 10.0, "iKey": "o:4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e",
    "flags": RecordFlag.PERSISTENCE_CRITICAL | 0x0200 | RecordFlag.MARK_PII | RecordFlag.SCRUB_IP,
    "cV": "A1b2C3d4E5f6.1.2",
    "ext": {
        "app": {"name": "Outlook", "ver": "16.0.17328.20162", "asId": 3},
        "os": {"name": "Windows", "ver": "10.0.22631", "bootId": 12},
        "user": {"localId": "m:0003BFFD9C2A41E7"},
        "device": {"localId": "s:8E1F37A2", "deviceClass": "Windows.Desktop"},
        "utc": {"cat": 0x0000800000000000, "eventFlags": 0x102},
        "sdk": {"ver": "EVT-Windows-C++-No-3.7.62.1", "seq": 42, "epoch": GUID},
        "protocol": {"ticketKeys": ["k1", "k2"], "devMake": "Contoso"},
        "m365a": {"enrolledTenantId": "t1", "msp": 2**63 + 5},
        "loc": {"timezone": "+01:00"},
    },
    "tags": {"k": "v"},
    "baseType": "Ms.Mail.Send",
    "baseData": {"Recipient.Count": 3, "Sip": {"value": "sip:jan@x.nl", "pii": "SipAddress"}},
    "data": {
        "EventInfo.Level": 2,
        "User.Email": {"value": "jan.jansen@minjenv.nl", "pii": "SmtpAddress"},
        "Mail.Subject": {"value": "Ontslagbrief", "customer": True, "pii": "MailSubject"},
        "Count32": {"value": -7, "kind": "int32"},
        "U32": {"value": 4_000_000_000, "kind": "uint32"},
        "U64": {"value": 2**64 - 2, "kind": "uint64"},
        "Ratio": 0.25,
        "Ok": False,
        "When": {"value": T, "kind": "datetime"},
        "Id": {"value": GUID, "kind": "guid"},
        "Ints": [1, -2, 3],
        "Floats": [0.5, 1.5],
        "Bools": [True, False],
        "Strings": ["a", "b"],
        "Times": {"value": [T, T], "kind": "datetime[]"},
        "Ids": {"value": [GUID, str(uuid.UUID(int=1))], "kind": "guid[]"},
        "BigInts": {"value": [2**64 - 1], "kind": "uint64[]"},
    },
}


def test_every_field_of_a_record():
    result = decode_records(records_body([FULL]))
    assert result.error is None
    (e,) = result.events
    assert (e.ver, e.name, e.time, e.pop_sample, e.ikey, e.cv) == (
        "4.0", FULL["name"], T, 10.0, FULL["iKey"], "A1b2C3d4E5f6.1.2")
    assert e.flags == FULL["flags"]
    assert RecordFlag.describe(e.flags) == ["persistence:critical", "latency:realtime",
                                            "MARK_PII", "SCRUB_IP"]
    assert e.ext["app"] == {"name": "Outlook", "ver": "16.0.17328.20162", "asId": 3}
    assert e.ext["os"]["bootId"] == 12 and e.ext["utc"]["cat"] == 0x0000800000000000
    assert e.ext["sdk"] == {"ver": "EVT-Windows-C++-No-3.7.62.1", "seq": 42, "epoch": GUID}
    assert e.ext["protocol"] == {"ticketKeys": [["k1", "k2"]], "devMake": "Contoso"}
    assert e.ext["m365a"]["msp"] == 2**63 + 5
    assert e.ext["loc"] == {"timezone": "+01:00"}
    assert e.tags == {"k": "v"}
    assert e.base_type == "Ms.Mail.Send"
    assert e.base_data == {"Recipient.Count": 3, "Sip": "sip:jan@x.nl"}
    assert e.data == {
        "EventInfo.Level": 2, "User.Email": "jan.jansen@minjenv.nl",
        "Mail.Subject": "Ontslagbrief", "Count32": -7, "U32": 4_000_000_000, "U64": 2**64 - 2,
        "Ratio": 0.25, "Ok": False, "When": T, "Id": GUID, "Ints": [1, -2, 3],
        "Floats": [0.5, 1.5], "Bools": [True, False], "Strings": ["a", "b"], "Times": [T, T],
        "Ids": [GUID, str(uuid.UUID(int=1))], "BigInts": [2**64 - 1],
    }
    assert e.marks == {
        "data.User.Email": FieldMark("SmtpAddress", False),
        "data.Mail.Subject": FieldMark("MailSubject", True),
        "baseData.Sip": FieldMark("SipAddress", False),
    }
    assert e.wire_format == "bond" and e.index == 0
    assert e.to_cs()["data"]["baseType"] == "Ms.Mail.Send"


def test_guid_windows_byte_order():
    body = records_body([{"name": "G", "time": T, "data": {"Id": {"value": GUID,
                                                                  "kind": "guid"}}}])
    # Data1, Data2 and Data3 are little-endian on the wire, Data4 as is.
    assert bytes.fromhex("2c1a3b6d" "5e4f" "7b4a" "8c9d0e1f2a3b4c5d") in body
    assert decode_records(body).events[0].data["Id"] == GUID


def test_ticks():
    assert ticks_to_datetime(621_355_968_000_000_000) == datetime(1970, 1, 1, tzinfo=UTC)
    assert ticks_to_datetime(10**30) is None


def test_every_pii_kind_is_named():
    data = {f"F{k}": {"value": "x", "pii": name} for name, k in PII.items()}
    marks = decode_records(records_body([{"name": "P", "time": T, "data": data}])).events[0].marks
    assert {m.pii_kind for m in marks.values()} == set(PII)


def test_cs3_and_cs4_in_one_body():
    body = records_body([{"ver": "3.0", "name": "A", "time": T},
                         {"ver": "4.0", "name": "B", "time": T}])
    assert body[:5] == bytes.fromhex("2903332e30")
    events = decode_records(body).events
    assert [(e.ver, e.name, e.index) for e in events] == [("3.0", "A", 0), ("4.0", "B", 1)]


def test_damaged_record_keeps_the_ones_before_and_says_where():
    good = records_body([{"name": "A", "time": T}, {"name": "B", "time": T}])
    third = records_body([{"name": "C", "time": T, "data": {"X": "y" * 40}}])
    body = good + third[:20]
    result = decode_records(body)
    assert [e.name for e in result.events] == ["A", "B"]
    assert result.error is not None and f"starting at byte {len(good)}" in result.error
    assert result.error_offset is not None and result.error_offset >= len(good)


def test_unknown_fields_are_kept():
    from diagscope.decode.bond import BT_STRING, BT_UINT32, BondList

    rec = record({"name": "U", "time": T, "ext": {"app": {"name": "Word"}}})
    rec.fields[99] = (BT_UINT32, 7)
    rec.fields[25][1].items[0].fields[42] = (BT_STRING, "new field")
    rec.fields[46] = (BT_STRING, "unknown extension")
    assert isinstance(rec.fields[25][1], BondList)
    e = decode_records(Writer(1).struct(rec)).events[0]
    assert e.ext["app"] == {"name": "Word", "field_42": "new field"}
    assert e.ext["unknownRecordFields"] == {"field_99": 7, "field_46": "unknown extension"}


def test_marshalled_v2_body():
    body = b"CB\x02\x00" + records_body([{"name": "V2", "time": T, "data": {"a": 1}}], 2)
    result = decode_records(body)
    assert result.error is None and result.events[0].data == {"a": 1}


def test_empty_body():
    result = decode_records(b"")
    assert result.events == [] and result.error is None


def test_struct_that_is_no_record_is_reported():
    from diagscope.decode.bond import BT_INT32

    body = Writer(1).struct(record({"name": "ok", "time": T}))
    bad = Writer(1).struct(record({"name": "x", "time": T}))
    bad = bad.replace(b"\x49\x01x", bytes([(2 << 5) | BT_INT32, 4]))  # name as an int32
    result = decode_records(body + bad)
    assert [e.name for e in result.events] == ["ok", ""]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_report(body):
    result = decode_records(body)
    assert (result.error is None) or isinstance(result.error_offset, int)


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 8))
def test_mutated_records_decode_or_report(rng: random.Random, flips: int):
    body = bytearray(records_body([FULL, {"name": "B", "time": T, "data": {"x": "y"}}]))
    for _ in range(flips):
        i = rng.randrange(len(body))
        body[i] = rng.randrange(256)
    cut = rng.randrange(len(body) + 1)
    result = decode_records(bytes(body[:cut]))
    assert result.error is None or result.error_offset is not None
    for event in result.events:
        event.to_cs()  # every decoded event can be shown


def _request(body: bytes, headers: list[tuple[str, str]], path: str = "/OneCollector/1.0/"):
    from diagscope.model import Request

    return Request("f", T, "POST", "https", "self.events.data.microsoft.com", 443, path,
                   headers, body)


def test_bond_bodies_in_every_encoding_through_decode_body():
    import gzip

    from diagscope.decode.body import decode_body
    from diagscope.model import DecodeStatus
    from diagscope.sources.synthetic import raw_deflate

    plain = records_body([FULL, {"name": "B", "time": T}])
    bond = [("Content-Type", "application/bond-compact-binary")]
    cases = [
        (raw_deflate(plain), [*bond, ("Content-Encoding", "deflate")], "deflate"),
        (gzip.compress(plain), [*bond, ("Content-Encoding", "deflate")], "gzip"),
        (plain, bond, "identity"),
        (plain, [("Content-Type", "application/octet-stream")], "identity"),  # sniffed
    ]
    for body, headers, encoding in cases:
        decoded = decode_body(_request(body, headers))
        assert decoded.status is DecodeStatus.OK, decoded.error
        assert decoded.content_encoding == encoding
        assert [e.name for e in decoded.events] == [FULL["name"], "B"]
    legacy = decode_body(_request(plain, [("Content-Type", "text/plain")],
                                  "/Collector/3.0/?qsp=true&content-type="
                                  "application/bond-compact-binary&x-apikey=k"))
    assert legacy.content_type == "application/bond-compact-binary" and len(legacy.events) == 2


def test_damaged_bond_body_is_partial_with_offset():
    from diagscope.decode.body import decode_body
    from diagscope.model import DecodeStatus

    body = records_body([FULL])
    decoded = decode_body(_request(body + b"\x29\x03\x34\x2e\x30\x49\xff",
                                   [("Content-Type", "application/bond-compact-binary")]))
    assert decoded.status is DecodeStatus.PARTIAL and len(decoded.events) == 1
    assert decoded.error_offset is not None and decoded.error_offset >= len(body)


def test_show_prints_the_generic_tree_of_a_damaged_bond_body(tmp_path, capture):
    import json

    from click.testing import CliRunner
    from conftest import telemetry_flow

    from diagscope.cli import main

    body = records_body([{"name": "Good", "time": T}]) + b"\x29\x03\x34\x2e\x30\xc9\x63\x05"
    db = str(tmp_path / "d.sqlite")
    path = capture([telemetry_flow("bad-bond", body,
                                   [("Content-Type", "application/bond-compact-binary")])])
    CliRunner().invoke(main, ["replay", path, "--db", db])
    events = [json.loads(x) for x in CliRunner().invoke(
        main, ["events", "--db", db, "--format", "jsonl"]).output.splitlines()]
    assert [e["name"] for e in events] == ["Good"]
    out = CliRunner().invoke(main, ["show", events[0]["flow_id"], "--db", db]).output
    assert "generic Bond tree: 1 structs read, then" in out
    assert '"value": "Good"' in out
