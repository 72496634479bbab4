"""A benchmark capture of real client bodies: the sample captures and real uploads of
Microsoft's 1DS JavaScript SDK, repeated to the size asked for.

    python benchmarks/generate_real.py --flows 12000 --out /tmp/real-12k.mitm

The SDK uploads are made the way the end-to-end test makes them: `tests/node/send_events.mjs`
runs Microsoft's `@microsoft/1ds-post-js` in Node against a collector on 127.0.0.1, and what
reaches the collector (path, headers, body) becomes flows. The sample captures are
`captures/*.mitm` (made by `captures/make_samples.py`: JSON and Bond, gzip and raw deflate).
Compared with `generate.py`, these events carry far fewer findings each, as real clients'
do. Each repetition gets new flow ids and later timestamps, so every flow is a request of its
own. Needs node and `cd tests/node && npm ci`; without them only the sample captures are used
(said on standard error).
"""

from __future__ import annotations

import argparse
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import http as mhttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "captures"))

from diagscope.sources.flows import CaptureReader  # noqa: E402
from diagscope.sources.synthetic import make_flow, write_capture  # noqa: E402

COLLECTOR_HOST = "browser.events.data.microsoft.com"


@dataclass(frozen=True, slots=True)
class Upload:
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    host: str = COLLECTOR_HOST


def sdk_uploads(rounds: int = 3) -> list[Upload]:
    """Real uploads of the 1DS JavaScript SDK, caught by a collector on 127.0.0.1."""
    node = shutil.which("node")
    script = ROOT / "tests" / "node" / "send_events.mjs"
    if node is None or not (ROOT / "tests" / "node" / "node_modules").exists():
        print("note: node or the 1DS SDK is missing; using the sample captures only",
              file=sys.stderr)
        return []
    caught: list[Upload] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            caught.append(Upload(self.path, list(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b'{"acc":1}')

        def do_OPTIONS(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/OneCollector/1.0/"
        for _ in range(rounds):
            subprocess.run([node, str(script), url], cwd=script.parent, check=True,
                           capture_output=True, timeout=120)
    finally:
        server.shutdown()
    return caught


def sample_uploads() -> list[Upload]:
    """Every request of the sample captures, as it was sent."""
    out = []
    for capture in sorted((ROOT / "captures").glob("*.mitm")):
        for flow in CaptureReader(str(capture)):
            req = flow.request
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers.fields]
            out.append(Upload(req.path, headers, req.raw_content or b"", req.pretty_host))
    return out


def flows(count: int, uploads: list[Upload]) -> Iterator[mhttp.HTTPFlow]:
    start = 1_793_610_000.0
    for i in range(count):
        upload = uploads[i % len(uploads)]
        headers = [(k, v) for k, v in upload.headers if k.lower() != "host"]
        yield make_flow(f"real-{i}", time=start + i * 0.5, host=upload.host, path=upload.path,
                        headers=headers, body=upload.body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=12000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not list((ROOT / "captures").glob("*.mitm")):
        subprocess.run([sys.executable, str(ROOT / "captures" / "make_samples.py"), "--out",
                        str(ROOT / "captures")], check=True)
    uploads = sample_uploads() + sdk_uploads()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    n = write_capture(args.out, flows(args.flows, uploads))
    size = Path(args.out).stat().st_size
    print(f"wrote {args.out}: {n} flows from {len(uploads)} distinct uploads, "
          f"{size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
