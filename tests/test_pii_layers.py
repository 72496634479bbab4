"""Decoding the layers a telemetry string hides, and scanning what is underneath."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from urllib.parse import quote

import pytest

from diagscope.model import Event
from diagscope.pii.layers import (
    MAX_DEPTH,
    MAX_TEXT,
    MAX_VARIANTS,
    decoded_layers,
    describe,
    may_be_encoded,
)
from diagscope.pii.mask import mask
from diagscope.pii.scan import DETECTORS, scan_event_values

SENTENCE = "Ontslag J. Jansen"


def texts(key: str, value: str) -> dict[str, tuple[str, ...]]:
    return {d.text: d.layers for d in decoded_layers(key, value)}


def b64(text: str | bytes, urlsafe: bool = False) -> str:
    raw = text.encode() if isinstance(text, str) else text
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(raw).decode()


@pytest.mark.parametrize(("key", "value", "text", "layers"), [
    ("navigationUrlBytes", "0x" + b"www.rechtspraak.nl".hex().upper(), "www.rechtspraak.nl",
     ("hex", "utf-8")),
    ("navigationUrlBytes", b"www.rechtspraak.nl".hex(), "www.rechtspraak.nl", ("hex", "utf-8")),
    ("Blob", SENTENCE.encode().hex(), SENTENCE, ("hex", "utf-8")),  # no hint: it is text
    ("Blob", "0x" + SENTENCE.encode("utf-16-le").hex(), SENTENCE, ("hex", "utf-16le")),
    ("Blob", b64(SENTENCE), SENTENCE, ("base64", "utf-8")),
    ("Blob", b64("Ontslag? J. Jansen>>>", urlsafe=True), "Ontslag? J. Jansen>>>",
     ("base64url", "utf-8")),
    ("Blob", b64(SENTENCE.encode("utf-16-le")), SENTENCE, ("base64", "utf-16le")),
    ("Blob", b64(SENTENCE).rstrip("="), SENTENCE, ("base64", "utf-8")),  # padding dropped
    ("Url", quote("https://www.nu.nl/zoek?q=ontslag J. Jansen", safe=""),
     "https://www.nu.nl/zoek?q=ontslag J. Jansen", ("percent",)),
])
def test_each_encoding(key, value, text, layers):
    assert texts(key, value)[text] == layers


def test_json_values_keep_their_own_key_and_path():
    value = json.dumps({"runs": [{"locale": "nl-NL", "words": [{"word": "ontslag"},
                                                                {"word": "brief"}]}],
                        "count": 123456789012})
    found = {(d.text, d.key, d.inner_path, d.layers) for d in decoded_layers("userText", value)}
    assert found == {("nl-NL", "locale", "runs[0].locale", ("json",)),
                     ("ontslag", "word", "runs[0].words[0].word", ("json",)),
                     ("brief", "word", "runs[0].words[1].word", ("json",)),
                     ("123456789012", "count", "count", ("json",))}


def test_a_top_level_array_keeps_the_outer_key():
    (found,) = decoded_layers("Recipients", '["p.bakker@minjenv.nl"]')
    assert (found.key, found.inner_path, found.text) == ("Recipients", "[0]",
                                                        "p.bakker@minjenv.nl")


@pytest.mark.parametrize(("value", "text", "layers"), [
    ("0x" + quote("jan@minjenv.nl jan").encode().hex(), "jan@minjenv.nl jan",
     ("hex", "utf-8", "percent")),
    (b64(json.dumps({"mail": "jan@minjenv.nl"})), "jan@minjenv.nl",
     ("base64", "utf-8", "json")),
    (quote(json.dumps({"q": "ontslag"})), "ontslag", ("percent", "json")),
    (json.dumps({"blob": b64(SENTENCE)}), SENTENCE, ("json", "base64", "utf-8")),
])
def test_nested_layers_outermost_first(value, text, layers):
    assert texts("Data", value)[text] == layers


def test_depth_is_bounded():
    def wrapped(times: int) -> str:
        value = SENTENCE
        for _ in range(times):
            value = b64(value)
        return value

    assert SENTENCE in texts("Blob", wrapped(MAX_DEPTH))
    assert SENTENCE not in texts("Blob", wrapped(MAX_DEPTH + 1))


def test_size_is_bounded():
    assert texts("Blob", b64("a" * 1000 + " jan"))  # small enough
    too_long = b64("Ontslag J. Jansen " * (MAX_TEXT // 10))
    assert len(too_long) > MAX_TEXT
    assert decoded_layers("Blob", too_long) == []


def test_number_of_variants_is_bounded():
    document = json.dumps({f"k{i}": f"word {i}" for i in range(10 * MAX_VARIANTS)})
    assert len(decoded_layers("Data", document)) == MAX_VARIANTS


@pytest.mark.parametrize("value", [
    "0x" + "41" * 5_000_000,  # a hex bomb: 10 MB of digits
    b64("A" * 5_000_000),
    "[" * 30_000 + "]" * 30_000,  # nesting beyond any parser's recursion limit
    json.dumps([[[[[[[[[[b64(b64(b64(b64(b64(SENTENCE)))))]]]]]]]]]]),
])
def test_bomb_like_values_stay_bounded_and_fast(value):
    start = time.perf_counter()
    found = decoded_layers("Blob", value)
    assert time.perf_counter() - start < 0.5
    assert len(found) <= MAX_VARIANTS and all(len(d.text) <= MAX_TEXT for d in found)
    assert all(len(d.layers) <= 2 * MAX_DEPTH for d in found)


@pytest.mark.parametrize("value", [
    str(uuid.UUID(int=7)), str(uuid.uuid4()).upper(), "{EF03816C-D381-BAA8-7904-7272C69C962F}",
    uuid.uuid4().hex, uuid.uuid4().hex.upper(),
    hashlib.sha256(b"x").hexdigest(), hashlib.md5(b"x").hexdigest(),
    base64.b64encode(hashlib.sha256(b"x").digest()).decode(),
    base64.urlsafe_b64encode(hashlib.sha256(b"y").digest()).decode().rstrip("="),
    "16.0.17328.20162", "10.0.19043.985.amd64fre.vb_release.191206-1406",
    "Professional", "MonthlyEnterprise", "Unmetered", "OneCollector", "applicationName",
    "0x80070005", "0x0000002000000000", "0x", "12345678901234", "20210518",
    "[(0,1)]", "DSMAUser:[]LastLoggedOnUser:[(0,1)]", "t/q4SyOHC0S915Bo.0",
    "W:0000f519feec486de87ed73cb92d3cac802400000000!0000abb864e1911c59f785b0e1822701b9a5ab31"
    "ba1e!ctfmon.exe", "100%", "F900E802E00B88C5",
])
def test_values_that_only_look_encoded_are_not_decoded(value):
    assert decoded_layers("Field", value) == []


def test_plain_values_are_rejected_by_the_cheap_test():
    for value in ("Word", "nl-NL", "16.0.17328.20162", str(uuid.uuid4()), "Latitude 7440"):
        assert not may_be_encoded(value)


def test_describe_names_json_paths_and_encodings():
    assert describe(("json",), "runs[0].words[0].word") == "inside JSON at runs[0].words[0].word"
    assert describe(("hex", "utf-8")) == "decoded from hex, UTF-8"
    assert describe(("base64", "utf-8", "json"), "user.mail") == \
        "inside JSON at user.mail; decoded from base64, UTF-8"
    assert describe(()) == ""


def test_scan_reports_decoded_values_with_layers_under_the_outer_field():
    hidden = {"user": {"mail": "jan.jansen@minjenv.nl"}}
    event = Event(0, "x", data={"Payload": b64(json.dumps(hidden)),
                                "Bytes": "0x" + b"jan.jansen@minjenv.nl".hex()})
    hits = {(h.field, h.kind, h.value, h.layers): h.detail for h in scan_event_values(event)}
    key = ("data.Payload", "email", "jan.jansen@minjenv.nl", ("base64", "utf-8", "json"))
    assert key in hits
    assert "inside JSON at user.mail" in hits[key]
    assert ("data.Bytes", "email", "jan.jansen@minjenv.nl", ("hex", "utf-8")) in hits
    assert mask("jan.jansen@minjenv.nl", "email") == "j********@m******.nl"


def test_scan_reports_each_value_once_per_field_and_kind():
    value = json.dumps({"to": "jan.jansen@minjenv.nl", "cc": ["jan.jansen@minjenv.nl"]})
    event = Event(0, "x", data={"Mail": value})
    hits = [h for h in scan_event_values(event) if h.kind == "email"]
    assert len(hits) == 1
    # Found in the raw JSON text too; the hit inside JSON is kept, as it says where.
    assert hits[0].layers == ("json",) and "inside JSON at to" in hits[0].detail


def test_a_percent_encoded_address_is_reported_once():
    event = Event(0, "x", data={"navigationUrl": "https://www.nu.nl/zoek?q=jan%20jansen"})
    assert len([h for h in scan_event_values(event) if h.kind == "url"]) == 1


def test_remembered_results_match_a_fresh_scan_with_layers():
    """The cache covers what changes the outcome: the key, the value, and in Part A the
    extension (the same value means a device in ext.device and a user in ext.user)."""
    same = "s:6765A30B-E04D-4B4A-9954-55AA49BA79EF"
    typed = json.dumps({"runs": [{"words": [{"word": "ontslag"}]}]})
    events = [Event(i, "x", data={"userText": typed, "Other": typed},
                    ext={"device": {"localId": same}, "user": {"localId": same},
                         "sdk": {"seq": i}})
              for i in range(3)]
    for event in events:
        remembered = scan_event_values(event)
        assert remembered == scan_event_values(event, DETECTORS)
        details = {h.field: h.detail for h in remembered if h.kind == "identifier"}
        assert "device" in details["ext.device.localId"]
        assert "user" in details["ext.user.localId"]
