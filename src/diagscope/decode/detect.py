"""Which requests are telemetry, and what content type they carry."""

from __future__ import annotations

import re
from collections.abc import Container
from urllib.parse import parse_qsl, urlsplit

from diagscope.model import Request

JSON_STREAM = "application/x-json-stream"
BOND_COMPACT = "application/bond-compact-binary"

_COLLECTOR_PATH = re.compile(r"/(?:onecollector/1\.0|collector/3\.0)(?:/|$|\?)", re.IGNORECASE)


def is_collector_path(path: str) -> bool:
    return _COLLECTOR_PATH.search(urlsplit(path).path + "/") is not None


def is_telemetry(request: Request, telemetry_hosts: Container[str] = ()) -> bool:
    """A POST to a 1DS collector path on any host, or to a host the policy lists."""
    if request.method.upper() != "POST":
        return False
    return is_collector_path(request.path) or request.host.lower() in telemetry_hosts


def query_params(path: str) -> dict[str, str]:
    """Query parameters with lower-cased names (the SDKs disagree on case)."""
    query = urlsplit(path).query
    return {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    media = value.split(";", 1)[0].strip().lower()
    return media or None


def declared_content_type(request: Request) -> str | None:
    """The content type the client meant: the query string wins over the header.

    The JS SDK in CORS mode sends `?cors=true&content-type=application/x-json-stream` with a
    `text/plain` header, and legacy Aria JS uses `qsp=true&content-type=...`.
    """
    from_query = _media_type(query_params(request.path).get("content-type"))
    if from_query:
        return from_query
    return _media_type(request.header("content-type"))


def sniff_content_type(body: bytes) -> str | None:
    """Guess from decoded bytes: a JSON event starts with `{`, a Bond record with `29 03`."""
    if body[:2] == b"\x29\x03" or body[:2] == b"CB":
        return BOND_COMPACT
    if body.lstrip()[:1] == b"{":
        return JSON_STREAM
    return None


def effective_content_type(declared: str | None, body: bytes) -> str | None:
    if declared in (JSON_STREAM, BOND_COMPACT):
        return declared
    if declared in ("application/json", "text/json"):
        return JSON_STREAM
    # text/plain, application/octet-stream, missing: not conclusive, look at the body.
    return sniff_content_type(body) or declared
