"""HAR files (browser developer tools, Fiddler, Charles) as Requests.

mitmproxy's HAR reader re-encodes request bodies as text, which corrupts compressed and
Bond telemetry, so requests are read here: `postData.text` as stored, base64-decoded when
the exporter marked it (`encoding: base64`, as Fiddler and Charles do). Browsers store
binary bodies as text they have already damaged; a warning says so.

Entries are read one at a time from the file (ijson), so a HAR of any size is replayed in
constant memory, and a file cut off part-way keeps every entry before the damage.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ijson

from diagscope.decode.jsonstream import parse_time
from diagscope.model import Request
from diagscope.sources.flows import CaptureDamage
from diagscope.sources.registry import register_source

HAR_WARNING = (
    "{path} is a HAR file: browsers often store binary request bodies as text, which damages "
    "compressed and Bond telemetry; prefer a mitmproxy (.mitm) or Fiddler (.saz) capture."
)
_NAMESPACE = uuid.UUID("3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7")


def looks_like_har(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"{") and b'"log"' in head


class HarReader:
    kind = "har"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.damage: CaptureDamage | None = None
        self.flows_read = 0
        self.position = 0
        self.warnings = [HAR_WARNING.format(path=self.path)]

    def requests(self) -> Iterator[Request]:
        digest = _sha256_of_file(self.path)
        with open(self.path, "rb") as fo:
            if fo.read(3) != b"\xef\xbb\xbf":
                fo.seek(0)
            entries = ijson.items(fo, "log.entries.item", use_float=True)
            number = 0
            while True:
                try:
                    entry = next(entries)
                except StopIteration:
                    return
                except (ijson.JSONError, ValueError) as exc:
                    what = "not a readable HAR file" if number == 0 else "damaged HAR file"
                    self.damage = CaptureDamage(self.path, self.flows_read, f"{what}: {exc}")
                    return
                self.flows_read += 1
                self.position = fo.tell()
                request = self._request(entry, number, digest)
                number += 1
                if request is not None:
                    yield request

    def _request(self, entry: Any, number: int, digest: str) -> Request | None:
        try:
            request = entry["request"]
            parts = urlsplit(request["url"])
            post = request.get("postData") or {}
            text = post.get("text") or ""
            if post.get("encoding") == "base64":
                body = base64.b64decode(text)
            else:
                body = text.encode("latin-1", errors="replace") \
                    if all(ord(c) < 256 for c in text) else text.encode("utf-8")
            headers = [(h["name"], h["value"]) for h in request.get("headers", [])
                       if not h["name"].startswith(":")]
            status = (entry.get("response") or {}).get("status")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            time = parse_time(entry.get("startedDateTime")) or datetime.fromtimestamp(0, UTC)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.warnings.append(f"{self.path}: entry {number} skipped: {exc!r}")
            return None
        return Request(
            flow_id=str(uuid.uuid5(_NAMESPACE, f"{digest}/{number}")),
            time=time,
            method=str(request.get("method", "GET")).upper(),
            scheme=parts.scheme or "https", host=parts.hostname or "unknown",
            port=port,
            path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            headers=headers, body=body,
            http_version=str(request.get("httpVersion", "HTTP/1.1")).upper(),
            response_status=status if isinstance(status, int) and status > 0 else None,
            source=self.path,
        )


def _sha256_of_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fo:
        while chunk := fo.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


register_source("har", order=30, sniff=lambda _path, head: looks_like_har(head),
                reader=lambda path, _head: HarReader(path))
