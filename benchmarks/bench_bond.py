"""Bond decoder speed beside `json.loads` on the same events as JSON lines, same run.

    python benchmarks/bench_bond.py --records 2000

Also the Bond reader alone (bytes to Bond's tree), compiled and pure Python, on the same body.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "captures"))

import make_samples  # noqa: E402
from bondwriter import records_body  # noqa: E402

from diagscope.decode import bond, bond_reader  # noqa: E402
from diagscope.decode.csprotocol import decode_records  # noqa: E402
from diagscope.decode.jsonstream import decode_json_stream  # noqa: E402
from diagscope.store.jsoncodec import dumps  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    records = []
    for i in range(args.records):
        data = {"Session.Id": f"7a9c2e1f-3b4d-4c5e-8f60-{i:012d}", "Activity.Duration": i * 3,
                "Activity.Success": i % 2 == 0, "Ratio": i / 7,
                "User.Email": {"value": f"user{i}@example.nl", "pii": "SmtpAddress"}}
        records.append(make_samples.bond_record(
            f"Office.Word.Event{i % 40}", make_samples.START + timedelta(seconds=i), i, 110, data))
    body = records_body(records)
    events = decode_records(body).events
    assert len(events) == args.records
    lines = "\n".join(dumps(e.to_cs()) for e in events).encode()

    bond_s = best(lambda: decode_records(body), args.repeat)
    loads_s = best(lambda: [json.loads(line) for line in lines.split(b"\n")], args.repeat)
    stream_s = best(lambda: decode_json_stream(lines), args.repeat)
    readers = [("Bond reader alone, pure Python", bond_reader)]
    with contextlib.suppress(ImportError):  # an installation without the compiled reader
        readers.insert(0, ("Bond reader alone, compiled", importlib.import_module(
            bond.NATIVE_MODULE)))
    # The reader alone keeps the trees of every record alive until it returns; the cyclic
    # collector's passes over them would be most of what is timed, unlike in decoding,
    # which drops each record's tree once it is an event. So it is timed without them.
    gc.disable()
    try:
        reader_s = [(label, best(lambda m=module: m.read_structs(body), args.repeat))
                    for label, module in readers]
    finally:
        gc.enable()
    n = args.records
    print(f"Bond reader in use: {bond.IMPLEMENTATION}")
    print(f"{n} records; Bond body {len(body) / 1e6:.2f} MB, same events as JSON lines "
          f"{len(lines) / 1e6:.2f} MB (best of {args.repeat})")
    print(f"{'decoder':<34}{'records/s':>12}{'MB/s':>8}")
    for label, secs, size in (("Bond -> Event (diagscope)", bond_s, len(body)),
                              ("json.loads per line (baseline)", loads_s, len(lines)),
                              ("JSON stream -> Event (diagscope)", stream_s, len(lines)),
                              *((label, secs, len(body)) for label, secs in reader_s)):
        print(f"{label:<34}{n / secs:>12.0f}{size / 1e6 / secs:>8.1f}")
    print(f"Bond decoding takes {bond_s / loads_s:.1f}x the time of json.loads on the same events")
    if len(reader_s) == 2:
        print(f"the compiled reader reads {reader_s[1][1] / reader_s[0][1]:.1f}x as fast as the "
              "pure-Python one")


if __name__ == "__main__":
    main()
