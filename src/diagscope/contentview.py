"""diagscope's view of 1DS uploads inside mitmproxy: mitmweb, the console and
`mitmdump --flow-detail 3` show a telemetry request body as the Common Schema events it
carries, each headed by its name, product, level, purpose and verdict, with the personal data
the findings point at masked.

One rendering core (`TelemetryView`) and two thin adapters, because mitmproxy's contentview
API changed in version 12:

- mitmproxy 11 calls `view(data, flow=..., http_message=..., content_type=...)` for a
  description and lines of (style, text) segments, and `render_priority(data, **metadata)`;
- mitmproxy 12 calls `prettify(data, Metadata)` for one text, and
  `render_priority(data, Metadata)`.

`register` picks the adapter the installed mitmproxy offers. Two views are registered: one
chosen automatically for telemetry (masked unless the `diagscope_reveal` option is set) and
one a tester picks by hand to read the values in clear.

The view never raises into mitmproxy: whatever fails is shown, with the body in hex. It is
bounded like replay: the body is inflated within the policy's `limits.max_body_bytes`, the
hex view shows a window of the body, and the output stops after `MAX_LINES` lines.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http

from diagscope.decode.body import decode_body
from diagscope.decode.detect import BOND_COMPACT, JSON_STREAM, declared_content_type
from diagscope.decode.inflate import InflateError, inflate
from diagscope.model import (
    DecodedBody,
    DecodeStatus,
    Event,
    Finding,
    Request,
    Severity,
    worst_verdict,
)
from diagscope.pii.mask import generic, mask
from diagscope.pii.scan import scanner_for
from diagscope.pipeline import Inspector
from diagscope.sources.flows import request_from_flow
from diagscope.store.jsoncodec import dumps

log = logging.getLogger(__name__)

VIEW_NAME = "diagscope 1DS"
REVEALED_VIEW_NAME = "diagscope 1DS revealed"
#: Above mitmproxy's own views for these bodies (JSON 1, gRPC 1.5, hex dumps below 1), so
#: a telemetry upload opens decoded.
TELEMETRY_PRIORITY = 2.0
TELEMETRY_TYPES = frozenset({JSON_STREAM, BOND_COMPACT})
#: The hex view shows this much of a body, around where decoding stopped.
HEX_WINDOW = 4096
#: A body of a few megabytes holds tens of thousands of events; nobody reads past this.
MAX_LINES = 100_000

#: (style, text). mitmproxy 11's UIs know these styles: `header` and `highlight` are bold in
#: mitmweb and mitmdump, `offset` is blue; any other (`error` too) is plain in mitmweb. So
#: `highlight` marks what is wrong, `header` the structure, `text` the rest.
Segment = tuple[str, str]
Line = list[Segment]


@dataclass(frozen=True, slots=True)
class ViewContext:
    """What the view judges with: the run's inspector (its policy and canaries), and whether
    personal data is shown in clear."""

    inspector: Inspector
    reveal: bool = False


ContextSource = Callable[[], ViewContext]


@functools.cache
def default_inspector() -> Inspector:
    """The bundled policy's inspector, for a view with no run behind it."""
    from diagscope.policy.load import load_policy

    return Inspector(load_policy().policy)


def default_context() -> ViewContext:
    return ViewContext(default_inspector())


@dataclass(slots=True)
class Rendered:
    description: str
    lines: list[Line] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join("".join(text for _, text in line) for line in self.lines)


# -- what a flow comment and the view's header say about findings ---------------------------


def findings_summary(findings: Sequence[Finding]) -> str:
    """`2 violations: level, personal-data; 1 review: unknown-event`, or "" without
    findings. Flow comments carry it, so mitmweb's search and `~comment` find rules."""
    parts = []
    for severity in (Severity.VIOLATION, Severity.REVIEW):
        rules = [f.rule for f in findings if f.severity is severity]
        if rules:
            noun = severity.value + ("s" if len(rules) > 1 else "")
            parts.append(f"{len(rules)} {noun}: {', '.join(sorted(set(rules)))}")
    return "; ".join(parts)


