"""Fiddler `.saz` archives: the capture format Microsoft documents for inspecting 1DS traffic.

A SAZ is a zip holding, per session NN, `raw/NN_c.txt` (the request as sent: request line,
headers, body), `raw/NN_s.txt` (the response) and `raw/NN_m.xml` (timers and flags). Bodies
are kept exactly as Fiddler stored them, except that a chunked transfer encoding is undone:
diagscope's decoder undoes content encodings itself.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from diagscope.model import Request
from diagscope.sources.flows import CaptureDamage
from diagscope.sources.registry import register_source

_SESSION = re.compile(r"^raw/(\d+)_c\.txt$", re.IGNORECASE)
_NAMESPACE = uuid.UUID("8a1d2f3e-4b5c-4d6e-9f70-1a2b3c4d5e6f")


class SazError(ValueError):
    pass


def is_saz(path: str | Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(_SESSION.match(n) for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def dechunk(body: bytes) -> tuple[bytes, str | None]:
    """Undo `Transfer-Encoding: chunked`; returns what could be read and an error, if any."""
    out = bytearray()
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), "chunked body ends without its final chunk"
        size_text = body[pos:end].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), f"bad chunk size {size_text[:20]!r}"
        pos = end + 2
        if size == 0:
            return bytes(out), None
        if pos + size > len(body):
            out += body[pos:]
            return bytes(out), "chunked body is truncated"
        out += body[pos : pos + size]
        pos += size + 2


def parse_request(raw: bytes) -> tuple[str, str, str, list[tuple[str, str]], bytes, str | None]:
    """(method, url, version, headers, body, error) of a raw HTTP/1.x request."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    if not lines:
        raise SazError("empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].upper().startswith("HTTP/"):
        raise SazError(f"bad request line {lines[0][:80]!r}")
    method, target, version = parts
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise SazError(f"bad header line {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    lookup = {k.lower(): v for k, v in headers}
    error = None
    if "chunked" in lookup.get("transfer-encoding", "").lower():
        body, error = dechunk(body)
    elif "content-length" in lookup:
        try:
            length = int(lookup["content-length"])
        except ValueError:
            length = len(body)
        if length > len(body):
            error = f"body is {len(body)} bytes, Content-Length says {length}"
        body = body[:length]
    if not target.lower().startswith(("http://", "https://")):
        scheme = "https" if lookup.get("host", "").endswith(":443") else "http"
        target = f"{scheme}://{lookup.get('host', 'unknown')}{target}"
    return method, target, version.upper(), headers, body, error


def _time(zf: zipfile.ZipFile, number: str, fallback: datetime) -> datetime:
    name = next((n for n in zf.namelist() if n.lower() == f"raw/{number}_m.xml"), None)
    if name is None:
        return fallback
    try:
        root = ET.fromstring(zf.read(name))
    except ET.ParseError:
        return fallback
    timers = root.find("SessionTimers")
    text = timers.get("ClientBeginRequest") if timers is not None else None
    if not text:
        return fallback
    # .NET writes seven fractional digits; Python reads at most six.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return fallback
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _status(zf: zipfile.ZipFile, number: str) -> int | None:
    name = next((n for n in zf.namelist() if n.lower() == f"raw/{number}_s.txt"), None)
    if name is None:
        return None
    first = zf.read(name)[:200].split(b"\r\n", 1)[0].split(b" ")
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


class SazReader:
    kind = "saz"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.damage: CaptureDamage | None = None
        self.flows_read = 0
        self.position = 0
        self.warnings: list[str] = []

    def requests(self) -> Iterator[Request]:
        digest = hashlib.sha256(Path(self.path).read_bytes()).hexdigest()
        size = Path(self.path).stat().st_size
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.damage = CaptureDamage(self.path, 0, f"not a readable SAZ archive: {exc}")
            return
        with zf:
            sessions = sorted(
                ((m.group(1), n) for n in zf.namelist() if (m := _SESSION.match(n))),
                key=lambda item: int(item[0]),
            )
            for i, (number, name) in enumerate(sessions):
                self.position = size * (i + 1) // max(1, len(sessions))
                info = zf.getinfo(name)
                fallback = datetime(*info.date_time, tzinfo=UTC)
                try:
                    raw = zf.read(name)
                    method, url, version, headers, body, error = parse_request(raw)
                except (SazError, zipfile.BadZipFile, OSError) as exc:
                    self.warnings.append(f"{self.path}: session {number} skipped: {exc}")
                    continue
                self.flows_read += 1
                if method.upper() == "CONNECT":
                    continue  # the tunnel itself; the requests inside are their own sessions
                parts = urlsplit(url)
                port = parts.port or (443 if parts.scheme == "https" else 80)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                yield Request(
                    flow_id=str(uuid.uuid5(_NAMESPACE, f"{digest}/{number}")),
                    time=_time(zf, number, fallback), method=method.upper(),
                    scheme=parts.scheme or "http", host=parts.hostname or "unknown",
                    port=port, path=path or "/", headers=headers, body=body,
                    http_version=version, response_status=_status(zf, number), error=error,
                    source=self.path,
                )


register_source("saz", order=20,
                sniff=lambda path, head: head.startswith(b"PK\x03\x04") and is_saz(path),
                reader=lambda path, _head: SazReader(path))
