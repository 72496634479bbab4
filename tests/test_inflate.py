import gzip
import zlib

import pytest

from diagscope.decode.inflate import InflateError, inflate
from diagscope.sources.synthetic import raw_deflate

PAYLOAD = b'{"name":"Office.Test","ver":"4.0"}\n' * 50


@pytest.mark.parametrize(
    ("encoded", "header", "expected_encoding"),
    [
        (PAYLOAD, None, "identity"),
        (gzip.compress(PAYLOAD), "gzip", "gzip"),
        (zlib.compress(PAYLOAD), "deflate", "zlib"),
        (raw_deflate(PAYLOAD), "deflate", "deflate"),
        # The C++ SDK configured for gzip can still label its body "deflate".
        (gzip.compress(PAYLOAD), "deflate", "gzip"),
        # Headers lie or go missing; the bytes decide.
        (raw_deflate(PAYLOAD), None, "deflate"),
        (gzip.compress(PAYLOAD), None, "gzip"),
        (PAYLOAD, "gzip", "identity"),
    ],
)
def test_every_encoding_is_recognised_by_its_bytes(encoded, header, expected_encoding):
    result = inflate(encoded, header)
    assert result.data == PAYLOAD
    assert result.encoding == expected_encoding


def test_concatenated_gzip_members_are_all_inflated():
    body = gzip.compress(b"first\n") + gzip.compress(b"second\n")
    assert inflate(body, "gzip").data == b"first\nsecond\n"


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress, raw_deflate])
def test_truncated_compressed_body_is_an_error(compress):
    body = compress(PAYLOAD * 20)
    with pytest.raises(InflateError, match="truncated"):
        inflate(body[: len(body) // 2], "deflate")


def test_garbage_is_an_error_not_a_crash():
    with pytest.raises(InflateError):
        inflate(b"\xff\xfe\x00\x01garbage that is not deflate", "deflate")


def test_decompression_bomb_stops_at_the_bound_without_inflating_it_all():
    bomb = raw_deflate(b"\0" * (200 * 1024 * 1024))  # 200 MiB of zeros, ~200 KiB on the wire
    assert len(bomb) < 1024 * 1024
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(InflateError, match="bound"):
        inflate(bomb, "deflate", limit=4 * 1024 * 1024)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Never more than the bound plus one slice in memory, far from the 200 MiB it would be.
    assert peak < 8 * 1024 * 1024


def test_plain_body_over_the_bound_is_refused():
    with pytest.raises(InflateError, match="exceeds"):
        inflate(b"{" + b" " * 2000, None, limit=1000)


def test_empty_body():
    assert inflate(b"", "gzip").data == b""


def test_damaged_gzip_is_an_inflate_error_not_a_crash():
    import gzip

    from diagscope.decode.inflate import InflateError, inflate

    body = bytearray(gzip.compress(b'{"name": "Office.Word.FileOpen"}\n' * 50))
    body[20:26] = b"\x00" * 6
    with pytest.raises(InflateError, match="gzip stream is damaged"):
        inflate(bytes(body), "gzip")
