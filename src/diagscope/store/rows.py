"""Turn an inspection into the rows the store writes, each with its content digest.

This is the expensive part of storing (serialising events, canonical JSON, hashing), and
it needs nothing from the run, so parallel replay does it in worker processes; the run's
writer only numbers the rows and links them into the chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from diagscope.model import Finding, Severity, worst_verdict
from diagscope.pipeline import Inspection
from diagscope.store.bodies import pack_body
from diagscope.store.chain import content_bytes, content_digest
from diagscope.store.jsoncodec import dumps
from diagscope.store.packing import pack


@dataclass(slots=True)
class RequestRows:
    """One telemetry request's rows in chain order: the request, its events, its findings."""

    flow_id: str
    request: tuple[dict[str, Any], str]
    events: list[tuple[dict[str, Any], str]]
    findings: list[tuple[dict[str, Any], str]]
    violations: int
    reviews: int
    blocked: bool


def text(value: str | None) -> str | None:
    """Text any database accepts: no NUL (PostgreSQL refuses it), no lone surrogates (which
    JSON allows but UTF-8 cannot encode). The raw body keeps the exact bytes as evidence."""
    if value is None or (value.isascii() and "\x00" not in value):
        return value
    value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16, where a lone surrogate decodes to U+FFFD like any bad unit.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def _ext_text(ext: dict[str, Any], name: str, key: str) -> str | None:
    part = ext.get(name)
    if isinstance(part, dict):
        value = part.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return text(str(value)[:100])
    return None


def _finding_row(flow_id: str, f: Finding) -> dict[str, Any]:
    return {
        "flow_id": flow_id,
        "event_index": f.event_index,
        "event_name": text(f.event_name),
        "product": f.product.value,
        "rule": f.rule,
        "severity": f.severity.value,
        "field": text(f.field),
        "pii_kind": text(f.pii_kind),
        "detail": text(f.detail),
        "value": text(f.value),
        "clause": f.clause,
    }


# A run repeats a few dozen kinds of finding (rule, severity, texts, field, value) on
# event after event; findings of one kind differ only in their flow and event index. So
# each kind's packed row and the canonical JSON its digest is taken from, split around
# those two values, are remembered (bounded): a finding then costs a dict copy and one
# hash instead of building, serialising and packing its row. The digest is the same as
# `content_digest` gives (checked on each kind's first finding, and by the tests).
_FLOW, _INDEX = "\x00flow\x00", "\x00index\x00"  # no stored text holds a NUL (`text`)
_FLOW_JSON, _INDEX_JSON = orjson.dumps(_FLOW), orjson.dumps(_INDEX)


@dataclass(slots=True, frozen=True)
class _Kind:
    row: dict[str, Any]  # packed as stored, flow and event index still to fill in
    head: bytes  # canonical JSON before the event index,
    middle: bytes  # between the event index and the flow id,
    tail: bytes  # and after the flow id


_KINDS: dict[tuple[Any, ...], _Kind | None] = {}
_KINDS_LIMIT = 8_192
_UNSEEN = object()


def _finding_json(flow_id: str) -> bytes | None:
    """The flow id as canonical JSON spells it, where plain concatenation is sure to give
    the same bytes (printable ASCII); None sends the request's findings the long way."""
    return orjson.dumps(flow_id) if flow_id.isascii() and flow_id.isprintable() else None


def _kind_of(key: tuple[Any, ...], flow_id: str, flow_json: bytes, f: Finding) -> _Kind | None:
    row = _finding_row(_FLOW, f)
    row["event_index"] = _INDEX
    head, found, rest = content_bytes(row).partition(_INDEX_JSON)
    middle, found_flow, tail = rest.partition(_FLOW_JSON)
    kind: _Kind | None = None
    if found and found_flow and _FLOW_JSON not in tail and _INDEX_JSON not in rest:
        row["flow_id"], row["event_index"] = flow_id, f.event_index
        expected = content_digest(row)
        pack_columns(row, FINDING_PACKING)
        kind = _Kind(row, head, middle, tail)
        if _digest(kind, flow_json, f.event_index) != expected:
            kind = None  # some value the concatenation spells differently: the long way
    if len(_KINDS) >= _KINDS_LIMIT:
        _KINDS.clear()
    _KINDS[key] = kind
    return kind


def _digest(kind: _Kind, flow_json: bytes, event_index: int | None) -> str:
    return hashlib.sha256(kind.head + orjson.dumps(event_index) + kind.middle + flow_json
                          + kind.tail).hexdigest()


