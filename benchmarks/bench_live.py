"""Live proxy throughput and added latency: bare `mitmdump` beside `diagscope proxy`.

    python benchmarks/bench_live.py --clients 8 --requests 300

Starts a local collector on 127.0.0.1, then for each proxy drives N concurrent keep-alive
clients posting realistic 1DS JSON batches (raw deflate) through it, and prints requests/s
and the p50/p99 latency added over talking to the collector directly, measured in the
same run. Everything stays on loopback.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "captures"))

import make_samples  # noqa: E402

from diagscope.sources.synthetic import json_stream, raw_deflate  # noqa: E402

BIN = Path(sys.executable).parent


class Collector(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, delayed ACKs add 40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b'{"acc":1}')


def body_for(i: int) -> bytes:
    events = [make_samples.office_event("Office.Licensing.Heartbeat", make_samples.START, i * 10
                                        + j, 110) for j in range(10)]
    return raw_deflate(json_stream(events))


def drive(proxy: tuple[str, int] | None, target: tuple[str, int], clients: int,
          per_client: int) -> tuple[float, list[float]]:
    bodies = [body_for(i) for i in range(16)]
    latencies: list[float] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/x-json-stream", "Content-Encoding": "deflate",
               "Client-Id": "NO_AUTH"}
    url = f"http://{target[0]}:{target[1]}/OneCollector/1.0/"

    def client(n: int) -> None:
        host, port = proxy or target
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine = []
        for i in range(per_client):
            body = bodies[(n + i) % len(bodies)]
            start = time.perf_counter()
            conn.request("POST", url if proxy else "/OneCollector/1.0/", body, headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def start_proxy(command: list[str], marker: str, env: dict[str, str]) -> tuple[subprocess.Popen,
                                                                            int]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    stdout = proc.stdout
    assert stdout is not None
    for line in stdout:
        if marker in line:
            port = int(line.strip().rsplit(":", 1)[1].split()[0])
            threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
            return proc, port
    raise RuntimeError(f"{command[0]} did not start")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300, help="per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diagscope-live-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = ("127.0.0.1", server.server_address[1])
    env = {**os.environ, "HOME": str(work)}

    results: dict[str, tuple[float, list[float]]] = {}
    results["direct (no proxy)"] = drive(None, target, args.clients, args.requests)
    # mitmdump prints nothing parseable about its port, so give it a fixed free one.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    bare = subprocess.Popen(
        [str(BIN / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(free),
         "--set", f"confdir={work / 'bare'}"], env=env)
    time.sleep(3)
    try:
        results["mitmdump (no addon)"] = drive(("127.0.0.1", free), target, args.clients,
                                               args.requests)
    finally:
        bare.terminate()
        bare.wait()
    proc, port = start_proxy(
        [str(BIN / "diagscope"), "proxy", "--listen-port", "0", "--db", str(work / "live.sqlite"),
         "--confdir", str(work / "ds"), "--capture", str(work / "session.mitm")],
        "listening on", env)
    try:
        results["diagscope proxy"] = drive(("127.0.0.1", port), target, args.clients,
                                           args.requests)
    finally:
        proc.terminate()
        proc.wait()

    total = args.clients * args.requests
    base_p50 = pct(results["direct (no proxy)"][1], 50)
    base_p99 = pct(results["direct (no proxy)"][1], 99)
    print(f"{args.clients} concurrent clients x {args.requests} requests, 10 events each")
    print(f"{'path':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}{'+p99 ms':>9}")
    for label, (secs, lat) in results.items():
        p50, p99 = pct(lat, 50), pct(lat, 99)
        print(f"{label:<22}{total / secs:>9.0f}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}"
              f"{(p50 - base_p50) * 1e3:>9.2f}{(p99 - base_p99) * 1e3:>9.2f}")
    bare_rps = total / results["mitmdump (no addon)"][0]
    ds_rps = total / results["diagscope proxy"][0]
    print(f"ratio diagscope/mitmdump requests/s: {ds_rps / bare_rps:.2f}")
    server.shutdown()


if __name__ == "__main__":
    main()
