"""JSON for stored events: typed property values (datetimes, GUIDs, bytes) as text."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any


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


def dumps(value: Any) -> str:
    # ASCII escapes keep lone surrogates and NULs (valid in JSON text) storable anywhere.
    return json.dumps(value, default=_default, ensure_ascii=True, separators=(",", ":"))