#: A line `findings_summary` wrote, recognised so that judging a flow again replaces it.
SUMMARY_LINE = re.compile(r"^\d+ (?:violations?|reviews?): ")


# -- the core ---------------------------------------------------------------------------


class TelemetryView:
    """Renders the request of a flow as judged events; knows nothing of mitmproxy's
    contentview API, which the adapters below speak."""

    def __init__(self, name: str, source: ContextSource, *, reveal: bool = False,
                 automatic: bool = True) -> None:
        self.name = name
        self.source = source
        self.reveal = reveal  # this view always shows values in clear
        self.automatic = automatic  # may mitmproxy choose it by itself?

    def priority(self, flow: Any, message: Any, content_type: str | None) -> float:
        """High for a 1DS upload; 0 (mitmproxy chooses another view) for anything else."""
        if not self.automatic:
            return 0.0
        try:
            request = request_of(flow, message)
            if request is None:
                return 0.0
            if content_type in TELEMETRY_TYPES or \
                    declared_content_type(request) in TELEMETRY_TYPES:
                return TELEMETRY_PRIORITY
            return TELEMETRY_PRIORITY if self.source().inspector.is_telemetry(request) else 0.0
        except Exception:
            log.exception("diagscope: could not tell whether a body is telemetry")
            return 0.0

    def render(self, data: bytes, flow: Any, message: Any) -> Rendered:
        try:
            request = request_of(flow, message)
            if request is None:
                return Rendered("diagscope: not a request", [
                    [("header", "# diagscope reads 1DS request bodies; this is not one")],
                    *hex_lines(data, None, "the body")])
            context = self.source()
            return render_request(request, context.inspector,
                                  reveal=self.reveal or context.reveal)
        except Exception as exc:
            log.exception("diagscope: could not render a body")
            return Rendered(f"diagscope: {type(exc).__name__}", [
                [("highlight", f"# diagscope could not render this body: "
                               f"{type(exc).__name__}: {exc}")],
                *hex_lines(data, None, "the body")])


def request_of(flow: Any, message: Any) -> Request | None:
    """The diagscope Request when `message` is the request of an HTTP flow, else None."""
    if isinstance(flow, http.HTTPFlow) and message is flow.request:
        return request_from_flow(flow)
    return None


def render_request(request: Request, inspector: Inspector, *, reveal: bool) -> Rendered:
    """The request's events, judged when the inspector takes it for telemetry."""
    if not request.body:
        return Rendered("diagscope: no body", [[("header", "# the request has no body")]])
    inspection = inspector.inspect(request)
    max_bytes = inspector.policy.limits.max_body_bytes
    if inspection is None:
        decoded, findings, judged = _decoded(request, max_bytes), [], False
    else:
        decoded, findings, judged = inspection.decoded, inspection.findings, True
    lines = _header(request, decoded, findings, judged, reveal)
    lines += [[(_style(f), f"# request: {f.severity.value} {f.rule}: {f.detail}")]
              for f in findings if f.event_index is None]
    for event in decoded.events:
        lines += _event_lines(event, findings, judged, reveal,
                              inspector.policy.personal_data.phone_region)
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES]
            lines.append([("highlight", f"# output cut after {MAX_LINES} lines")])
            break
    if decoded.error is not None:
        lines += _decode_error(request, decoded, max_bytes)
    verdict = worst_verdict([f.severity for f in findings]).value if judged else "not judged"
    count = len(decoded.events)
    return Rendered(f"diagscope: {count} event{'' if count == 1 else 's'}, {verdict}", lines)


def _decoded(request: Request, max_bytes: int) -> DecodedBody:
    """`decode_body`, failures reported as the pipeline reports them."""
    try:
        return decode_body(request, max_bytes)
    except Exception as exc:
        return DecodedBody(DecodeStatus.UNDECODABLE, None, request.header("content-encoding"),
                           error=f"internal decoder error: {exc!r}")


