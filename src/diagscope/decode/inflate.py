"""Undo content encodings by looking at the bytes, within a hard size bound.

Clients label bodies inconsistently: the 1DS C++ SDK sends raw DEFLATE as `deflate` (no zlib
header, "as required by IIS") and, when configured for gzip, can still label the body
`deflate`. So the header is only a hint; the first bytes decide.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


class InflateError(ValueError):
    """The body claimed or looked compressed but could not be inflated within the bound."""


@dataclass(slots=True, frozen=True)
class Inflated:
    data: bytes
    encoding: str  # identity, gzip, zlib or deflate (raw)


def _bounded(data: bytes, wbits: int, limit: int, label: str) -> bytes:
    # Inflate in slices with max_length so a bomb never allocates more than `limit` bytes.
    d = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    while True:
        room = limit - len(out)
        chunk = d.decompress(pending, min(_CHUNK, room + 1))
        out += chunk
        if len(out) > limit:
            raise InflateError(f"{label} body inflates past the bound of {limit} bytes")
        pending = d.unconsumed_tail
        if d.eof:
            break
        if not pending and not chunk:
            # Input exhausted without an end-of-stream marker: the body was cut short.
            raise InflateError(f"{label} stream is truncated after {len(out)} bytes")
    if d.unused_data and wbits & 16 and d.unused_data[:2] == b"\x1f\x8b":
        # Concatenated gzip members are legal; inflate the rest within what is left.
        out += _bounded(d.unused_data, wbits, limit - len(out), label)
    return bytes(out)


def _looks_zlib(data: bytes) -> bool:
    if len(data) < 2:
        return False
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


def _looks_plain(data: bytes) -> bool:
    head = data[:16].lstrip()
    # A JSON event, a Bond CsProtocol record (`29 03` = field 1, string of 3 bytes: "4.0"),
    # or a marshalled Bond payload (`CB` magic).
    return head[:1] in (b"{", b"[") or data[:2] == b"\x29\x03" or data[:2] == b"CB"


def inflate(data: bytes, header: str | None, limit: int = DEFAULT_MAX_BODY_BYTES) -> Inflated:
    """Return the decoded body; raise InflateError when it cannot be decoded within `limit`."""
    if not data:
        return Inflated(b"", "identity")
    if data[:2] == b"\x1f\x8b":
        try:
            return Inflated(_bounded(data, 16 + zlib.MAX_WBITS, limit, "gzip"), "gzip")
        except zlib.error as exc:
            raise InflateError(f"gzip stream is damaged: {exc}") from exc
    if _looks_zlib(data):
        try:
            return Inflated(_bounded(data, zlib.MAX_WBITS, limit, "zlib"), "zlib")
        except zlib.error:
            pass  # a raw-deflate stream can begin with bytes that pass the zlib check
    label = (header or "").strip().lower()
    if _looks_plain(data) and label in ("", "identity"):
        if len(data) > limit:
            raise InflateError(f"body of {len(data)} bytes exceeds the bound of {limit} bytes")
        return Inflated(data, "identity")
    try:
        return Inflated(_bounded(data, -zlib.MAX_WBITS, limit, "raw deflate"), "deflate")
    except zlib.error as exc:
        if _looks_plain(data):
            if len(data) > limit:
                raise InflateError(
                    f"body of {len(data)} bytes exceeds the bound of {limit} bytes"
                ) from exc
            return Inflated(data, "identity")
        raise InflateError(
            f"body labelled {label or 'identity'!r} is neither plain nor gzip, zlib or raw "
            f"deflate: {exc}"
        ) from exc
