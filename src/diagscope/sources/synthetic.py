"""Build mitmproxy flows that look like what a lab machine sends, for samples and benchmarks.

Everything is deterministic: flow ids come from a name, times from the caller, so the same
script produces byte-identical capture files.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mitmproxy import http

_NAMESPACE = uuid.UUID("5d1a3c7e-0b8f-4c1e-9a57-6f1c2b3d4e5f")
LAB_CLIENT = ("192.0.2.10", 50123)  # TEST-NET-1: a lab machine, never a real address
PROXY = ("192.0.2.1", 8080)


def flow_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def raw_deflate(data: bytes, level: int = 6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


#: A gzip member header with no name and no time (RFC 1952): XFL 2 (best compression), OS 3
#: (Unix). Written here rather than by `gzip.compress`, whose OS byte differs between Python
#: versions (3 from 3.11's, 255 from 3.13's), so the samples are the same bytes on every
#: Python.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"


def gzip_bytes(data: bytes) -> bytes:
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return _GZIP_HEADER + raw_deflate(data, 9) + trailer


def json_stream(events: Iterable[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(e, separators=(",", ":")) for e in events).encode("utf-8")


def make_flow(
    name: str,
    *,
    time: float,
    host: str,
    path: str,
    method: str = "POST",
    scheme: str = "https",
    port: int | None = None,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    status: int | None = 200,
    response_body: bytes = b'{"acc":1}',
    error: str | None = None,
) -> http.HTTPFlow:
    """One HTTP flow; `status=None` leaves it without a response (optionally with `error`)."""
    from mitmproxy import connection, http

    port = port or (443 if scheme == "https" else 80)
    client = connection.Client(
        peername=LAB_CLIENT, sockname=PROXY, timestamp_start=time,
        id=flow_id(name + "/client"),
    )
    server = connection.Server(
        address=(host, port), timestamp_start=time, id=flow_id(name + "/server"),
    )
    flow = http.HTTPFlow(client, server)
    flow.id = flow_id(name)
    flow.timestamp_created = time
    fields = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    flow.request = http.Request(
        host, port, method.encode(), scheme.encode(), b"", path.encode(), b"HTTP/1.1",
        http.Headers(fields), body, None, time, time + 0.002,
    )
    if status is not None:
        flow.response = http.Response(
            b"HTTP/1.1", status, http.status_codes.RESPONSES.get(status, "").encode(),
            http.Headers(((b"Content-Type", b"application/json"),)), response_body, None,
            time + 0.05, time + 0.06,
        )
    if error is not None:
        from mitmproxy.flow import Error

        flow.error = Error(error, time + 0.1)
    return flow


def write_capture(path: str, flows: Iterable[http.HTTPFlow]) -> int:
    from mitmproxy.io import FlowWriter

    count = 0
    with open(path, "wb") as fo:
        writer = FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
            count += 1
    return count
