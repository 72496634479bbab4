"""Generate a large, realistic capture for benchmarks (deterministic for a given seed).

    python benchmarks/generate.py --flows 20000 --out benchmarks/_data/20k.mitm
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mitmproxy import http

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "captures"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import make_samples
from bondwriter import records_body

from diagscope.sources.synthetic import (
    gzip_bytes,
    json_stream,
    make_flow,
    raw_deflate,
    write_capture,
)

NAMES = [
    ("Office.Telemetry.ProcessIdleQueueJob", 120),
    ("Office.Licensing.Heartbeat", 110),
    ("Office.ClickToRun.UpdateStatus", 110),
    ("Office.Identity.TokenRefresh", 110),
    ("Office.Word.FileOpen", 1),
    ("Office.Excel.Calc.Recalculate", 1),
    ("Office.Outlook.Desktop.Compose.SendMail", 2),
    ("Office.PowerPoint.Ribbon.Click", 2),
    ("Office.Feed.Recommendation.Shown", 2),
    ("Office.Word.Document.Save", None),
]


def flows(count: int, seed: int = 7, min_events: int = 5, max_events: int = 50
          ) -> Iterator[http.HTTPFlow]:
    rng = random.Random(seed)
    t = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    host = "self.events.data.microsoft.com"
    for i in range(count):
        n = rng.randint(min_events, max_events)
        batch = []
        for j in range(n):
            name, level = NAMES[rng.randrange(len(NAMES))]
            extra = {}
            if rng.random() < 0.05:
                extra["User.Email"] = f"user{rng.randrange(1000)}@example.nl"
            if rng.random() < 0.05:
                extra["Document.Path"] = f"C:\\Users\\u{rng.randrange(99)}\\Documents\\r{j}.docx"
            batch.append((name, t + timedelta(milliseconds=j), j, level, extra))
        t += timedelta(seconds=2)
        if rng.random() < 0.4:
            # Office Win32's own uploads: Bond records, raw deflate (or gzip labelled deflate).
            body = records_body([make_samples.bond_record(*event) for event in batch])
            body = raw_deflate(body) if rng.random() < 0.8 else gzip_bytes(body)
            yield make_flow(f"bench-{seed}-{i}", time=t.timestamp(), host=host,
                            path="/OneCollector/1.0/",
                            headers=make_samples.bond_headers(host, len(body),
                                                              [make_samples.APIKEY], "deflate"),
                            body=body)
            continue
        body = json_stream([make_samples.office_event(*event[:4], data=event[4])
                            for event in batch])
        kind = rng.random()
        if kind < 0.4:
            headers = make_samples.cpp_json_headers("self.events.data.microsoft.com", 0)
            body = raw_deflate(body)
            path = "/OneCollector/1.0/"
        elif kind < 0.8:
            body = gzip_bytes(body)
            headers = make_samples.js_headers(len(body), gzipped=True)
            path = make_samples.JS_PATH
        else:
            headers = make_samples.js_headers(len(body))
            path = make_samples.JS_PATH
        yield make_flow(f"bench-{seed}-{i}", time=t.timestamp(), host=host, path=path,
                        headers=headers, body=body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    n = write_capture(args.out, flows(args.flows, args.seed))
    print(f"wrote {args.out}: {n} flows, {Path(args.out).stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
