"""The flow-file reader gives exactly what mitmproxy's FlowReader gives, on every capture."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, telemetry_flow
from mitmproxy import tcp
from mitmproxy.io import FlowWriter, tnetstring
from mitmproxy.test import tflow
from mitmproxy.version import FLOW_FORMAT_VERSION

from diagscope.model import Request
from diagscope.sources.flows import CaptureReader, request_from_flow
from diagscope.sources.synthetic import json_stream, raw_deflate


def both_ways(path: Path) -> tuple[list[Request], CaptureReader, list[Request], CaptureReader]:
    fast = CaptureReader(path)
    fast_requests = list(fast.requests())
    slow = CaptureReader(path)
    slow_requests = [request_from_flow(f, source=str(path)) for f in slow]
    return fast_requests, fast, slow_requests, slow


def assert_same(path: Path) -> list[Request]:
    fast, fast_reader, slow, slow_reader = both_ways(path)
    assert fast == slow
    assert fast_reader.flows_read == slow_reader.flows_read
    assert (fast_reader.damage is None) == (slow_reader.damage is None)
    if fast_reader.damage is not None and slow_reader.damage is not None:
        assert fast_reader.damage.flows_read == slow_reader.damage.flows_read
    return fast


CAPTURES = sorted((ROOT / "captures").glob("*.mitm")) + sorted((ROOT / "tests").rglob("*.mitm"))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_capture_the_project_holds(path):
    assert assert_same(path)


def write(path: Path, flows: list) -> Path:
    with open(path, "wb") as fo:
        writer = FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
    return path


def test_http2_hosts_errors_non_http_flows_and_empty_bodies(tmp_path):
    h2 = tflow.tflow(resp=True)
    h2.request.http_version = "HTTP/2.0"
    h2.request.authority = "eu-office.events.data.microsoft.com:443"
    h2.request.headers["Host"] = "other.example"
    hosted = tflow.tflow(resp=True)
    hosted.request.headers["Host"] = "[::1]:8443"
    failed = tflow.tflow(err=True)
    no_body = tflow.tflow()
    no_body.request.content = None
    odd = tflow.tflow(resp=True)
    odd.request.method = "post"
    odd.request.path = "/OneCollector/1.0/?q=\udcff"
    flows = [telemetry_flow("a", raw_deflate(json_stream([{"name": "x"}])),
                            [("Content-Encoding", "deflate")]),
             h2, hosted, failed, no_body, odd, tcp_flow(), telemetry_flow("b", b"{}")]
    requests = assert_same(write(tmp_path / "mixed.mitm", flows))
    assert [r.host for r in requests[1:3]] == ["eu-office.events.data.microsoft.com", "::1"]
    assert requests[3].error and requests[4].body == b""
    assert len(requests) == 7  # the TCP flow is no request


def tcp_flow() -> tcp.TCPFlow:
    return tflow.ttcpflow()


def test_damage_is_found_at_the_same_flow(tmp_path):
    good = write(tmp_path / "good.mitm", [telemetry_flow(f"f{i}", b"{}") for i in range(5)])
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 3, 7):
        damaged = tmp_path / f"cut-{cut}.mitm"
        damaged.write_bytes(data[:cut])
        assert_same(damaged)
    garbage = tmp_path / "garbage.mitm"
    garbage.write_bytes(b"\x00\x01garbage" * 10)
    fast, reader, _, _ = both_ways(garbage)
    assert fast == [] and reader.damage is not None
    assert_same(garbage)


def test_flows_of_an_older_format_are_migrated_as_mitmproxy_does(tmp_path):
    flow = telemetry_flow("old", json_stream([{"name": "Office.Word.FileOpen"}]))
    state = flow.get_state()
    state["version"] = FLOW_FORMAT_VERSION - 1
    path = tmp_path / "older.mitm"
    with open(path, "wb") as fo:
        tnetstring.dump(state, fo)
    (request,) = assert_same(path)
    assert request.flow_id == flow.id


def test_ranges_of_a_file_read_their_flows_only(tmp_path):
    from diagscope.sources.flows import frame_offsets

    path = write(tmp_path / "ranges.mitm", [telemetry_flow(f"r{i}", b"{}") for i in range(6)])
    offsets, _ = frame_offsets(path)
    middle = CaptureReader(path, offsets[2], offsets[4])
    ids = [r.flow_id for r in middle.requests()]
    whole = [r.flow_id for r in CaptureReader(path).requests()]
    assert ids == whole[2:4]


def test_har_still_goes_through_flowreader(tmp_path):
    har = tmp_path / "x.har"
    har.write_text('{"log": {"entries": []}}')
    assert list(CaptureReader(har).requests()) == []

