"""diagscope inside mitmproxy's UIs: the contentview, flow marks and comments, `mitmdump`.

Each adapter is tested for real through the installed mitmproxy's own entry point, the one
mitmweb, the console and mitmdump call: `contentviews.get_message_content_view` on
mitmproxy 11, `contentviews.prettify_message` on 12. Since one installation has only one of
them, the mitmproxy 12 adapter is also tested against `Fake12`, a small stand-in for 12's
contentview API, wherever 11 is installed: it is modelled on 12.0's
`contentviews/_api.py` (the `Contentview` protocol, `Metadata`), `_registry.py` (views by
lower-case name, "auto" picks the highest `render_priority`) and `prettify_message` (the
decoded body and a `Metadata` in, text out, a failing view replaced by raw).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
import typing
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import ROOT, telemetry_flow
from mitmproxy import contentviews, ctx, http
from mitmproxy.io import FlowReader
from mitmproxy.test import taddons

from diagscope.addon import MARKERS, DiagscopeAddon, mark_flow
from diagscope.contentview import (
    REVEALED_VIEW_NAME,
    VIEW_NAME,
    ModernView,
    TelemetryView,
    ViewContext,
    default_context,
    default_inspector,
    findings_summary,
    is_modern,
    register,
)
from diagscope.decode.body import decode_body
from diagscope.model import Finding, Severity, Verdict
from diagscope.pipeline import Inspector
from diagscope.policy.model import Limits
from diagscope.sources.flows import request_from_flow
from diagscope.sources.synthetic import gzip_bytes, json_stream, raw_deflate

MITMDUMP = os.path.join(os.path.dirname(sys.executable), "mitmdump")

EMAIL = "jan.jansen@minjenv.nl"
MASKED_EMAIL = "j********@m******.nl"
JSON_CT = [("Content-Type", "application/x-json-stream")]
BOND_CT = [("Content-Type", "application/bond-compact-binary")]
EVENTS = [
    {"ver": "4.0", "name": "Office.Word.FileOpen", "time": "2026-11-02T09:00:00.000Z",
     "data": {"EventInfo.Level": 1, "User.Email": EMAIL,
              "Note": f"please mail {EMAIL} today"}},
    {"ver": "4.0", "name": "Office.Licensing.Heartbeat", "time": "2026-11-02T09:00:01.000Z",
     "data": {"EventInfo.Level": 110}},
]
T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BOND_RECORDS = [
    {"name": "Office.Word.FileOpen", "time": T, "iKey": "o:tenant",
     "data": {"EventInfo.Level": 1, "User.Email": {"value": EMAIL, "pii": "SmtpAddress"}}},
    {"name": "Office.Licensing.Heartbeat", "time": T, "data": {"EventInfo.Level": 110}},
]


def bond_body() -> bytes:
    from bondwriter import records_body

    return records_body(BOND_RECORDS)


#: mitmproxy 12's contentview API is installed (Python 3.12 and newer), not 11's.
MODERN = is_modern(contentviews)
#: The same module, typed loosely: the type checker sees whichever mitmproxy is installed.
API: Any = contentviews


def shown(flow: http.HTTPFlow, view: str = "auto",
          message: http.Message | None = None) -> tuple[str, str]:
    """(label, text) of the request (or `message`) as the installed mitmproxy shows it with
    `view`. The label is the view's description on mitmproxy 11 and the name of the view
    chosen on 12, which shows no description; diagscope's both start with "diagscope"."""
    message = flow.request if message is None else message
    if MODERN:
        # mitmproxy 12 reads its options (protobuf definitions): a test's own context if
        # one is open, else a fresh one.
        with contextlib.nullcontext() if hasattr(ctx, "options") else taddons.context():
            result = API.prettify_message(message, flow, view_name=view)
        return result.view_name or "", result.text
    description, lines, error = contentviews.get_message_content_view(view, message, flow)
    assert error is None, error  # mitmproxy reports a view that raised here
    return description, "\n".join("".join(text for _, text in line) for line in lines)


def registered(name: str) -> Any:
    """The view registered under `name` in the installed mitmproxy, or None."""
    if MODERN:
        return API.registry.get(name.lower())
    return contentviews.get(name)


def registered_names() -> list[str]:
    if MODERN:
        return list(API.registry)
    return [v.name.lower() for v in contentviews.views]


@pytest.fixture
def views():
    registration = register(default_context)
    yield registration
    registration.remove()


# -- what the view shows ----------------------------------------------------------------


