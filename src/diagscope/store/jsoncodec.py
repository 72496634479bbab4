"""JSON for stored events: typed property values (datetimes, GUIDs, bytes) as text."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any) -> str:
    """Compact JSON any database stores: NULs escaped, never a lone surrogate."""
    try:
        return orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError:
        # orjson refuses lone surrogates (valid in JSON text, not in UTF-8), integers
        # beyond 64 bits and deep nesting; ASCII escapes keep all of them storable.
        return json.dumps(value, default=_default, ensure_ascii=True, separators=(",", ":"))
