"""The new kinds on real Windows events, and each new detector on its own.

The real events (tests/fixtures/real-samples, see its README) carry what a verification has
to notice: typed words in `userText`, browsing history hex-encoded in `navigationUrlBytes`,
a hardware serial number, a product key id and an Xbox user id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagscope.decode.jsonstream import event_from_json
from diagscope.model import Event
from diagscope.pii.mask import HIDDEN_TEXT, mask
from diagscope.pii.scan import DETECTORS, scan_event_values

SAMPLES = Path(__file__).parent / "fixtures" / "real-samples" / "windows"
SEARCHED_URL = "https://labs.sentinelone.com/building-a-custom-malware-analysis-lab-environment/"


def real_events() -> list[Event]:
    rows = json.loads((SAMPLES / "real-ddv-v1.json").read_text(encoding="utf-8"))
    events = [event_from_json(json.loads(row["Payload"]), i) for i, row in enumerate(rows)]
    reconstructed = json.loads((SAMPLES / "rathbun-textinput-linguisticdata.reconstructed.json")
                               .read_text(encoding="utf-8"))
    events += [event_from_json(obj, len(events) + i) for i, obj in enumerate(reconstructed)]
    return events


@pytest.fixture(scope="module")
def hits() -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    """(event name, kind, field, value, layers, detail) of every hit in the real events."""
    return [(event.name, h.kind, h.field, h.value, h.layers, h.detail)
            for event in real_events() for h in scan_event_values(event)]


def found(hits: list[tuple[str, str, str, str, tuple[str, ...], str]], kind: str, field: str
          ) -> set[tuple[str, tuple[str, ...]]]:
    return {(value, layers) for _, k, f, value, layers, _ in hits if (k, f) == (kind, field)}


def test_typed_words_are_customer_content(hits):
    typed = found(hits, "customer-content", "data.userText")
    assert typed == {("calc", ("json",)), ("recently?", ("json",)), (SEARCHED_URL, ("json",))}
    details = {d for _, k, f, _, _, d in hits if (k, f) == ("customer-content", "data.userText")}
    assert all("inside JSON at runs[0].words[0].word" in d for d in details)
    assert not any(word in d for d in details for word in ("calc", "recently", "sentinel"))


def test_the_typed_address_is_a_url(hits):
    assert (SEARCHED_URL, ("json",)) in found(hits, "url", "data.userText")


def test_hex_encoded_browsing_history_is_a_url(hits):
    (navigation,) = [h for h in hits if h[1:3] == ("url", "data.navigationUrlBytes")]
    _, _, _, value, layers, detail = navigation
    assert (value, layers) == ("www.msn.com", ("hex", "utf-8"))
    assert "1 byte(s) before the address" in detail
    assert mask(value, "url") == "w**.m**.com"


@pytest.mark.parametrize(("field", "value", "what"), [
    ("data.OEMSerialNumber", "VMware-56 4d 90 af 30 31 c7 cc-ca 60 1f 0e 66 f7 1b 81",
     "hardware serial number"),
    ("data.ProductKeyID2", "00330-81495-05788-AA244", "product key id"),
    ("ext.xbl.xid", "x:2533274804582403", "Xbox user id (XUID)"),
    ("ext.xbl.did", "F900E802E00B88C5", "Xbox device id"),
    ("ext.device.localId", "s:6765A30B-E04D-4B4A-9954-55AA49BA79EF", "SQM machine id"),
    ("ext.user.localId", "m:a5f16b5cd9dd213c", "prefix m:"),
])
def test_identifiers_are_found(hits, field, value, what):
    details = [d for _, k, f, v, _, d in hits if (k, f, v) == ("identifier", field, value)]
    assert details and what in details[0]


def test_placeholders_and_operation_ids_are_not_identifiers(hits):
    fields = {f for _, k, f, _, _, _ in hits if k == "identifier"}
    for field in ("data.OA3xOriginalProductKey", "data.AADDeviceId", "data.IMEI0",
                  "data.SCCMClientId", "data.ActivityID", "ext.utc.aId", "data.editId",
                  "data.sessionID", "data.userInputID", "data.AppSessionGuid",
                  "ext.mscv.cV", "ext.utc.stId", "data.InFocusBitmap", "ext.app.id"):
        assert field not in fields
    # `x:` without a number is no Xbox user id (the TextInput events send it so).
    assert not [h for h in hits if h[2] == "ext.xbl.xid" and h[3] == "x:"]


def test_typed_text_is_never_stored_in_clear(hits):
    for _, kind, _, value, _, _ in hits:
        if kind == "customer-content":
            assert mask(value, kind) == HIDDEN_TEXT


def kinds(key: str, value: str, field: str | None = None) -> dict[str, str]:
    """kind -> value of the hits one detector pass over (key, value) gives."""
    event_field = field or f"data.{key}"
    return {h.kind: h.value for d in DETECTORS for h in d.scan(event_field, key, value)}


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("navigationUrl", "https://www.rechtspraak.nl/zaken/123",
     "https://www.rechtspraak.nl/zaken/123"),
    ("Message", "zie https://intranet.minjenv.nl/hr/dossier?id=7.",
     "https://intranet.minjenv.nl/hr/dossier?id=7"),
    ("referrer", "intranet.minjenv.nl/hr/dossiers", "intranet.minjenv.nl/hr/dossiers"),
    ("Url", "https://www.nu.nl", "https://www.nu.nl"),  # an address field: a host is enough
    ("DocumentUrl", "file:///C:/Users/jan/Ontslag.docx", "file:///C:/Users/jan/Ontslag.docx"),
])
def test_url_positives(key, value, expected):
    assert kinds(key, value).get("url") == expected


def test_url_names_the_session_token():
    url = next(d for d in DETECTORS if d.kind == "url")
    detail = next(h.detail for h in url.scan(
        "data.navigationUrl", "navigationUrl",
        "https://portal.rechtspraak.nl/zaken;jsessionid=0A1B2C3D?zaak=9&token=x"))
    assert "jsessionid" in detail and "token" in detail and "0A1B2C3D" not in detail


@pytest.mark.parametrize(("key", "value"), [
    ("Endpoint", "https://eu-office.events.data.microsoft.com/OneCollector/1.0/"),
    ("ServiceUrl", "https://settings-win.data.microsoft.com/settings/v2.0/telemetry?os=Win"),
    ("Url", "https://v10.vortex-win.data.microsoft.com/collect/v1"),
    ("Config", "https://config.edge.skype.com/config/v1/Edge/120.0?clientId=1"),
    ("Namespace", "http://schemas.microsoft.com/office/2006/metadata/properties"),
    ("HelpLink", "https://go.microsoft.com/fwlink/?LinkId=521839"),
    ("HelpLink", "https://aka.ms/privacy"),
    ("Url", "https://{tenant}.sharepoint.com/sites/{site}/Shared Documents"),
    ("Url", "https://portal.example.org/login?user=x"),  # reserved for documentation
    ("Server", "https://www.nu.nl"),  # a host without a path, and not an address field
    ("Message", "www.nu.nl"),  # a bare host outside an address field
    ("Url", "16.0.17328.20162"),
    ("Url", "Ontslag.docx"),
    ("Link", "mailto:jan@minjenv.nl"),
    ("UpdateServiceURLConfigured", "0"),
])
def test_url_negatives(key, value):
    assert "url" not in kinds(key, value)


@pytest.mark.parametrize(("key", "value", "field"), [
    ("OEMSerialNumber", "PF3ABCDE", None),
    ("XboxConsoleSerialNumber", "012345678912", None),
    ("ProductKeyID", "00330-80000-00000-AA123", None),
    ("OA3xOriginalProductKey", "W269N-WFGWX-YVC9B-4J6C9-T83GX", None),
    ("muid", "2F6D7E4B1A2C6B0A3B4C5D6E7F801234", None),
    ("anid", "A1B2C3D4E5F60718293A4B5C", None),
    ("Cookie", "MC1=GUID=2f6d7e4b1a2c6b0a3b4c5d6e7f801234&HASH=2f6d&LV=202401&V=4", None),
    ("xuid", "2533274804582403", None),
    ("puid", "0003BFFD9A3B5C6E", None),
    ("Cid", "a5f16b5cd9dd213c", None),
    ("SusClientId", "b6a6b0e5-9f7e-4f5c-8d4e-1a2b3c4d5e6f", None),
    ("WindowsErrorReportingMachineId", "{5C2B8F0A-1D3E-4F5A-8B9C-0D1E2F3A4B5C}", None),
    ("MotherboardUUIDHash", "AF904D56-3130-CCC7-CA60-1F0E66F71B81", None),  # not a hash
    ("IMEI0", "490154203237518", None),
    ("UserSid", "S-1-5-21-1004336348-1177238915-682003330-512", None),
    ("localId", "c:4f0c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "ext.device.localId"),
    ("userId", "p:0003BFFD9A3B5C6E", "ext.app.userId"),
    ("installId", "8b5f2c3d-1a4e-4f6a-9b8c-7d6e5f4a3b2c", "ext.sdk.installId"),
    ("sqmId", "8B5F2C3D-1A4E-4F6A-9B8C-7D6E5F4A3B2C", "ext.utc.sqmId"),
])
def test_identifier_positives(key, value, field):
    assert kinds(key, value, field).get("identifier") == value


@pytest.mark.parametrize(("key", "value", "field"), [
    ("OEMSerialNumber", "To be filled by O.E.M.", None),
    ("SerialNumber", "0000000000", None),
    ("SerialNumber", "None", None),
    ("IsSerial", "True", None),
    ("ProductKeyID2", "#", None),
    ("OA3xOriginalProductKey", "#", None),
    ("muid", "", None),
    ("xid", "x:", "ext.xbl.xid"),
    ("MotherboardUUIDHash", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
     None),
    ("IMEI0", "490154203237519", None),  # fails the Luhn check
    ("ActivityID", "F420C668-995E-4D66-BAC8-7FAD4A7C0000", None),
    ("editId", "6d3b1a2c-4f5e-4a7b-8c9d-0e1f2a3b4c5d", None),
    ("aId", "F420C668-995E-4D66-BAC8-7FAD4A7C0000", "ext.utc.aId"),
    ("cV", "t/q4SyOHC0S915Bo.0", "ext.mscv.cV"),
    ("Session.Id", "6d3b1a2c-4f5e-4a7b-8c9d-0e1f2a3b4c5d", None),
    ("localId", "s:6765A30B-E04D-4B4A-9954-55AA49BA79EF", "data.localId"),  # not Part A
    ("DeviceID", "PCI\\VEN_8086&DEV_1237&SUBSYS_11001AF4", None),  # a Plug and Play id
    ("Version", "16.0.17328.20162", None),
    ("Counter", "4294967295", None),
])
def test_identifier_negatives(key, value, field):
    assert "identifier" not in kinds(key, value, field)


def test_an_email_in_an_id_field_is_left_to_the_email_kind():
    assert kinds("userId", "p.bakker@minjenv.nl", "ext.app.userId") == {
        "email": "p.bakker@minjenv.nl"}


@pytest.mark.parametrize(("key", "value"), [
    ("PageTitle", "Uitslag bloedonderzoek - Mijn Gezondheid - Microsoft Edge"),
    ("WindowTitle", "Ontslagbrief J. Jansen - Word"),
    ("DocumentTitle", "Reorganisatie directie Wetgeving"),
    ("title", "Zoekresultaten ontslag"),
])
def test_title_positives(key, value):
    assert kinds(key, value).get("title") == value


@pytest.mark.parametrize(("key", "value"), [
    ("PageTitle", "#"), ("PageTitle", ""), ("PageTitle", "New Tab - Microsoft Edge"),
    ("WindowTitle", "Microsoft Word"), ("WindowTitle", "Document1 - Word"),
    ("WindowTitle", "ms-resource:AppDisplayName"), ("TitleId", "Zoekresultaten ontslag"),
    ("JobTitle", "Beleidsmedewerker"), ("PageTitle", "6d3b1a2c-4f5e-4a7b-8c9d-0e1f2a3b4c5d"),
    ("Message", "Zoekresultaten ontslag"),
])
def test_title_negatives(key, value):
    assert "title" not in kinds(key, value)


@pytest.mark.parametrize(("key", "value", "text"), [
    ("userText", "wat is mijn bsn", "wat is mijn bsn"),
    ("searchQuery", "ontslag aanvragen", "ontslag aanvragen"),
    ("SearchTerms", "reorganisatie", "reorganisatie"),
    ("utterance", "bel mijn advocaat", "bel mijn advocaat"),
    ("Payload", '{"runs":[{"locale":"nl-NL","words":[{"word":"ontslag"},{"word":"brief"}]}]}',
     "ontslag brief"),  # the Windows shape, in any field
    ("userText", '{"text":"ontslag","locale":"nl-NL"}', "ontslag"),
])
def test_typed_text_positives(key, value, text):
    assert kinds(key, value).get("customer-content") == text


@pytest.mark.parametrize(("key", "value"), [
    ("query", "SELECT * FROM Win32_Processor"), ("query", "a=1&b=2"), ("userText", "#"),
    ("Message", "plain words here"), ("Payload", '{"words":["not","windows"]}'),
])
def test_typed_text_negatives(key, value):
    assert "customer-content" not in kinds(key, value)


@pytest.mark.parametrize(("value", "kind", "masked"), [
    ("https://www.msn.com/nl-nl/nieuws?id=1", "url", "https://w**.m**.com/***"),
    ("https://jan:geheim@intranet.minjenv.nl/hr", "url", "https://***@i*******.m******.nl/***"),
    ("http://145.1.2.3:8080/x", "url", "http://145.*.*.*/***"),
    ("x:2533274804582403", "identifier", "x:2*************03"),
    ("00330-81495-05788-AA244", "identifier", "0********************44"),
    ("Uitslag bloedonderzoek", "title", "U*******************ek"),
    ("ontslag brief", "customer-content", HIDDEN_TEXT),
    ("a", "customer-content", HIDDEN_TEXT),
])
def test_masking_of_the_new_kinds(value, kind, masked):
    assert mask(value, kind) == masked