def _header(request: Request, decoded: DecodedBody, findings: list[Finding], judged: bool,
            reveal: bool) -> list[Line]:
    size = f"{len(request.body)} bytes"
    if decoded.decoded_size and decoded.content_encoding not in (None, "identity"):
        size += f", {decoded.decoded_size} inflated"
    count = len(decoded.events)
    lines: list[Line] = [[("header",
                           f"# 1DS upload: {count} event{'' if count == 1 else 's'}, "
                           f"{decoded.content_type or 'unknown content type'}, "
                           f"{decoded.content_encoding or 'identity'}, {size}, "
                           f"decode {decoded.status.value}")]]
    if judged:
        verdict = worst_verdict([f.severity for f in findings]).value
        summary = findings_summary(findings)
        lines.append([("header", f"# verdict: {verdict}" + (f" ({summary})" if summary else ""))])
    else:
        lines.append([("header", "# not judged: not sent to a 1DS collector path or a host "
                                 "the policy lists")])
    if reveal:
        lines.append([("highlight", "# personal data shown in clear")])
    else:
        lines.append([("text", f"# personal data masked (in clear: --set diagscope_reveal="
                                 f"true, or the {REVEALED_VIEW_NAME!r} view)")])
    return lines


def _event_lines(event: Event, findings: list[Finding], judged: bool, reveal: bool,
                 phone_region: str) -> list[Line]:
    own = [f for f in findings if f.event_index == event.index]
    if judged:
        verdict = worst_verdict([f.severity for f in own]).value
        about = (f"product {event.product.value} | level {event.level.value} | "
                 f"purpose {event.purpose} | verdict {verdict}")
    else:
        about = "not judged"
    lines: list[Line] = [[("text", "")],
                         [("header", f"# event {event.index}: {event.name}")],
                         [("header", f"#   {about}")]]
    for f in own:
        where = f" ({f.field})" if f.field else ""
        lines.append([(_style(f), f"#   {f.severity.value} {f.rule}{where}: {f.detail}")])
    if event.marks:
        declared = ", ".join(
            " ".join([path, *([mark.pii_kind] if mark.pii_kind else []),
                      *(["customer content"] if mark.customer_content else [])])
            for path, mark in event.marks.items())
        lines.append([("text", f"#   declared by the client: {declared}")])
    document = json.loads(dumps(event.to_cs()))  # JSON-safe, and a copy that may be masked
    if not reveal:
        targets = _findings_targets(own) if judged else _scanned_targets(event, phone_region)
        mask_fields(document, targets)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    lines += [[("text", line)] for line in text.splitlines()]
    return lines


def _style(finding: Finding) -> str:
    return "highlight" if finding.severity is Severity.VIOLATION else "text"


def _decode_error(request: Request, decoded: DecodedBody, max_bytes: int) -> list[Line]:
    offset = decoded.error_offset
    at = f" at offset {offset}" if offset is not None else ""
    lines: list[Line] = [[("text", "")],
                         [("highlight", f"# decoder error{at}: {decoded.error}")]]
    # An inflate that failed leaves the decoded size at 0: nothing else to inflate then.
    body = _inflated(request, max_bytes) if decoded.decoded_size else None
    if body is None:
        # The error is about inflating: show the bytes as sent, where it has no offset.
        return lines + hex_lines(request.body, None, "the body as sent")
    return lines + hex_lines(body, offset,
                             "the inflated body" if body != request.body else "the body")


def _inflated(request: Request, max_bytes: int) -> bytes | None:
    try:
        return inflate(request.body, request.header("content-encoding"), max_bytes).data
    except (InflateError, zlib.error):  # a damaged gzip stream raises zlib's own error
        return None