def test_json_stream_gzip_is_shown_as_judged_events(views):
    flow = telemetry_flow("json", gzip_bytes(json_stream(EVENTS)),
                          [*JSON_CT, ("Content-Encoding", "gzip")])
    description, text = shown(flow)
    if MODERN:
        assert description == VIEW_NAME
    else:
        assert "diagscope: 2 events, violation" in description
    assert "# 1DS upload: 2 events, application/x-json-stream, gzip" in text
    assert "# event 0: Office.Word.FileOpen" in text
    assert "# event 1: Office.Licensing.Heartbeat" in text
    assert re.search(r"#   product office \| level required \| purpose \S+ \| verdict violation",
                     text)
    assert "verdict ok" in text  # the heartbeat itself is fine
    assert "violation personal-data (data.User.Email)" in text
    assert '"name": "Office.Word.FileOpen"' in text  # the Common Schema event follows


def test_bond_raw_deflate_is_shown_with_declared_fields(views):
    flow = telemetry_flow("bond", raw_deflate(bond_body()),
                          [*BOND_CT, ("Content-Encoding", "deflate")])
    _, text = shown(flow)
    assert "application/bond-compact-binary, deflate" in text and "decode ok" in text
    assert "# event 0: Office.Word.FileOpen" in text
    assert "# event 1: Office.Licensing.Heartbeat" in text
    assert "declared by the client: data.User.Email SmtpAddress" in text


def test_personal_data_is_masked_unless_revealed(views):
    flow = telemetry_flow("pii", json_stream(EVENTS), JSON_CT)
    _, masked = shown(flow)
    assert EMAIL not in masked
    assert f'"User.Email": "{MASKED_EMAIL}"' in masked  # the detector's own shape
    # Found inside longer text: the whole text masked, not shaped as an address.
    assert re.search(r'"Note": "p\*+ay"', masked)
    assert "personal data masked" in masked
    _, clear = shown(flow, REVEALED_VIEW_NAME)  # the view a tester picks by hand
    assert f'"User.Email": "{EMAIL}"' in clear and "personal data shown in clear" in clear


def test_the_reveal_option_shows_values_in_clear_and_may_change_during_a_run(db_path):
    flow = telemetry_flow("reveal", json_stream(EVENTS), JSON_CT)
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path, diagscope_judge_process=False)
        addon.running()  # the run is open: session options are frozen, this one is not
        assert EMAIL not in shown(flow)[1]
        tctx.configure(addon, diagscope_reveal=True)
        assert f'"User.Email": "{EMAIL}"' in shown(flow)[1]
        addon.done()


def test_a_body_that_cannot_be_decoded_shows_the_error_and_offset_above_hex(views):
    whole = bond_body()
    flow = telemetry_flow("cut", whole[:-7], BOND_CT)
    _, text = shown(flow)
    error = re.search(r"# decoder error at offset (\d+): .*damaged", text)
    assert error, text
    assert f"# hex of the body: bytes 0-{len(whole) - 7} of {len(whole) - 7}" in text
    assert re.search(r"^00000000  29 03 34 2e 30 ", text, re.M)  # `29 03` "4.0": a record
    assert text.index("# decoder error") < text.index("# hex of")


