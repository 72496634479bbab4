import pytest

from diagscope.classify.classifier import Classifier
from diagscope.classify.level import level_of
from diagscope.classify.product import product_of
from diagscope.model import DecodedBody, DecodeStatus, Event, Level, Product, Request, Severity
from diagscope.rules.base import RequestContext
from diagscope.rules.level import LevelRule


@pytest.mark.parametrize(
    ("data", "level"),
    [
        ({"EventInfo.Level": 1}, Level.REQUIRED),
        ({"EventInfo.Level": 2}, Level.OPTIONAL),
        ({"EventInfo.Level": 110}, Level.SERVICE),
        ({"EventInfo_Level": 120}, Level.ESSENTIAL),
        ({"EventInfo.Level": "110"}, Level.SERVICE),
        ({"EventInfo.Level": 7}, Level.UNKNOWN),
        ({"EventInfo.Level": True}, Level.UNKNOWN),
        ({}, Level.UNKNOWN),
    ],
)
def test_level_from_eventinfo(data, level):
    assert level_of(Event(0, "Office.X", data=data))[0] is level


def test_level_reason_names_the_field():
    assert "data.EventInfo.Level = 1" in level_of(Event(0, "x", data={"EventInfo.Level": 1}))[1]


@pytest.mark.parametrize(
    ("event", "host", "product"),
    [
        (Event(0, "Office.Word.FileOpen"), "", Product.OFFICE),
        (Event(0, "Microsoft.Windows.Update.Agent"), "", Product.WINDOWS),
        (Event(0, "Census.App"), "", Product.WINDOWS),
        (Event(0, "Foo", ext={"app": {"name": "Excel"}}), "", Product.OFFICE),
        (Event(0, "Foo", ext={"utc": {"cat": 1}}), "", Product.WINDOWS),
        (Event(0, "Foo"), "v10c.events.data.microsoft.com", Product.WINDOWS),
        (Event(0, "Foo"), "eu-office.events.data.microsoft.com", Product.OFFICE),
        (Event(0, "Foo"), "collector.example.org", Product.UNKNOWN),
    ],
)
def test_product(event, host, product):
    call = product_of(event, host)
    assert call.product is product
    assert call.reason


def judge(loaded_policy, event):
    from datetime import UTC, datetime

    request = Request("f", datetime.now(UTC), "POST", "https", "h", 443, "/", [], b"")
    policy = loaded_policy.policy
    ctx = RequestContext(request, DecodedBody(DecodeStatus.OK, None, None), policy,
                         Classifier(policy))
    event.level, event.level_reason = level_of(event)
    return list(LevelRule().check_event(event, ctx))


@pytest.mark.parametrize(
    ("product", "level_number", "expected"),
    [
        (Product.OFFICE, 120, None),
        (Product.OFFICE, 110, None),
        (Product.OFFICE, 1, Severity.VIOLATION),
        (Product.OFFICE, 2, Severity.VIOLATION),
        (Product.WINDOWS, 120, None),
        (Product.WINDOWS, 110, Severity.VIOLATION),
        (Product.OFFICE, None, Severity.REVIEW),
        (Product.UNKNOWN, 120, None),
        (Product.UNKNOWN, 1, Severity.REVIEW),
    ],
)
def test_level_rule_against_the_agreement(loaded_policy, product, level_number, expected):
    data = {} if level_number is None else {"EventInfo.Level": level_number}
    event = Event(3, "Office.X", data=data, product=product)
    findings = judge(loaded_policy, event)
    if expected is None:
        assert findings == []
    else:
        (finding,) = findings
        assert finding.severity is expected
        assert finding.rule == "level"
        assert finding.event_index == 3
        assert finding.clause