def hex_lines(data: bytes, around: int | None, what: str) -> list[Line]:
    """A hex dump of at most HEX_WINDOW bytes of `data`, starting a little before `around`."""
    start = 0 if around is None else max(0, around - 256) // 16 * 16
    window = data[start:start + HEX_WINDOW]
    lines: list[Line] = [[("header", f"# hex of {what}: bytes {start}-{start + len(window)} "
                                     f"of {len(data)}")]]
    for row_start in range(0, len(window), 16):
        row = window[row_start:row_start + 16]
        offset = start + row_start
        line: Line = [("offset", f"{offset:08x}  "),
                      ("text", f"{' '.join(f'{b:02x}' for b in row):<47}  "),
                      ("text", "".join(chr(b) if 32 <= b < 127 else "." for b in row))]
        if around is not None and offset <= around < offset + 16:
            line.append(("highlight", f"  <- offset {around}"))
        lines.append(line)
    if around is not None and around >= start + len(window):
        end = "the end of the body" if around >= len(data) else "past the bytes shown"
        lines.append([("highlight", f"# offset {around} is {end}")])
    return lines


# -- masking ----------------------------------------------------------------------------

#: (field path, kind, what the judgement showed of the value: None when it showed nothing)
MaskTarget = tuple[str, str | None, str | None]


def _findings_targets(findings: list[Finding]) -> list[MaskTarget]:
    return [(f.field, f.pii_kind, f.value) for f in findings
            if f.field and f.rule == "personal-data"]


def _scanned_targets(event: Event, phone_region: str) -> list[MaskTarget]:
    """Without a judgement, what the personal-data detectors and the client's own marks
    point at: a view must not show in clear what it did not judge."""
    targets: list[MaskTarget] = [(hit.field, hit.kind, mask(hit.value, hit.kind))
                                 for hit in scanner_for(phone_region).scan(event)]
    targets += [(path, "declared-pii", None) for path, mark in event.marks.items()
                if mark.pii_kind or mark.customer_content]
    return targets


def mask_fields(document: dict[str, Any], targets: Sequence[MaskTarget]) -> None:
    """Mask, in a Common Schema document (`Event.to_cs()`), the values findings name by
    their dotted paths (`data.User.Email`, `baseData.x`, `ext.app.name`, `data.List[2]`)."""
    data = document.get("data")
    data = data if isinstance(data, dict) else {}
    roots = {"data": data, "baseData": data.get("baseData"), "ext": document.get("ext")}
    done: set[str] = set()
    for path, kind, shown in targets:
        if path in done:  # masked once already: masking a masked value says less
            continue
        done.add(path)
        head, _, rest = path.partition(".")
        root = roots.get(head)
        if isinstance(root, dict | list) and rest:
            _mask_path(root, rest, kind, shown)


def _mask_path(node: dict[str, Any] | list[Any], rest: str, kind: str | None,
               shown: str | None) -> None:
    """Walk `rest` from `node` and mask what it ends at. A key may itself hold dots (the JS
    SDK's flat property bags: `User.Email` is one key), so the longest key matching wins;
    a path that goes on inside a string (JSON or base64 in a value) masks the whole string."""
    container: dict[str, Any] | list[Any] = node
    key: str | int | None = None
    current: Any = node
    while rest:
        if isinstance(current, dict):
            name = _longest_key(current, rest)
            if name is None:
                return
            container, key, current = current, name, current[name]
            rest = rest[len(name):]
        elif isinstance(current, list) and rest.startswith("["):
            index_text, _, rest = rest[1:].partition("]")
            if not index_text.isdigit() or int(index_text) >= len(current):
                return
            container, key, current = current, int(index_text), current[int(index_text)]
        elif isinstance(current, str):
            break  # the path continues inside this string: mask all of it
        else:
            return
        rest = rest[1:] if rest.startswith(".") else rest
    if key is not None:
        container[key] = _masked(current, kind, shown)  # type: ignore[index]


def _longest_key(node: dict[str, Any], rest: str) -> str | None:
    best = None
    for name in node:
        if (rest == name or rest.startswith(name + ".") or rest.startswith(name + "[")) \
                and (best is None or len(name) > len(best)):
            best = name
    return best


def _masked(value: Any, kind: str | None, shown: str | None) -> Any:
    if isinstance(value, str):
        masked = mask(value, kind)
        # The kind's own shape only when the finding was about the whole value; a value
        # found inside longer text masks that text generically (an e-mail address shape
        # applied to a sentence would show its end).
        return masked if shown is None or masked == shown else generic(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 8:
        return _masked(str(value), kind, shown)  # a number long enough to be a BSN or card
    if isinstance(value, dict):
        return {k: _masked(v, kind, None) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, kind, None) for v in value]
    return value