def test_a_body_that_cannot_be_inflated_shows_the_bytes_as_sent(views):
    flow = telemetry_flow("junk", b"\x1f\x8b\x08\x00garbage that is no gzip", BOND_CT)
    _, text = shown(flow)
    assert "# decoder error: " in text and "gzip" in text
    assert "# hex of the body as sent: bytes 0-" in text
    assert "1f 8b 08 00" in text


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """256 MiB of zeros, gzipped into about 250 KiB: four times the default bound."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()


def test_a_decompression_bomb_shows_its_bound_quickly(loaded_policy, bomb):
    small = loaded_policy.policy.model_copy(update={"limits": Limits(max_body_bytes=1 << 20)})
    view = TelemetryView(VIEW_NAME, lambda: ViewContext(Inspector(small)))
    # Without a Content-Encoding header mitmproxy hands the bytes over as they are; the view
    # recognises gzip by its magic bytes and inflates within the policy's bound.
    flow = telemetry_flow("bomb", bomb, JSON_CT)
    started = time.monotonic()
    text = view.render(bomb, flow, flow.request).text()
    assert time.monotonic() - started < 10
    assert f"inflates past the bound of {1 << 20} bytes" in text
    assert "# hex of the body as sent" in text


def test_a_decompression_bomb_under_the_default_policy_is_bounded_too(views, bomb):
    flow = telemetry_flow("bomb", bomb, JSON_CT)
    started = time.monotonic()
    _, text = shown(flow)
    assert time.monotonic() - started < 10
    bound = default_inspector().policy.limits.max_body_bytes
    assert f"inflates past the bound of {bound} bytes" in text


def test_telemetry_bodies_are_chosen_automatically(views):
    collector = telemetry_flow("collector", json_stream(EVENTS), [("Content-Type", "text/plain")])
    assert shown(collector)[0].startswith("diagscope")  # by the collector path
    # The JS SDK in CORS mode: the content type travels in the query string.
    cors = telemetry_flow("cors", json_stream(EVENTS), [("Content-Type", "text/plain")],
                          host="example.org", path="/x?content-type=application/x-json-stream")
    assert shown(cors)[0].startswith("diagscope")
    # By content type alone: decoded, not judged, and still masked by the detectors.
    elsewhere = telemetry_flow("elsewhere", json_stream(EVENTS), JSON_CT, host="example.org",
                               path="/upload")
    description, text = shown(elsewhere)
    assert description.startswith("diagscope") and "not judged" in text
    assert "# event 0: Office.Word.FileOpen" in text and EMAIL not in text
    # Other traffic keeps mitmproxy's own views.
    other = telemetry_flow("other", b'{"a": 1}', [("Content-Type", "application/json")],
                           host="example.org", path="/api")
    assert not shown(other)[0].startswith("diagscope")
    response = collector.response
    assert response is not None
    description, _ = shown(collector, message=response)
    assert not description.startswith("diagscope")  # the collector's answer is not telemetry


def test_the_view_never_raises_into_mitmproxy(views, monkeypatch):
    flow = telemetry_flow("boom", json_stream(EVENTS), JSON_CT)

    def broken() -> ViewContext:
        raise RuntimeError("no context")

    view = TelemetryView(VIEW_NAME, broken)
    text = view.render(flow.request.raw_content or b"", flow, flow.request).text()
    assert "# diagscope could not render this body: RuntimeError: no context" in text
    assert "# hex of the body" in text
    monkeypatch.setattr(Inspector, "inspect", lambda self, request: 1 / 0)
    description, text = shown(flow)
    assert description.startswith("diagscope") and "division by zero" in text
    if not MODERN:  # mitmproxy 11 also shows a description line
        assert "ZeroDivisionError" in description
    # The content type alone needs no context; where the context is needed and fails,
    # the choice is left to mitmproxy.
    assert TelemetryView(VIEW_NAME, broken).priority(flow, flow.request, None) > 0
    bare = telemetry_flow("bare", b"x", [], host="example.org", path="/x")
    assert TelemetryView(VIEW_NAME, broken).priority(bare, bare.request, None) == 0


def test_empty_and_non_request_bodies(views):
    flow = telemetry_flow("empty", b"", JSON_CT)
    assert "# the request has no body" in shown(flow, VIEW_NAME)[1]
    assert flow.response is not None
    assert "this is not one" in shown(flow, VIEW_NAME, message=flow.response)[1]


def test_registration_replaces_a_stale_view_and_removes_its_own():
    first = register(default_context)
    second = register(default_context)  # an addon loaded again without `done`
    names = registered_names()
    assert names.count(VIEW_NAME.lower()) == 1 and names.count(REVEALED_VIEW_NAME.lower()) == 1
    second.remove()
    first.remove()
    if MODERN:
        # mitmproxy 12 cannot remove a view: ours stay, judging with the bundled policy.
        assert all(registered(n).core.source is default_context
                   for n in (VIEW_NAME, REVEALED_VIEW_NAME))
    else:
        assert registered(VIEW_NAME) is None and registered(REVEALED_VIEW_NAME) is None


def test_the_addon_registers_the_view_and_takes_it_away(db_path):
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path, diagscope_judge_process=False)
        view = registered(VIEW_NAME)
        assert view is not None
        if MODERN:
            assert view.core.source is not default_context  # the run's policy and canaries
        addon.done()
    if MODERN:
        assert registered(VIEW_NAME).core.source is default_context
    else:
        assert registered(VIEW_NAME) is None


# -- mitmproxy 12's API, faked ------------------------------------------------------------


@typing.runtime_checkable
class Fake12Contentview(typing.Protocol):
    """mitmproxy 12's `Contentview` protocol: what its registry relies on."""

    @property
    def name(self) -> str: ...

    @property
    def syntax_highlight(self) -> str: ...

    def prettify(self, data: bytes, metadata: Any) -> str: ...

    def render_priority(self, data: bytes, metadata: Any) -> float: ...


