"""Products from evidence, destinations from Microsoft's lists, OTel flags, the closed set.

The events here are written the way Microsoft's public SDKs and clients write them: the 1DS
web SDK (`ext.sdk.ver` "1DS-Web-JS-...", `ext.web`, and `ext.utc.popSample` on every event),
Teams web as its traffic shows it (tenant tokens, `data.App.Name` "Teams", OTel's
`data.Event.Source` "OneDS", collectors eu-teams/eu-ic3), Edge's documented tenant tokens,
and the Office Editor browser extension (OTel event names, running on any page).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from diagscope.classify.product import product_of, tenant_of
from diagscope.decode.jsonstream import event_from_json
from diagscope.model import Product, Request
from diagscope.pipeline import Inspector
from diagscope.policy.load import load_policy
from diagscope.sources.synthetic import json_stream

WEB_SDK = {"sdk": {"ver": "1DS-Web-JS-4.2.1", "seq": 7, "epoch": "2389467123"},
           "utc": {"popSample": 100}}


def teams_web(name: str = "scenarions", tenant: str = "bc3902d8132f43e3ae086a009979fa88"
              ) -> dict:
    return {"name": name, "ver": "4.0", "time": "2025-11-07T19:38:53.180Z",
            "iKey": f"o:{tenant}",
            "ext": {**WEB_SDK, "app": {"sesId": "b1c2"},
                    "web": {"domain": "teams.microsoft.com", "browser": "Chrome"}},
            "data": {"App": {"Name": "Teams", "Platform": "Web"},
                     "Event": {"Source": "OneDS", "Name": name}}}


def edge(name: str = "Microsoft.WebBrowser.SystemInfo.Config") -> dict:
    return {"name": name, "ver": "4.0", "iKey": "o:7005b72804a64fa4b2138faab88f877b",
            "ext": {"app": {"id": "M:com.microsoft.edgemac_81.0.416.68_x86_64!Microsoft Edge"},
                    "sdk": {"libVer": "EVT-MacOSX-C++-No-3.3.8.1"}},
            "data": {"EventInfo.Level": 1, "Channel": 4}}


def editor_extension() -> dict:
    # OTel names events Office.<...>; its 1DS sink turns the dots into underscores. The
    # extension runs on whatever page the user is writing on.
    return {"name": "Office_Editor_Extension_Proofing_Critique", "ver": "4.0",
            "iKey": "o:0d1f3e2a5b6c4d7e8f9a0b1c2d3e4f5a",
            "ext": {**WEB_SDK, "web": {"domain": "www.linkedin.com"}},
            "data": {"Event": {"Source": "OneDS"}, "Data": {"CritiqueCount": 3}}}


def product(event: dict, host: str = "") -> Product:
    return product_of(event_from_json(event, 0), host).product


def test_teams_web_is_teams_not_windows():
    assert product(teams_web()) is Product.TEAMS
    for tenant in ("53fdaa090eb946b5a1d6cbdeb4f2ef66", "1cae5691997646c98b01d15beddae7a3"):
        assert product(teams_web("skypecosi_concore_web_x", tenant)) is Product.TEAMS


def test_teams_without_a_known_tenant_still_teams():
    event = teams_web(tenant="ffffffffffffffffffffffffffffffff")
    assert product(event) is Product.TEAMS  # data.App.Name
    del event["data"]["App"]
    assert product(event) is Product.TEAMS  # ext.web.domain
    del event["ext"]["web"]
    assert product(event, "eu-teams.events.data.microsoft.com") is Product.OFFICE  # OTel
    del event["data"]["Event"]
    assert product(event, "eu-teams.events.data.microsoft.com") is Product.TEAMS  # collector


def test_popsample_alone_is_no_windows_evidence():
    event = {"name": "pageView", "iKey": "o:ffffffffffffffffffffffffffffffff",
             "ext": dict(WEB_SDK), "data": {}}
    assert product(event) is Product.UNKNOWN
    event["ext"]["utc"] = {"popSample": 100, "pgName": "WINCORE"}
    call = product_of(event_from_json(event, 0))
    assert call.product is Product.WINDOWS and "pgName" in call.reason


def test_edge_by_its_documented_tenant():
    call = product_of(event_from_json(edge(), 0))
    assert call.product is Product.EDGE
    assert "tenant token 7005b728" in call.reason
    # The Windows lists document it under its Aria name; the tenant still says Edge.
    assert product(edge("Aria.7005b72804a64fa4b2138faab88f877b.Microsoft.WebBrowser."
                        "SystemInfo.Config")) is Product.EDGE


def test_office_editor_extension_is_office():
    assert product(editor_extension()) is Product.OFFICE


def test_other_products_are_named():
    event = {"name": "App.Launch", "ext": {"app": {"name": "Contoso Notes"}}, "data": {}}
    call = product_of(event_from_json(event, 0))
    assert call.product is Product.OTHER and call.name == "Contoso Notes"


@pytest.mark.parametrize(("ikey", "tenant"), [
    ("o:7005b72804a64fa4b2138faab88f877b", "7005b72804a64fa4b2138faab88f877b"),
    ("53FDAA090EB946B5A1D6CBDEB4F2EF66-bcbf6380-2590-41cc-ae60-9e467cd51835-7413",
     "53fdaa090eb946b5a1d6cbdeb4f2ef66"),
    ("P-ARIA-abc-def", "abc"), (None, None), ("", None),
])
def test_tenant_of(ikey, tenant):
    assert tenant_of(ikey) == tenant


def inspect(events: list[dict], host: str, path: str = "/OneCollector/1.0/"):
    request = Request("flow", datetime.now(UTC), "POST", "https", host, 443, path,
                      [("Content-Type", "application/x-json-stream")], json_stream(events))
    result = Inspector(load_policy().policy).inspect(request)
    assert result is not None
    return result


def destination(host: str) -> set[tuple[str, str]]:
    result = inspect([teams_web()], host)
    return {(f.severity.value, f.detail) for f in result.findings if f.rule == "destination"}


@pytest.mark.parametrize("host", [
    "eu-teams.events.data.microsoft.com", "eu-ic3.events.data.microsoft.com",
    "eu-mobile.events.data.microsoft.com", "eu-office.events.data.microsoft.com",
    "eu-v10c.events.data.microsoft.com", "eu-watsonc.events.data.microsoft.com",
    "EU-Teams.Events.Data.Microsoft.com",
])
def test_eu_collectors_raise_nothing(host):
    assert destination(host) == set()


@pytest.mark.parametrize(("host", "alternative"), [
    ("teams.events.data.microsoft.com", "eu-teams.events.data.microsoft.com"),
    ("v10c.events.data.microsoft.com", "eu-v10c.events.data.microsoft.com"),
    ("watsonc.events.data.microsoft.com", "eu-watsonc.events.data.microsoft.com"),
    ("mobile.events.data.microsoft.com", "eu-mobile.events.data.microsoft.com"),
    ("functional.events.data.microsoft.com", "eu-mobile.events.data.microsoft.com"),
    ("self.events.data.microsoft.com", "eu-office.events.data.microsoft.com"),
])
def test_global_collectors_are_reviews_naming_the_eu_alternative(host, alternative):
    ((severity, detail),) = destination(host)
    assert severity == "review"
    assert f"EU alternative: {alternative}" in detail
    assert "MicrosoftDocs/" in detail or "microsoft/" in detail  # the source is named


@pytest.mark.parametrize("host", [
    "us-mobile.events.data.microsoft.com", "us-v10c.events.data.microsoft.com",
    "au-v20.events.data.microsoft.com", "tb.events.data.microsoft.com",
])
def test_collectors_in_other_regions_are_violations(host):
    ((severity, detail),) = destination(host)
    assert severity == "violation" and "outside the required region eu" in detail


@pytest.mark.parametrize("host", [
    "collector.thirdparty.example", "eu-mobile.events.data.microsoft.com.evil.example",
    "events.data.microsoft.co",
])
def test_hosts_that_are_not_microsofts_are_violations(host):
    ((severity, detail),) = destination(host)
    assert severity == "violation" and "not a Microsoft host" in detail


def test_unlisted_microsoft_hosts_by_name_or_review():
    assert destination("westeurope.eu.telemetry.microsoft.com") == set()
    ((severity, _),) = destination("collector.unknown.microsoft.com")
    assert severity == "review"


def test_collectors_are_telemetry_on_any_path():
    result = inspect([teams_web()], "eu-teams.events.data.microsoft.com", path="/upload")
    assert [e.name for e in result.decoded.events] == ["scenarions"]


def levels(events: list[dict]) -> list[tuple[str, str, str]]:
    result = inspect(events, "eu-office.events.data.microsoft.com")
    return [(e.product.value, e.level.value, e.level_reason) for e in result.decoded.events]


def test_otel_event_flags_are_level_and_purpose_signals():
    base = {"name": "Office.Extensibility.OfficeJs.AppCommandDefinition", "ver": "4.0"}
    flagged = [
        {**base, "data": {"eventFlags": {"diagnosticLevel": 110, "dataCategories": 2}}},
        {**base, "data": {"eventFlags.diagnosticLevel": 10, "eventFlags.dataCategories": 4}},
        {**base, "data": {"eventFlags": {"dataCategories": 16}}},
        {**base, "data": {"EventInfo.Level": 100}},
    ]
    result = inspect(flagged, "eu-office.events.data.microsoft.com")
    events = result.decoded.events
    assert [e.level.value for e in events] == ["service", "required", "optional", "optional"]
    assert "NecessaryServiceDataEvent" in events[0].level_reason
    assert "OTel's default FullEvent" in events[2].level_reason
    assert [e.purpose for e in events[:3]] == ["performing", "performing", "unknown"]
    assert "dataCategories = 16" in events[2].purpose_reason


def test_windows_security_is_a_closed_set():
    events = [
        {"name": "Microsoft.Windows.Defender.Engine.Scan", "ver": "4.0", "data": {}},
        {"name": "Microsoft.Windows.Unheard.Of", "ver": "4.0", "data": {}},
        {"name": "Census.OS", "ver": "4.0", "data": {}},
    ]
    result = inspect(events, "eu-v10c.events.data.microsoft.com")
    found = {(f.event_index, f.severity.value) for f in result.findings if f.rule == "level"}
    assert found == {(1, "violation"), (2, "violation")}
    unheard, census = result.decoded.events[1:]
    assert unheard.level.value == "required"
    assert "no catalogue entry or wire signal says more" in unheard.level_reason
    assert "catalogue documents Census.OS at required" in census.level_reason


def test_edge_follows_windows_and_teams_follows_office():
    policy = load_policy().policy
    assert policy.products["edge"].max_level == policy.products["windows"].max_level
    assert policy.products["teams"].max_level == policy.products["office"].max_level
    assert policy.products["edge"].note and policy.products["teams"].note
    result = inspect([edge(), teams_web()], "eu-mobile.events.data.microsoft.com")
    by_index = {f.event_index: f for f in result.findings if f.rule == "level"}
    assert by_index[0].severity.value == "violation" and by_index[0].product is Product.EDGE
