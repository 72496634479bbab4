"""Every JSON the store writes, in one place: stored JSON, and canonical JSON for digests.

Two encodings, side by side because they answer different questions:

- `dumps` is what a database stores (JSON columns, an event's Common Schema text): compact,
  typed property values kept readable (datetimes as ISO text, GUIDs as text, bytes as
  base64), any value at all storable.
- `canonical` is what the hash chain digests: sorted keys, no whitespace, UTF-8, datetimes
  in UTC, bytes as their SHA-256, and nothing else that is not JSON. The same row must give
  the same bytes in every version, or stored evidence stops verifying; tests pin them.

Both use orjson for speed and fall back to the standard library for what orjson refuses
(integers beyond 64 bits, deep nesting; for stored JSON also lone surrogates).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

# Stored JSON --------------------------------------------------------------------------


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


_STORED_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any) -> str:
    """Compact JSON any database stores: NULs escaped, never a lone surrogate."""
    try:
        return orjson.dumps(value, default=_stored, option=_STORED_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError:
        # orjson refuses lone surrogates (valid in JSON text, not in UTF-8), integers
        # beyond 64 bits and deep nesting; ASCII escapes keep all of them storable.
        return json.dumps(value, default=_stored, ensure_ascii=True, separators=(",", ":"))


# Canonical JSON for digests -------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # The store reads every time back aware (UtcDateTime); a naive one has no
            # defined instant, and guessing would give a digest nobody can reproduce.
            raise TypeError("cannot put a datetime without a time zone in the chain")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    raise TypeError(f"cannot put {type(value).__name__} in the chain")


_canonical_stdlib = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical
).encode
#: Datetimes pass through to `_canonical`, which turns them into UTC first: the same
#: instant gives the same text whatever zone it was written or read in.
_CANONICAL_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def canonical(content: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, times in UTC, bytes as their SHA-256."""
    try:
        return orjson.dumps(content, default=_canonical, option=_CANONICAL_OPTIONS)
    except orjson.JSONEncodeError:
        # What orjson refuses (integers beyond 64 bits, deep nesting) the standard library
        # encodes; either way the same row always gives the same bytes.
        return _canonical_stdlib(content).encode("utf-8")
