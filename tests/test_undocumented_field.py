"""`undocumented-field`: what is sent, against what Microsoft says is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from diagscope.model import Request
from diagscope.pipeline import Inspector
from diagscope.policy.catalogue import lookup_any
from diagscope.policy.load import load_policy
from diagscope.rules.undocumented_field import fold, undocumented
from diagscope.sources.synthetic import json_stream


@dataclass
class Entry:
    name: str
    level: str = "required"
    category: str | None = None
    subtype: str | None = None
    fields: tuple[str, ...] = field(default_factory=tuple)


CATALOGUE = {
    "Office.Word.Save": ("office", Entry("Office.Word.Save", fields=(
        "Data_DocumentId", "Data.SaveDuration", "Data_Location.Kind", "Data_Location.Cloud"))),
    "Office.Word.NoFields": ("office", Entry("Office.Word.NoFields")),
}


def judge(data: dict) -> list:
    events = [{"name": name, "ver": "4.0", "data": data} for name in CATALOGUE]
    request = Request("f", datetime.now(UTC), "POST", "https",
                      "eu-office.events.data.microsoft.com", 443, "/OneCollector/1.0/",
                      [("Content-Type", "application/x-json-stream")], json_stream(events))
    result = Inspector(load_policy().policy, catalogue=CATALOGUE.get).inspect(request)
    assert result is not None
    return [f for f in result.findings if f.rule == "undocumented-field"]


def test_documented_fields_in_any_spelling_raise_nothing():
    assert judge({"Data.DocumentId": "x", "Data_SaveDuration": 3, "data.documentid": "y"}) == []


def test_one_review_per_event_listing_every_undocumented_field():
    (finding,) = judge({"Data.DocumentId": "x", "Data.Keystrokes": 17, "Data.Title": "t"})
    assert finding.severity == "review" and finding.event_index == 0
    assert finding.field == "data.Data.Keystrokes"
    assert "2 fields" in finding.detail
    assert "Data.Keystrokes, Data.Title" in finding.detail
    assert finding.clause


def test_nested_objects_are_judged_by_their_documented_children():
    (finding,) = judge({"Data_Location": {"Kind": 1, "Cloud": True, "Path": "C:/x"}})
    assert "Data_Location.Path" in finding.detail and "Kind" not in finding.detail


def test_sdk_and_common_fields_count_as_documented():
    # EventInfo.* is the SDK's own bookkeeping; App.Name and Session.Id are Office's common
    # data fields, documented once for every event.
    assert judge({"EventInfo.Level": 1, "EventInfo.Time": "x", "PartA_PrivTags": 2,
                  "App.Name": "Word", "Session.Id": "s"}) == []


def test_entries_without_fields_say_nothing():
    findings = judge({"Whatever": 1})
    assert {f.event_index for f in findings} == {0}


def test_fold_treats_separators_and_case_alike():
    assert fold("Data_build") == fold("Data.Build") == fold("databuild")
    assert undocumented({"A": 1, "b_c": 2}, ("a", "B.C"), frozenset()) == []


def test_real_census_event_sends_only_documented_fields():
    import json
    from pathlib import Path

    rows = json.loads((Path(__file__).parent / "fixtures" / "real-samples" / "windows" /
                       "real-ddv-v1.json").read_text())
    payload = json.loads(next(r["Payload"] for r in rows if r["Name"] == "Census.OS"))
    found = lookup_any("Census.OS")
    assert found is not None
    assert undocumented(payload["data"], found[1].fields, frozenset()) == []