# -- the adapters -----------------------------------------------------------------------


class ModernView:
    """mitmproxy 12's `Contentview` protocol: `name`, `syntax_highlight`, `prettify`,
    `render_priority`. It satisfies the protocol by its shape (mitmproxy checks it so), which
    keeps this module importable on mitmproxy 11, where the protocol does not exist."""

    #: Header lines are `# ...` comments and events are JSON: YAML highlighting fits both.
    syntax_highlight = "yaml"

    def __init__(self, core: TelemetryView) -> None:
        self.core = core

    @property
    def name(self) -> str:
        return self.core.name

    def prettify(self, data: bytes, metadata: Any) -> str:
        return self.core.render(data, getattr(metadata, "flow", None),
                                getattr(metadata, "http_message", None)).text()

    def render_priority(self, data: bytes, metadata: Any) -> float:
        return self.core.priority(getattr(metadata, "flow", None),
                                  getattr(metadata, "http_message", None),
                                  getattr(metadata, "content_type", None))

    def __lt__(self, other: Any) -> bool:
        return self.name < str(getattr(other, "name", ""))


def _legacy_view_class(api: Any) -> type:
    """mitmproxy 11's `View` subclass, made only when 11's API is used: mitmproxy 12 marks
    `View` deprecated and warns about every subclass defined."""

    class LegacyView(api.View):
        name = VIEW_NAME  # replaced per instance below; `View` declares it on the class

        def __init__(self, core: TelemetryView) -> None:
            self.core = core
            self.name = core.name

        def __call__(self, data: bytes, *, content_type: str | None = None, flow: Any = None,
                     http_message: Any = None, **unknown_metadata: Any
                     ) -> tuple[str, Iterator[Line]]:
            rendered = self.core.render(data, flow, http_message)
            return rendered.description, iter(rendered.lines)

        def render_priority(self, data: bytes, *, content_type: str | None = None,
                            flow: Any = None, http_message: Any = None,
                            **unknown_metadata: Any) -> float:
            return self.core.priority(flow, http_message, content_type)

    return LegacyView


def is_modern(api: Any) -> bool:
    """Does this `mitmproxy.contentviews` offer mitmproxy 12's API?"""
    return hasattr(api, "Contentview") and hasattr(api, "Metadata") and hasattr(api, "registry")


class Registration:
    """diagscope's views as registered with one mitmproxy; `remove()` takes them away."""

    def __init__(self, api: Any, cores: list[TelemetryView], views: list[Any]) -> None:
        self.api = api
        self.cores = cores
        self.views = views

    def remove(self) -> None:
        if is_modern(self.api):
            # mitmproxy 12 has no public way to remove a view (its `remove` does nothing):
            # the views stay, judging with the bundled policy, no longer with a run's.
            for core in self.cores:
                core.source = default_context
            return
        for view in self.views:
            if view in self.api.views:
                self.api.remove(view)


def register(source: ContextSource, api: Any = None) -> Registration:
    """Register the automatic view and the revealing one with mitmproxy (`api`:
    `mitmproxy.contentviews`, or a stand-in with the same API in tests)."""
    if api is None:
        from mitmproxy import contentviews as api
    cores = [TelemetryView(VIEW_NAME, source),
             TelemetryView(REVEALED_VIEW_NAME, source, reveal=True, automatic=False)]
    if is_modern(api):
        views: list[Any] = [ModernView(core) for core in cores]
        for view in views:
            api.add(view)  # replaces a view of the same name (a reloaded addon's)
        return Registration(api, cores, views)
    view_class = _legacy_view_class(api)
    views = [view_class(core) for core in cores]
    for view in views:
        previous = api.get(view.name)
        if previous is not None:  # left by an addon instance that was never shut down
            api.remove(previous)
        api.add(view)
    return Registration(api, cores, views)
