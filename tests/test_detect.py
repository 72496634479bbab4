import pytest

from diagscope.decode.detect import (
    BOND_COMPACT,
    JSON_STREAM,
    declared_content_type,
    effective_content_type,
    is_telemetry,
)
from diagscope.model import Request


def req(path="/OneCollector/1.0/", method="POST", host="self.events.data.microsoft.com",
        headers=()):
    from datetime import UTC, datetime

    return Request("f", datetime.now(UTC), method, "https", host, 443, path, list(headers), b"")


@pytest.mark.parametrize(
    "path",
    [
        "/OneCollector/1.0/",
        "/onecollector/1.0",
        "/ONECOLLECTOR/1.0/?cors=true&content-type=application/x-json-stream",
        "/Collector/3.0/?qsp=true&content-type=application/bond-compact-binary",
        "/collector/3.0",
    ],
)
def test_collector_paths_on_any_host_are_telemetry(path):
    assert is_telemetry(req(path=path, host="collector.example.org"))


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/OneCollector/1.0/", "GET"),
        ("/OneCollector/1.01/", "POST"),
        ("/config/v1/Office", "POST"),
        ("/api/OneCollector/1.0x", "POST"),
    ],
)
def test_other_requests_are_not_telemetry(path, method):
    assert not is_telemetry(req(path=path, method=method))


def test_policy_listed_hosts_are_telemetry_on_any_path():
    r = req(path="/collect/v1", host="v10.vortex-win.data.microsoft.com")
    assert not is_telemetry(r)
    assert is_telemetry(r, {"v10.vortex-win.data.microsoft.com"})


def test_query_string_content_type_wins_over_the_header():
    r = req(
        path="/OneCollector/1.0/?cors=true&content-type=application/x-json-stream",
        headers=[("Content-Type", "text/plain;charset=UTF-8")],
    )
    assert declared_content_type(r) == JSON_STREAM


def test_legacy_aria_query_string():
    r = req(path="/Collector/3.0/?qsp=true&content-type=application/bond-compact-binary&x-apikey=k")
    assert declared_content_type(r) == BOND_COMPACT


def test_header_content_type_with_parameters():
    r = req(headers=[("content-type", "Application/X-JSON-Stream; charset=utf-8")])
    assert declared_content_type(r) == JSON_STREAM


@pytest.mark.parametrize(
    ("declared", "body", "expected"),
    [
        ("text/plain", b'{"name":"x"}', JSON_STREAM),
        (None, b"\x29\x03\x34\x2e\x30", BOND_COMPACT),
        ("application/octet-stream", b"\x29\x03\x33\x2e\x30", BOND_COMPACT),
        (BOND_COMPACT, b'{"looks":"json"}', BOND_COMPACT),
        ("text/plain", b"hello", "text/plain"),
    ],
)
def test_inconclusive_types_are_sniffed(declared, body, expected):
    assert effective_content_type(declared, body) == expected
