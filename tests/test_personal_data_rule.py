"""`personal-data` as the rule applies it: envelope identifiers by policy, declared typing,
the policy's phone region, decoded layers, and the real Windows samples end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from diagscope.cli import main
from diagscope.model import Request
from diagscope.pipeline import Inspector
from diagscope.policy.load import load_policy
from diagscope.sources.synthetic import json_stream

REAL = Path(__file__).resolve().parent / "fixtures" / "real-samples" / "windows"


def findings(events: list[dict], policy=None):
    request = Request("f", datetime.now(UTC), "POST", "https",
                      "eu-v10c.events.data.microsoft.com", 443, "/OneCollector/1.0/",
                      [("Content-Type", "application/x-json-stream")], json_stream(events))
    result = Inspector(policy or load_policy().policy).inspect(request)
    assert result is not None
    return [f for f in result.findings if f.rule == "personal-data"]


def event(ext: dict | None = None, **data: object) -> dict:
    return {"name": "Census.Hardware", "ver": "4.0", "ext": ext or {}, "data": data}


def test_accepted_envelope_ids_raise_nothing_others_do():
    accepted = event({"device": {"localId": "s:6765A30B-E04D-4B4A-9954-55AA49BA79EF"},
                      "user": {"localId": "w:76EFB15A-BF32-7E7D-871F-8EF13C84CA70"},
                      "sdk": {"installId": "8f6e0a3c-1b2d-4e5f-9a8b-7c6d5e4f3a2b"}})
    assert findings([accepted]) == []
    account = event({"user": {"localId": "m:4b30d36f9be11107"},
                     "device": {"localId": "c:MY-LAPTOP-SERIAL-123"},
                     "xbl": {"xid": "x:2533274804582403"}})
    found = {(f.field, f.pii_kind) for f in findings([account])}
    assert found == {("ext.user.localId", "identifier"), ("ext.device.localId", "identifier"),
                     ("ext.xbl.xid", "identifier")}


def test_identifiers_in_data_are_findings_with_their_meaning():
    found = findings([event(OEMSerialNumber="VMware-56 4d 90 af 30 31 c7 cc-ca 60 1f 0e 66",
                            ProductKeyID2="00330-81495-05788-AA244", OEMModelSKU="#")])
    by_field = {f.field: f for f in found}
    assert set(by_field) == {"data.OEMSerialNumber", "data.ProductKeyID2"}
    assert "serial number" in by_field["data.OEMSerialNumber"].detail
    assert "VMware" not in (by_field["data.OEMSerialNumber"].value or "")  # masked


def test_declared_typing_is_customer_content_even_without_recognised_text():
    tagged = {"name": "Microsoft.Windows.Speech.Something", "ver": "4.0",
              "ext": {"metadata": {"privTags": 0x20000}}, "data": {"Duration": 3}}
    (finding,) = findings([tagged])
    assert finding.pii_kind == "customer-content"
    assert "inking, typing and speech" in finding.detail
    assert finding.field == "ext.metadata.privTags"


def test_typed_words_are_found_once_with_their_layers():
    typed = {"name": "Microsoft.Windows.TextInput.LinguisticData.DPTipcSample", "ver": "4.0",
             "ext": {"metadata": {"privTags": 0x20000}},
             "data": {"userText": json.dumps({"runs": [{"words": [{"word": "recently?"}]}]})}}
    (finding,) = findings([typed])
    assert finding.pii_kind == "customer-content" and finding.field == "data.userText"
    assert "recently" not in (finding.value or "")
    assert "decoded: json" in finding.detail


def test_hex_encoded_browsing_is_a_url_named_with_its_layers():
    navigation = event(navigationUrlBytes="0x647777772E6D736E2E636F6D")
    (finding,) = findings([navigation])
    assert finding.pii_kind == "url" and "hex -> utf-8" in finding.detail


def test_phone_region_comes_from_the_policy(tmp_path):
    belgian = event(Comment="bel me op 02 511 22 33 aub")
    assert findings([belgian]) == []  # a Brussels number is not a valid Dutch one
    lab = tmp_path / "lab.yaml"
    lab.write_text("extends: slm-rijk-2019\nname: lab-be\npersonal_data:\n  phone_region: BE\n")
    policy = load_policy(str(lab)).policy
    (finding,) = findings([belgian], policy)
    assert finding.pii_kind == "phone" and finding.value and finding.value.endswith("33")


def test_browser_version_is_no_ip_address():
    agent = event(userAgent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0")
    assert findings([agent]) == []


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_real_windows_samples_end_to_end(tmp_path):
    db = str(tmp_path / "real.sqlite")
    assert run("replay", str(REAL / "real-ddv-v1.json"), "--db", db).exit_code == 0
    rows = [json.loads(line) for line in
            run("findings", "--db", db, "--format", "jsonl").output.splitlines()]
    pii = {(r["event_name"], r["field"], r["pii_kind"]) for r in rows
           if r["rule"] == "personal-data"}
    typed = "Microsoft.Windows.TextInput.LinguisticData."
    assert (typed + "ShapeWrittenText", "data.userText", "customer-content") in pii
    assert (typed + "DPTipcSample", "data.userText", "customer-content") in pii
    assert ("Microsoft.Windows.App.Browser.HJ_BeforeNavigateExtended",
            "data.navigationUrlBytes", "url") in pii
    assert ("Census.Hardware", "data.OEMSerialNumber", "identifier") in pii
    assert ("Census.OS", "data.ProductKeyID2", "identifier") in pii
    assert ("LSM.ReconnectTime", "ext.xbl.xid", "identifier") in pii
    # The SDK's own pseudonymous ids are inventoried by the report, not reported per event.
    assert not any(f == "ext.device.localId" and k == "identifier" for _, f, k in pii
                   if f is not None)
    assert not any(r["pii_kind"] == "ip-address" for r in rows)
    report = tmp_path / "report.json"
    assert run("report", "--db", db, "--out", str(report), "--format", "json").exit_code == 0
    inventory = {e["field"]: e for e in json.loads(report.read_text())["envelope_identifiers"]}
    assert inventory["ext.device.localId"]["events"] == 27
    assert inventory["ext.device.localId"]["prefixes"]["s:"] >= 24
    assert inventory["ext.device.localId"]["distinct_values"] >= 2