@dataclass
class Fake12Metadata:
    flow: Any = None
    content_type: str | None = None
    http_message: Any = None
    tcp_message: Any = None
    udp_message: Any = None
    websocket_message: Any = None
    dns_message: Any = None
    protobuf_definitions: Any = None
    original_data: bytes | None = None


class Fake12Raw:
    name = "Raw"
    syntax_highlight = "none"

    def prettify(self, data: bytes, metadata: Any) -> str:
        return data.decode("utf-8", "backslashreplace")

    def render_priority(self, data: bytes, metadata: Any) -> float:
        return 0.1


class Fake12Json(Fake12Raw):
    name = "JSON"

    def render_priority(self, data: bytes, metadata: Any) -> float:
        return 1.0 if metadata.content_type == "application/json" else 0.0


class Fake12:
    """`mitmproxy.contentviews` of mitmproxy 12, as far as a registered view meets it."""

    SyntaxHighlights = frozenset({"css", "javascript", "xml", "yaml", "none", "error"})

    def __init__(self) -> None:
        self.views: dict[str, Any] = {}
        self.Contentview = Fake12Contentview
        self.Metadata = Fake12Metadata
        self.registry = SimpleNamespace(register=self.add, by_name=self.views)
        self.add(Fake12Raw())
        self.add(Fake12Json())

    def add(self, view: Any) -> None:
        assert isinstance(view, Fake12Contentview), view
        assert view.syntax_highlight in self.SyntaxHighlights
        self.views[view.name.lower()] = view  # a view of the same name is replaced

    def prettify_message(self, message: http.Message, flow: http.HTTPFlow,
                         view_name: str = "auto") -> tuple[str, str]:
        """(name of the view used, text), as 12's `prettify_message` decides them."""
        data = message.get_content(strict=False) or b""
        content_type = message.headers.get("content-type", "").split(";")[0] or None
        metadata = Fake12Metadata(flow=flow, http_message=message, content_type=content_type)
        if view_name == "auto":
            view = max(self.views.values(), key=lambda v: v.render_priority(data, metadata))
        else:
            view = self.views[view_name.lower()]
        try:
            return view.name, view.prettify(data, metadata)
        except Exception:
            return "Raw", self.views["raw"].prettify(data, metadata)


def test_mitmproxy_12_adapter_against_a_fake_of_its_api():
    fake = Fake12()
    registration = register(default_context, api=fake)
    assert {VIEW_NAME.lower(), REVEALED_VIEW_NAME.lower()} <= set(fake.views)
    assert all(isinstance(v, ModernView) for v in registration.views)
    flow = telemetry_flow("bond12", raw_deflate(bond_body()),
                          [*BOND_CT, ("Content-Encoding", "deflate")])
    name, text = fake.prettify_message(flow.request, flow)
    assert name == VIEW_NAME
    assert "# event 0: Office.Word.FileOpen" in text and "verdict violation" in text
    assert EMAIL not in text and MASKED_EMAIL in text
    assert fake.prettify_message(flow.request, flow, REVEALED_VIEW_NAME)[1].count(EMAIL) >= 1
    other = telemetry_flow("json12", b'{"a": 1}', [("Content-Type", "application/json")],
                           host="example.org", path="/api")
    assert fake.prettify_message(other.request, other)[0] == "JSON"
    cut = telemetry_flow("cut12", bond_body()[:-7], BOND_CT)
    assert "# decoder error at offset" in fake.prettify_message(cut.request, cut)[1]
    # Registering again (an addon reloaded) replaces; removing leaves a view without a run.
    register(default_context, api=fake)
    assert len([n for n in fake.views if n.startswith("diagscope")]) == 2
    registration.remove()
    assert all(core.source is default_context for core in registration.cores)


def test_the_adapter_is_chosen_by_what_mitmproxy_offers():
    import mitmproxy.version

    major = int(mitmproxy.version.VERSION.split(".")[0])
    assert is_modern(contentviews) == (major >= 12)
    assert is_modern(Fake12())


# -- marks and comments -----------------------------------------------------------------


def finding(rule: str, severity: Severity) -> Finding:
    return Finding(rule=rule, severity=severity, detail="")


