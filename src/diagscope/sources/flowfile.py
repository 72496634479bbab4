"""Requests straight from a mitmproxy flow file, without building mitmproxy flows.

A flow file is a sequence of tnetstrings (`<length>:<payload><type>`), one dict per flow.
Replay needs only the request (method, URL parts, headers, body, start time), the
response's status code and the error message; mitmproxy's `FlowReader` parses every value
of every flow (responses, connections, certificates) and builds full `Flow` objects with
their type checks, which was the largest single cost of replay. Here the length prefixes
are used to skip what is not needed, and only the request is parsed.

What comes out is exactly what `request_from_flow(FlowReader(...))` gives (tested on every
capture the project holds). Flows of another format version than the installed
mitmproxy's go through mitmproxy's own migration and `Flow.from_state`, so older files read
the same; anything this reader does not understand is left to `FlowReader`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from mitmproxy.net.http import url
from mitmproxy.version import FLOW_FORMAT_VERSION

from diagscope.model import Request


class FlowFileError(ValueError):
    """The file stops being a sequence of flow records here."""


_MAX_LENGTH_DIGITS = 12


def read_record(fo: BinaryIO) -> bytes | None:
    """The payload and type byte of the next top-level tnetstring (a flow's dict); None at
    a clean end of the file."""
    head = fo.read(1)
    if not head:
        return None
    digits = b""
    while head.isdigit():
        digits += head
        if len(digits) > _MAX_LENGTH_DIGITS:
            raise FlowFileError("not a tnetstring: absurdly large length prefix")
        head = fo.read(1)
    if head != b":" or not digits:
        raise FlowFileError("not a tnetstring: missing or invalid length prefix")
    length = int(digits)
    body = fo.read(length + 1)
    if len(body) != length + 1:
        raise FlowFileError("not a tnetstring: the record is cut short")
    if body[-1:] != b"}":
        raise FlowFileError("a flow record is not a dictionary")
    return body


def _span(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(start, end, type byte) of the tnetstring at `pos`; its payload is buf[start:end]."""
    colon = buf.index(b":", pos, pos + _MAX_LENGTH_DIGITS + 1)
    start = colon + 1
    end = start + int(buf[pos:colon])
    return start, end, buf[end]


_BYTES, _TEXT, _INT, _FLOAT, _BOOL, _NULL, _DICT, _LIST = b",;#^!~}]"


def _value(buf: bytes, start: int, end: int, kind: int) -> Any:
    if kind == _BYTES:
        return buf[start:end]
    if kind == _TEXT:
        return buf[start:end].decode("utf-8")
    if kind == _INT:
        return int(buf[start:end])
    if kind == _FLOAT:
        return float(buf[start:end])
    if kind == _BOOL:
        return buf[start:end] == b"true"
    if kind == _NULL:
        return None
    if kind == _DICT:
        return dict(_items(buf, start, end))
    if kind == _LIST:
        out = []
        pos = start
        while pos < end:
            s, e, k = _span(buf, pos)
            out.append(_value(buf, s, e, k))
            pos = e + 1
        return out
    raise FlowFileError(f"unknown tnetstring type {chr(kind)!r}")


def _entries(buf: bytes, start: int, end: int
             ) -> Iterator[tuple[bytes, int, tuple[int, int, int]]]:
    """(key, key type byte, value span) of each entry of a dict payload, in order; values
    are not parsed."""
    pos = start
    while pos < end:
        ks, ke, kk = _span(buf, pos)
        value = _span(buf, ke + 1)
        pos = value[1] + 1
        yield buf[ks:ke], kk, value


def _items(buf: bytes, start: int, end: int, wanted: frozenset[bytes] | None = None
           ) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs of a dict payload; with `wanted`, values of other keys are
    skipped by their length, unparsed."""
    for key, kind, value in _entries(buf, start, end):
        if wanted is None or key in wanted:
            yield (key.decode("utf-8") if kind == _TEXT else key.decode("latin-1")), \
                _value(buf, *value)


def _spans(buf: bytes, start: int, end: int, wanted: frozenset[bytes]
           ) -> dict[bytes, tuple[int, int, int]]:
    """The spans (start, end, type byte) of a dict payload's `wanted` values, by key."""
    return {key: value for key, _, value in _entries(buf, start, end) if key in wanted}


def _dict_of(buf: bytes, span: tuple[int, int, int] | None, wanted: frozenset[bytes]
             ) -> dict[str, Any] | None:
    """The `wanted` keys of the dict at `span`; None when it is absent or not a dict."""
    if span is None or span[2] != _DICT:
        return None if span is None or span[2] == _NULL else _value(buf, *span)
    return dict(_items(buf, span[0], span[1], wanted))


_TOP = frozenset({b"version", b"type", b"id", b"request", b"response", b"error"})
#: What `_request` reads; trailers, end times and the rest are skipped.
_REQUEST = frozenset({b"headers", b"http_version", b"authority", b"host", b"timestamp_start",
                      b"method", b"scheme", b"port", b"path", b"content"})
_RESPONSE = frozenset({b"status_code"})
_ERROR = frozenset({b"msg"})


def _request(state: dict[str, Any], flow_id: str, response_status: int | None,
             error: str | None, source: str | None) -> Request:
    raw_headers: list[list[bytes]] = state["headers"]
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
    http_version: bytes = state["http_version"]
    host_header = next((v for k, v in raw_headers if k.lower() == b"host"), None)
    authority: bytes = state.get("authority") or b""
    if http_version in (b"HTTP/2.0", b"HTTP/3") and authority:
        try:
            shown = authority.decode("idna")
        except UnicodeError:
            shown = authority.decode("utf8", "surrogateescape")
        pretty_host = url.parse_authority(shown, check=False)[0]
    elif host_header is not None:
        pretty_host = url.parse_authority(host_header.decode("utf-8", "surrogateescape"),
                                          check=False)[0]
    else:
        pretty_host = state["host"]
    return Request(
        flow_id=flow_id,
        time=datetime.fromtimestamp(state.get("timestamp_start") or 0, tz=UTC),
        method=state["method"].decode("utf-8", "surrogateescape").upper(),
        scheme=state["scheme"].decode("utf-8", "surrogateescape"),
        host=pretty_host,
        port=state["port"],
        path=state["path"].decode("utf-8", "surrogateescape"),
        headers=headers,
        body=state.get("content") or b"",
        http_version=http_version.decode("utf-8", "surrogateescape"),
        response_status=response_status,
        error=error,
        source=source,
    )


def request_of_record(record: bytes, source: str | None = None) -> Request | None:
    """The request of one flow record; None for flows that are not HTTP."""
    top = _spans(record, 0, len(record) - 1, _TOP)
    version = top.get(b"version")
    if version is None or _value(record, *version) != FLOW_FORMAT_VERSION:
        return _migrated(record, source)
    kind = top.get(b"type")
    if kind is None or _value(record, *kind) != "http":
        return None
    response = _dict_of(record, top.get(b"response"), _RESPONSE)
    error = _dict_of(record, top.get(b"error"), _ERROR)
    return _request(_dict_of(record, top[b"request"], _REQUEST) or {},
                    _value(record, *top[b"id"]),
                    response.get("status_code") if isinstance(response, dict) else None,
                    error.get("msg") if isinstance(error, dict) else None, source)


def _migrated(record: bytes, source: str | None) -> Request | None:
    """A flow of another format version, read the way mitmproxy reads it."""
    from mitmproxy import flow as mflow
    from mitmproxy import http
    from mitmproxy.io import compat, tnetstring

    from diagscope.sources.flows import request_from_flow

    state = tnetstring.loads(_as_tnetstring(record))
    loaded = mflow.Flow.from_state(compat.migrate_flow(state))  # type: ignore[arg-type]
    return request_from_flow(loaded, source) if isinstance(loaded, http.HTTPFlow) else None


def _as_tnetstring(payload: bytes) -> bytes:
    """`read_record` returns payload and type byte; put the length prefix back."""
    return str(len(payload) - 1).encode() + b":" + payload
