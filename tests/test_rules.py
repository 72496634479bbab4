"""Every rule of the policy, positive and negative, through the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from diagscope.classify.purpose import NameRules
from diagscope.model import Level, Request
from diagscope.pipeline import Inspector
from diagscope.policy.load import PolicyError, load_policy
from diagscope.policy.model import NameRule
from diagscope.sources.synthetic import json_stream


@dataclass
class Entry:
    name: str
    level: str
    category: str | None = None
    subtype: str | None = None


CATALOGUE = {
    "Office.Documented.Required": ("office", Entry("Office.Documented.Required", "required",
                                                   "Product and service usage")),
    "Office.Documented.Service": ("office", Entry("Office.Documented.Service", "service",
                                                  "Software setup and inventory")),
    "Census.App": ("windows", Entry("Census.App", "required", None)),
    "Microsoft.Windows.MSRT.Scan": ("windows", Entry("Microsoft.Windows.MSRT.Scan", "required")),
}


def inspect(events, host="eu-office.events.data.microsoft.com", scheme="https", policy=None):
    policy = policy or load_policy().policy
    inspector = Inspector(policy, catalogue=CATALOGUE.get)
    request = Request(
        "flow-1", datetime.now(UTC), "POST", scheme, host, 443 if scheme == "https" else 80,
        "/OneCollector/1.0/", [("Content-Type", "application/x-json-stream")],
        json_stream(events),
    )
    result = inspector.inspect(request)
    assert result is not None
    return result


def rules_of(result, index=None):
    return {(f.rule, f.severity.value) for f in result.findings
            if index is None or f.event_index == index}


def office(name, level=None, **data):
    if level is not None:
        data["EventInfo.Level"] = level
    return {"name": name, "ver": "4.0", "data": data}


# --- level: signal precedence -------------------------------------------------------------

def test_wire_signal_beats_catalogue():
    result = inspect([office("Office.Documented.Service", 1)])
    event = result.decoded.events[0]
    assert event.level is Level.REQUIRED
    assert ("level", "violation") in rules_of(result)


def test_catalogue_level_when_no_wire_signal():
    result = inspect([office("Office.Documented.Service"), office("Office.Documented.Required")])
    service, required = result.decoded.events
    assert service.level is Level.SERVICE and "catalogue" in service.level_reason
    assert required.level is Level.REQUIRED
    assert ("level", "violation") not in rules_of(result, 0)
    assert ("level", "violation") in rules_of(result, 1)


def test_disagreeing_signals_highest_wins_and_says_why():
    event = office("Office.X", 110)
    event["ext"] = {"metadata": {"privLevel": 2}}
    result = inspect([event])
    ev = result.decoded.events[0]
    assert ev.level is Level.OPTIONAL
    assert "disagree" in ev.level_reason and "EventInfo.Level" in ev.level_reason


@pytest.mark.parametrize(
    ("cat", "level"),
    [(0x0000800000000000, Level.REQUIRED), (0x0000400000000000, Level.ENHANCED),
     (0x0000200000000000, Level.OPTIONAL), (0x0000C00000000000, Level.REQUIRED)],
)
def test_windows_keyword_bits(cat, level):
    event = {"name": "Microsoft.Windows.Foo", "ext": {"utc": {"cat": cat}}}
    assert inspect([event]).decoded.events[0].level is level


def test_unknown_level_is_a_review():
    result = inspect([office("Office.Nothing.Known")])
    assert result.decoded.events[0].level is Level.UNKNOWN
    assert ("level", "review") in rules_of(result)


def test_windows_security_allows_only_security_events():
    census = {"name": "Census.App", "ext": {"utc": {"cat": 0x0000800000000000}}}
    msrt = {"name": "Microsoft.Windows.MSRT.Scan", "ext": {"utc": {"cat": 0x0000800000000000}}}
    result = inspect([census, msrt], host="eu-v10c.events.data.microsoft.com")
    assert ("level", "violation") in rules_of(result, 0)
    assert not {r for r in rules_of(result, 1) if r[0] == "level"}
    assert "security-level" in result.decoded.events[1].level_reason


# --- purpose ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "purpose"),
    [
        ("Office.Feed.Recommendation.Shown", "advertising"),
        ("Office.Marketing.Campaign", "advertising"),
        ("Office_Ads_Impression", "advertising"),
        ("Office.NPS.Prompt", "market-research"),
        ("Office.User.Persona.Update", "profiling"),
        ("Office.Engagement.Funnel.Step", "analytics"),
        ("Office.Word.Crash", "performing"),
    ],
)
def test_name_segments_map_to_purposes(name, purpose):
    assert inspect([office(name, 110)]).decoded.events[0].purpose == purpose


@pytest.mark.parametrize(
    "name", ["Office.Add.Load", "Office.AddIn.Load", "Office.Adobe.Plugin", "Office.Loads.Ad1"]
)
def test_substrings_are_not_segments(name):
    assert inspect([office(name, 110)]).decoded.events[0].purpose != "advertising"


def test_multi_segment_pattern():
    rules = NameRules([NameRule(purpose="market-research", segments=["Feed.Survey"])])
    assert rules.match("Office.Feed.Survey.Shown") == ("market-research", "Feed.Survey")
    assert rules.match("Office.Survey.Feed") is None


def test_forbidden_purpose_is_a_violation_with_its_clause():
    result = inspect([office("Office.Feed.Recommendation.Shown", 110)])
    (finding,) = [f for f in result.findings if f.rule == "purpose"]
    assert finding.severity.value == "violation"
    assert "adverteren" in finding.clause


def test_privacy_tags_give_a_purpose():
    event = office("Office.Unnamed.Thing", 110, **{"EventInfo.PrivTags": 0x01000000})
    ev = inspect([event]).decoded.events[0]
    assert ev.purpose == "performing"
    assert "Product and service performance" in ev.purpose_reason


def test_catalogue_category_gives_a_purpose():
    ev = inspect([office("Office.Documented.Service")]).decoded.events[0]
    assert ev.purpose == "up-to-date"


def test_unmapped_category_and_no_signal_are_reviews():
    browsing = office("Office.Unnamed.Thing", 110, **{"EventInfo.PrivTags": 0x2})
    result = inspect([browsing, office("Office.Nothing", 110)])
    assert ("purpose", "review") in rules_of(result, 0)
    assert ("purpose", "review") in rules_of(result, 1)


def test_policy_event_mapping_comes_first(tmp_path: Path):
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "extends: slm-rijk-2019\nname: lab\nevents:\n"
        "  Office.Feed.Recommendation.Shown: {purpose: performing, level: service}\n",
        encoding="utf-8",
    )
    result = inspect([office("Office.Feed.Recommendation.Shown")],
                     policy=load_policy(str(lab)).policy)
    ev = result.decoded.events[0]
    assert (ev.purpose, ev.level) == ("performing", Level.SERVICE)
    assert not {r for r in rules_of(result) if r[0] in ("purpose", "unknown-event", "level")}


def test_policy_rejects_a_rule_for_an_undefined_purpose(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: slm-rijk-2019\nname_rules:\n  - {purpose: spying, segments: [Spy]}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="spying"):
        load_policy(str(bad))


# --- unknown-event ------------------------------------------------------------------------

def test_unknown_event_is_a_review_and_documented_is_not():
    result = inspect([office("Office.Not.Documented", 110), office("Office.Documented.Service")])
    assert ("unknown-event", "review") in rules_of(result, 0)
    assert not {r for r in rules_of(result, 1) if r[0] == "unknown-event"}


# --- destination and transport --------------------------------------------------------------

@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("eu-mobile.events.data.microsoft.com", None),
        ("EU-Office.events.data.microsoft.com", None),
        ("self.events.data.microsoft.com", "review"),
        ("us-mobile.events.data.microsoft.com", "violation"),
        ("collector.thirdparty.example", "violation"),
    ],
)
def test_destination(host, expected):
    result = inspect([office("Office.Documented.Service")], host=host)
    found = {s for r, s in rules_of(result) if r == "destination"}
    assert found == ({expected} if expected else set())


def test_forbidden_endpoint(tmp_path: Path):
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "extends: slm-rijk-2019\ndestinations:\n  endpoints:\n"
        "    eu-mobile.events.data.microsoft.com: {region: eu, allowed: false, note: test}\n",
        encoding="utf-8",
    )
    result = inspect([office("Office.Documented.Service")],
                     host="eu-mobile.events.data.microsoft.com",
                     policy=load_policy(str(lab)).policy)
    (finding,) = [f for f in result.findings if f.rule == "destination"]
    assert "forbids" in finding.detail and finding.clause


def test_plain_http_is_a_transport_violation():
    result = inspect([office("Office.Documented.Service")], scheme="http")
    assert ("transport", "violation") in rules_of(result)
    assert ("transport", "violation") not in rules_of(inspect([office("Office.X", 110)]))


def test_every_finding_cites_a_clause():
    result = inspect(
        [office("Office.Feed.Recommendation.Shown", 2), office("Office.Nothing")],
        host="us-mobile.events.data.microsoft.com", scheme="http",
    )
    assert {f.rule for f in result.findings} >= {
        "level", "purpose", "unknown-event", "destination", "transport"}
    assert all(f.clause for f in result.findings)
