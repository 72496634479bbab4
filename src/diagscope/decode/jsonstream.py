"""Common Schema JSON events from an `application/x-json-stream` body (one event a line)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from diagscope.decode.detect import JSON_STREAM
from diagscope.decode.registry import decoder
from diagscope.model import PII_KINDS, Event, FieldMark

# `ext.metadata.f` packs a field's declared kind into one int: type in bits 0-4, PII kind in
# bits 5-12, customer content at bit 13 (1DS JS SDK `getCommonSchemaMetaData`).
_PII_SHIFT = 5
_PII_MASK = 0xFF
_CUSTOMER_CONTENT = 1 << 13


@dataclass(slots=True)
class JsonStreamResult:
    events: list[Event]
    error: str | None = None
    error_offset: int | None = None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 strings (JS SDK) and epoch milliseconds, as an aware UTC datetime."""
    if isinstance(value, str) and value:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _mark_of(t: Any) -> FieldMark | None:
    if not isinstance(t, int) or isinstance(t, bool):
        return None
    pii = (t >> _PII_SHIFT) & _PII_MASK
    customer = bool(t & _CUSTOMER_CONTENT)
    if not pii and not customer:
        return None
    kind = PII_KINDS.get(pii, f"PIIKind{pii}") if pii else None
    return FieldMark(pii_kind=kind, customer_content=customer)


def _walk_metadata(node: Any, prefix: str, marks: dict[str, FieldMark], depth: int = 0) -> None:
    if not isinstance(node, dict) or depth > 32:
        return
    fields = node.get("f")
    if not isinstance(fields, dict):
        return
    for name, meta in fields.items():
        if not isinstance(meta, dict):
            continue
        path = f"{prefix}.{name}"
        mark = _mark_of(meta.get("t"))
        if mark is None and isinstance(meta.get("a"), dict):
            mark = _mark_of(meta["a"].get("t"))
        if mark is not None:
            marks[_public_path(path)] = mark
        if "f" in meta:
            _walk_metadata(meta, path, marks, depth + 1)


def _public_path(path: str) -> str:
    # In the JSON form Part B sits inside `data`; users (and the Bond path) call it baseData.
    if path.startswith("data.baseData."):
        return path[len("data.") :]
    return path


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def event_from_json(obj: dict[str, Any], index: int) -> Event:
    ext = obj.get("ext")
    ext = dict(ext) if isinstance(ext, dict) else {}
    raw_data = obj.get("data")
    data = dict(raw_data) if isinstance(raw_data, dict) else {}
    # Some producers put baseType/baseData at the top level, the JS SDK nests them in data.
    base_type = data.pop("baseType", None) or obj.get("baseType")
    base_data = data.pop("baseData", None)
    if base_data is None:
        base_data = obj.get("baseData")
    marks: dict[str, FieldMark] = {}
    metadata = ext.get("metadata")
    if isinstance(metadata, dict):
        _walk_metadata(metadata, "data", marks)
    flags = obj.get("flags")
    pop = obj.get("popSample")
    tags = obj.get("tags")
    name = obj.get("name")
    return Event(
        index=index,
        name=name if isinstance(name, str) else "",
        time=parse_time(obj.get("time")),
        ver=str(obj["ver"]) if obj.get("ver") is not None else None,
        ikey=obj.get("iKey") if isinstance(obj.get("iKey"), str) else None,
        ext=ext,
        data=data,
        base_type=base_type if isinstance(base_type, str) else None,
        base_data=base_data if isinstance(base_data, dict) else {},
        flags=flags if isinstance(flags, int) and not isinstance(flags, bool) else None,
        cv=obj.get("cV") if isinstance(obj.get("cV"), str) else None,
        pop_sample=_number(pop),
        tags=tags if isinstance(tags, dict) else {},
        marks=marks,
        wire_format="json",
    )


# orjson reads a line in a third of the standard library's time and gives the same objects,
# except that it turns integers beyond 64 bits into floats (an identifier sent as a number
# would lose digits) and refuses what the standard library reads or rejects itself (lone
# surrogates, NaN, other encodings than UTF-8). Lines with a run of 19 digits anywhere go
# to the standard library, and so does any line orjson refuses: its result or its error
# is what the line gets.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _loads(line: bytes) -> Any:
    if _LONG_NUMBER.search(line) is None:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line)


@decoder(JSON_STREAM)
def decode_json_stream(body: bytes) -> JsonStreamResult:
    """Split on newlines; every non-blank line must be one JSON object.

    A line that is not JSON may still start a pretty-printed event (the Diagnostic Data
    Viewer's payloads, events pasted from it): from there the body is read as a sequence of
    JSON documents instead, objects or arrays of objects, separated by white space or commas.
    When that fails too, decoding stops at the bad line: the events before it are kept and
    the byte offset of the bad line is reported, so the evidence says where trust ends.
    """
    events: list[Event] = []
    offset = 0
    loads = _loads
    for line in body.split(b"\n"):
        line_start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            if _decode_documents(body, line_start, events):
                return JsonStreamResult(events)
            return JsonStreamResult(
                events, f"line at byte {line_start} is not valid JSON: {exc}", line_start
            )
        if not isinstance(obj, dict):
            if isinstance(obj, list) and _decode_documents(body, line_start, events):
                return JsonStreamResult(events)
            return JsonStreamResult(
                events, f"line at byte {line_start} is JSON but not an event object", line_start
            )
        events.append(event_from_json(obj, len(events)))
    return JsonStreamResult(events)


_SEPARATORS = " \t\r\n,"


def _decode_documents(body: bytes, start: int, events: list[Event]) -> bool:
    """Read `body[start:]` as JSON documents (objects, or arrays of objects) one after the
    other. Appends their events and returns True only when all of it reads; on failure
    `events` is left as it was."""
    try:
        text = body[start:].decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position, end = 0, len(text)
    try:
        while True:
            while position < end and text[position] in _SEPARATORS:
                position += 1
            if position >= end:
                break
            obj, position = decoder.raw_decode(text, position)
            items = obj if isinstance(obj, list) else [obj]
            if not items or not all(isinstance(item, dict) for item in items):
                return False
            found.extend(items)
    except (ValueError, RecursionError):
        return False
    if not found:
        return False
    for obj in found:
        events.append(event_from_json(obj, len(events)))
    return True
