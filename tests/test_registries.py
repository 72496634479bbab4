"""A rule or a detector is one class in one file: registering it is all it takes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from diagscope.model import Event, Finding, Request, Severity
from diagscope.pii import base as pii_base
from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit
from diagscope.pii.mask import mask
from diagscope.pii.scan import default_detectors
from diagscope.pipeline import Inspector
from diagscope.policy.load import load_policy
from diagscope.rules import base as rules_base
from diagscope.rules import default_rules, rule_names
from diagscope.rules.base import RequestContext, Rule
from diagscope.sources.synthetic import json_stream


def test_every_rule_is_registered_in_a_stable_order():
    assert rule_names() == ["undecodable", "transport", "destination", "level", "purpose",
                            "unknown-event", "undocumented-field", "personal-data"]


def test_every_detector_is_registered_in_a_stable_order():
    kinds = [d.kind for d in default_detectors()]
    assert kinds[:6] == ["email", "ip-address", "bsn", "iban", "payment-card", "phone"]
    assert {"url", "identifier", "title", "customer-content"} <= set(kinds)


@pytest.fixture
def new_rule() -> Iterator[type[Rule]]:
    @rules_base.register
    class TooManyEvents(Rule):
        name = "too-many-events"
        order = 999

        def check_request(self, ctx: RequestContext) -> Iterator[Finding]:
            if len(ctx.decoded.events) > 1:
                yield self.on_request(ctx, Severity.REVIEW, "More than one event.", "clause")

    yield TooManyEvents
    rules_base.RULES.remove("too-many-events")


def test_a_registered_rule_judges_every_request_and_names_its_findings(new_rule):
    assert isinstance(default_rules()[-1], new_rule)
    events = [{"name": "Office.A", "ver": "4.0"}, {"name": "Office.B", "ver": "4.0"}]
    request = Request("f", datetime.now(UTC), "POST", "https",
                      "eu-office.events.data.microsoft.com", 443, "/OneCollector/1.0/",
                      [("Content-Type", "application/x-json-stream")], json_stream(events))
    result = Inspector(load_policy().policy).inspect(request)
    assert result is not None
    assert [f.detail for f in result.findings if f.rule == "too-many-events"] == [
        "More than one event."]


def test_two_rules_cannot_share_a_name():
    with pytest.raises(ValueError, match="two rules"):
        @rules_base.register
        class Impostor(Rule):
            name = "level"


@pytest.fixture
def new_detector() -> Iterator[type[Detector]]:
    @pii_base.register
    class LicencePlate(Detector):
        kind = "licence-plate"
        order = 999

        def precheck(self, value: str) -> bool:
            return "-" in value

        def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
            for match in re.finditer(r"\b[A-Z]{2}-\d{3}-[A-Z]\b", value):
                yield PiiHit(self.kind, field, match.group(0), "A Dutch licence plate.")

        def mask(self, value: str) -> str:
            return value[:2] + "-***-*"

    masking._masker.cache_clear()
    yield LicencePlate
    pii_base.DETECTORS.remove("licence-plate")
    masking._masker.cache_clear()


def test_a_registered_detector_scans_and_masks_its_own_way(new_detector):
    detectors = default_detectors()
    assert isinstance(detectors[-1], new_detector)
    from diagscope.pii.scan import scan_event_values

    hits = scan_event_values(Event(0, "x", data={"Car": "kenteken GZ-123-X"}), detectors)
    assert [(h.kind, h.value) for h in hits] == [("licence-plate", "GZ-123-X")]
    assert mask("GZ-123-X", "licence-plate") == "GZ-***-*"


def test_detectors_mask_their_own_kind():
    assert mask("jan.jansen@minjenv.nl", "email") == "j********@m******.nl"
    assert mask("+31612345678", "phone") == "**********78"
    assert mask("NL91ABNA0417164300", "iban") == "NL91**********4300"
    assert mask("typed words here", "customer-content") == "********"
    assert mask("x:2533274804582403", "identifier").startswith("x:")
