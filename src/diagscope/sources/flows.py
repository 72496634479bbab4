"""mitmproxy flows (live, or from `.mitm` and HAR files) as diagscope Requests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from diagscope.model import Request
from diagscope.sources.flowfile import FlowFileError, read_record, request_of_record
from diagscope.sources.registry import FALLBACK_ORDER, register_source

if TYPE_CHECKING:
    # Replay reads flow files without mitmproxy's flow classes (`flowfile`); they are
    # imported where a flow object is really made, which keeps mitmproxy's start-up cost
    # (TLS, certificates, filter grammar) out of every replay.
    from mitmproxy import http


def request_from_flow(flow: http.HTTPFlow, source: str | None = None) -> Request:
    """The request exactly as the client sent it: raw (still encoded) body, header order kept."""
    req = flow.request
    headers = [
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers.fields
    ]
    error = flow.error.msg if flow.error else None
    return Request(
        flow_id=flow.id,
        time=datetime.fromtimestamp(req.timestamp_start or 0, tz=UTC),
        method=req.method,
        scheme=req.scheme,
        host=req.pretty_host,
        port=req.port,
        path=req.path,
        headers=headers,
        body=req.raw_content or b"",
        http_version=req.http_version,
        response_status=flow.response.status_code if flow.response else None,
        error=error,
        source=source,
    )


@dataclass(slots=True)
class CaptureDamage:
    """Why reading a capture stopped early, and how far it got."""

    path: str
    flows_read: int
    message: str


class CaptureReader:
    """Streams HTTP flows from a `.mitm` file; damage ends the stream and is recorded.

    Iterating yields mitmproxy flows; `requests()` yields diagscope Requests, which is what
    every capture source offers to replay.
    """

    kind = "mitm"

    def __init__(self, path: str | Path, start: int = 0, end: int | None = None) -> None:
        """`start` and `end` (byte offsets of flow records) read one range of the file, a
        unit of parallel replay; by default the whole file is read."""
        self.path = str(path)
        self.damage: CaptureDamage | None = None
        self.flows_read = 0
        self.position = start  # bytes of the file consumed so far, for progress display
        self.warnings: list[str] = []
        self.start, self.end = start, end

    def requests(self) -> Iterator[Request]:
        """The requests of the file's HTTP flows, read straight from the records
        (`flowfile`); a file that does not start like a flow file goes through
        mitmproxy's FlowReader, which also reads HAR."""
        with open(self.path, "rb") as probe:
            probe.seek(self.start)
            first = probe.read(4)
        if first[:1] == b"{" or first.startswith(b"\xef\xbb\xbf{"):
            for flow in self:
                yield request_from_flow(flow, source=self.path)
            return
        try:
            with open(self.path, "rb") as fo:
                fo.seek(self.start)
                while self.end is None or fo.tell() < self.end:
                    record = read_record(fo)
                    if record is None:
                        break
                    request = request_of_record(record, self.path)
                    self.flows_read += 1
                    self.position = fo.tell()
                    if request is not None:
                        yield request
        except (FlowFileError, ValueError, KeyError, IndexError, TypeError,
                AttributeError) as exc:
            # What FlowReader calls it: the file is no (longer a) flow file from here.
            detail = "Invalid data format." if not isinstance(exc, FlowFileError) or \
                "tnetstring" in str(exc) else str(exc)
            self.damage = CaptureDamage(self.path, self.flows_read, detail)
        except OSError as exc:
            self.damage = CaptureDamage(self.path, self.flows_read, exc.strerror or str(exc))

    def __iter__(self) -> Iterator[http.HTTPFlow]:
        from mitmproxy import exceptions, http
        from mitmproxy.io import FlowReader

        try:
            with open(self.path, "rb") as fo:
                fo.seek(self.start)
                source = fo if self.end is None else _Window(fo, self.end)
                for flow in FlowReader(source).stream():  # type: ignore[arg-type]
                    self.flows_read += 1
                    self.position = fo.tell()
                    if isinstance(flow, http.HTTPFlow):
                        yield flow
        except exceptions.FlowReadException as exc:
            self.damage = CaptureDamage(self.path, self.flows_read, str(exc) or "unreadable data")
        except OSError as exc:
            self.damage = CaptureDamage(self.path, self.flows_read, exc.strerror or str(exc))


def frame_offsets(path: str | Path) -> tuple[list[int], int]:
    """Start offsets of the top-level records of a flow file, and where clean framing ends.

    A flow file is a sequence of tnetstrings (`<length>:<payload><type>`), so records can be
    found by their length prefixes without parsing them; parallel replay uses this to hand
    out ranges of a large file. Framing that breaks (a truncated or corrupt file) ends the
    list; the returned end offset is then less than the file size.
    """
    offsets: list[int] = []
    size = os.path.getsize(path)
    with open(path, "rb") as fo:
        pos = 0
        while pos < size:
            fo.seek(pos)
            head = fo.read(12)
            colon = head.find(b":")
            if colon <= 0 or not head[:colon].isdigit():
                break
            end = pos + colon + 1 + int(head[:colon]) + 1
            if end > size:
                break
            offsets.append(pos)
            pos = end
    return offsets, pos


class _Window:
    """A read-only view of a file that ends at `end`, so FlowReader stops there."""

    def __init__(self, fo, end: int | None) -> None:
        self.fo, self.end = fo, end

    def _room(self, n: int) -> int:
        if self.end is None:
            return n
        left = max(0, self.end - self.fo.tell())
        return left if n < 0 else min(n, left)

    def read(self, n: int = -1) -> bytes:
        return self.fo.read(self._room(n))

    def readline(self, n: int = -1) -> bytes:
        return self.fo.readline(self._room(n))

    def peek(self, n: int = 1) -> bytes:
        return self.fo.peek(n)[: self._room(n)]

    def tell(self) -> int:
        return self.fo.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.fo.seek(pos, whence)


# Last: whatever no other format recognised is read as mitmproxy flows, which names the
# damage when the file is none.
register_source("mitm", order=FALLBACK_ORDER, sniff=lambda _path, _head: True,
                reader=lambda path, _head: CaptureReader(path))
