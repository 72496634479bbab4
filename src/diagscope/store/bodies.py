"""A request's raw body as the store keeps it: DEFLATE-compressed when that makes it
smaller, always read back byte for byte.

Bodies sent without a content encoding (JSON streams above all) are most of what a run
stores; compressed they take a fraction of the room. The stored value tells itself apart
by its length: `body_size` is the length of the body as sent, and a body is only stored
packed when the packed form is shorter, so a stored value shorter than `body_size` is
packed and one of exactly that length is the body itself (every row written before
packing existed). A packed value that does not inflate to `body_size` bytes is handed back
as stored: `verify` then finds it no longer matches its `body_sha256`, as any edit should.
"""

from __future__ import annotations

import zlib

#: Bodies already compressed on the wire do not shrink again; trying costs time.
_COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress"})
#: Below this, DEFLATE's own framing eats the gain.
_SMALLEST = 64


def pack_body(raw: bytes, content_encoding: str | None) -> bytes:
    """What to store for `raw`: its raw DEFLATE stream when shorter, else `raw` itself."""
    if len(raw) < _SMALLEST or (content_encoding or "").strip().lower() in _COMPRESSED_ENCODINGS:
        return raw
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = packer.compress(raw) + packer.flush()
    return packed if len(packed) < len(raw) else raw


def restore_body(stored: bytes | memoryview, body_size: int) -> bytes:
    """The body as sent, from what `pack_body` stored for it."""
    data = bytes(stored)
    if len(data) >= body_size:
        return data
    try:
        unpacker = zlib.decompressobj(-15)
        raw = unpacker.decompress(data, body_size + 1)
    except zlib.error:
        return data
    return raw if len(raw) == body_size and unpacker.eof else data