def finding_rows(flow_id: str, findings: list[Finding]) -> list[tuple[dict[str, Any], str]]:
    """The findings' rows as stored (packed) with their content digests."""
    flow_json = _finding_json(flow_id)
    out = []
    for f in findings:
        if flow_json is not None:
            key = (f.rule, f.severity, f.detail, f.clause, f.event_name, f.product, f.field,
                   f.pii_kind, f.value)
            # One lookup: another thread (a proxy's) may clear the memory in between.
            kind = _KINDS.get(key, _UNSEEN)
            if kind is _UNSEEN:
                kind = _kind_of(key, flow_id, flow_json, f)
            if isinstance(kind, _Kind):
                row = kind.row.copy()
                row["flow_id"], row["event_index"] = flow_id, f.event_index
                out.append((row, _digest(kind, flow_json, f.event_index)))
                continue
        row = _finding_row(flow_id, f)
        digest = content_digest(row)
        pack_columns(row, FINDING_PACKING)
        out.append((row, digest))
    return out


#: Columns stored packed (`store.types.PackedText`), with their dictionaries. They are packed
#: here, after the digest is taken from the text, so that parallel replay packs in its
#: worker processes; the column type passes packed bytes through as they are.
EVENT_PACKING = (("cs", "cs"), ("level_reason", "reason"), ("purpose_reason", "reason"),
                 ("product_reason", "reason"))
FINDING_PACKING = (("detail", "detail"), ("clause", "clause"))
# A request's headers (`PackedJSON`) are packed the same way, from their stored JSON text.


def pack_columns(row: dict[str, Any], columns: tuple[tuple[str, str], ...]) -> None:
    for column, dictionary in columns:
        value = row.get(column)
        if isinstance(value, str):
            row[column] = pack(value, dictionary)


def rows_of(inspection: Inspection) -> RequestRows:
    req = inspection.request
    decoded = inspection.decoded
    body_digest = hashlib.sha256(req.body)
    request_row = {
        "flow_id": req.flow_id,
        "time": req.time,
        "method": text(req.method),
        "scheme": text(req.scheme),
        "host": text(req.host),
        "port": req.port,
        "path": text(req.path),
        "http_version": text(req.http_version),
        "headers": [[text(k), text(v)] for k, v in req.headers],
        "body": pack_body(req.body, decoded.content_encoding),
        "body_sha256": body_digest.hexdigest(),
        "body_size": len(req.body),
        "content_type": text(decoded.content_type),
        "content_encoding": text(decoded.content_encoding),
        "decode_status": decoded.status.value,
        "decode_error": text(decoded.error),
        "decode_offset": decoded.error_offset,
        "decoded_size": decoded.decoded_size,
        "event_count": len(decoded.events),
        "response_status": req.response_status,
        "error": text(req.error),
        "source": text(req.source),
        "action": req.action,
        "step": req.step,
    }
    severities: dict[int, list[Severity]] = {}
    violations = reviews = 0
    for f in inspection.findings:
        if f.event_index is not None:
            severities.setdefault(f.event_index, []).append(f.severity)
        if f.severity is Severity.VIOLATION:
            violations += 1
        else:
            reviews += 1
    event_rows = []
    for ev in decoded.events:
        row = {
            "flow_id": req.flow_id,
            "event_index": ev.index,
            "name": text(ev.name),
            "product": ev.product.value,
            "product_reason": text(ev.product_reason),
            "time": ev.time,
            "level": ev.level.value,
            "level_reason": text(ev.level_reason),
            "purpose": text(ev.purpose),
            "purpose_reason": text(ev.purpose_reason),
            "verdict": worst_verdict(severities.get(ev.index, ())).value,
            "wire_format": ev.wire_format,
            "ikey": text(ev.ikey),
            "app_ver": _ext_text(ev.ext, "app", "ver"),
            "os_ver": _ext_text(ev.ext, "os", "ver"),
            "pop_sample": ev.pop_sample,
            "cs": dumps(ev.to_cs()),
            "marks": dumps({
                path: {"pii_kind": m.pii_kind, "customer_content": m.customer_content}
                for path, m in ev.marks.items()
            }),
        }
        event_rows.append((row, content_digest(row)))
        pack_columns(row, EVENT_PACKING)
    request_digest = content_digest(request_row)
    # Stored as the column types store them, so the writer hands them on as they are.
    request_row["headers"] = pack(dumps(request_row["headers"]), "headers")
    request_row["body_sha256"] = body_digest.digest()
    return RequestRows(
        flow_id=req.flow_id,
        request=(request_row, request_digest),
        events=event_rows,
        findings=finding_rows(req.flow_id, inspection.findings),
        violations=violations,
        reviews=reviews,
        blocked=req.action == "blocked",
    )