def test_findings_summary_and_flow_marks():
    findings = [finding("personal-data", Severity.VIOLATION), finding("level", Severity.VIOLATION),
                finding("unknown-event", Severity.REVIEW)]
    assert findings_summary(findings) == "2 violations: level, personal-data; 1 review: " \
                                         "unknown-event"
    flow = telemetry_flow("marks", b"", JSON_CT)
    flow.comment = "looked at by Anna"
    assert mark_flow(flow, findings)
    assert flow.marked == MARKERS[Verdict.VIOLATION] == ":red_circle:"
    assert flow.comment == "looked at by Anna\n" + findings_summary(findings)
    # Judged again (another policy): the summary is replaced, the tester's words kept.
    assert mark_flow(flow, [finding("purpose", Severity.REVIEW)])
    assert flow.marked == MARKERS[Verdict.REVIEW] == ":large_orange_diamond:"
    assert flow.comment == "looked at by Anna\n1 review: purpose"
    assert not mark_flow(flow, [finding("purpose", Severity.REVIEW)])  # nothing changed
    flow.marked = ":star:"  # set by the tester
    mark_flow(flow, findings)
    assert flow.marked == ":star:"
    assert not mark_flow(telemetry_flow("clean", b"", JSON_CT), [])


class UpdateSpy:
    """Records mitmproxy's `update` hook, which mitmweb's and the console's views follow."""

    def __init__(self) -> None:
        self.updated: list[Any] = []

    def update(self, flows: list[Any]) -> None:
        self.updated.extend(flows)


async def eventually(check: typing.Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_live_flow_is_marked_when_its_judgement_is_stored(db_path):
    addon, spy = DiagscopeAddon(), UpdateSpy()
    bad = telemetry_flow("live-bad", json_stream(EVENTS), JSON_CT)
    reviewed = telemetry_flow("live-review", json_stream(EVENTS[1:]), JSON_CT)
    for flow in (bad, reviewed):
        flow.live = True
    with taddons.context(addon, spy) as tctx:
        tctx.configure(addon, diagscope_db=db_path)  # judged in the judging process
        addon.running()
        for flow in (bad, reviewed):
            await addon.request(flow)
            assert flow.marked == "" and flow.comment == ""  # nothing on the forwarding path
            addon.response(flow)
        await eventually(lambda: bool(bad.marked and reviewed.marked))
        addon.done()
    assert bad.marked == ":red_circle:" and re.match(r"\d+ violations?: .*personal-data",
                                                     bad.comment)
    assert reviewed.marked == ":large_orange_diamond:"
    assert re.fullmatch(r"\d+ reviews?: [a-z, -]+", reviewed.comment)
    assert bad in spy.updated and reviewed in spy.updated


async def test_a_flow_read_from_a_file_is_marked_before_its_response_hook(db_path):
    addon = DiagscopeAddon()
    flow = telemetry_flow("read", json_stream(EVENTS), JSON_CT)
    assert not flow.live  # as mitmproxy loads flows from a file
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path)
        addon.running()
        await addon.request(flow)
        assert flow.marked == ":red_circle:" and "personal-data" in flow.comment
        addon.response(flow)
        addon.done()


# -- mitmdump --------------------------------------------------------------------------


@pytest.mark.e2e
def test_mitmdump_prints_decoded_bond_events_and_writes_marked_flows(capture, tmp_path):
    import make_samples

    flows = make_samples.office_bond_flows()
    path = capture(flows)
    out = tmp_path / "out.mitm"
    env = {**os.environ, "HOME": str(tmp_path)}  # keep mitmproxy's CA files out of ~
    proc = subprocess.run(
        [MITMDUMP, "-nr", path, "-s", str(ROOT / "addons" / "diagscope_addon.py"),
         "--flow-detail", "3", "-w", str(out), "--set", f"diagscope_db={tmp_path / 'x.sqlite'}"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout
    for flow in flows:
        for event in decode_body(request_from_flow(flow)).events:
            assert f"# event {event.index}: {event.name}" in printed, event.name
    assert printed.count("# 1DS upload: ") == len(flows)
    assert make_samples.CANARY_EMAIL not in printed  # masked by default
    assert "# decoder error at offset" in printed  # the upload cut short on the wire
    with open(out, "rb") as fo:
        written = list(FlowReader(fo).stream())
    assert [f.id for f in written] == [f.id for f in flows]
    for flow in written:
        assert flow.marked in MARKERS.values(), flow.id
        assert re.fullmatch(r"\d+ violations?: [a-z, -]+(; \d+ reviews?: [a-z, -]+)?|"
                            r"\d+ reviews?: [a-z, -]+", flow.comment), flow.comment
    assert any("violation" in f.comment and f.marked == ":red_circle:" for f in written)
