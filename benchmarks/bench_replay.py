"""Replay throughput against bare mitmproxy, measured in the same run on the same file.

    python benchmarks/bench_replay.py --flows 20000 [--jobs 2]

On one generated capture (mixed JSON and Bond, gzip and raw deflate, 5-50 events a flow,
some personal data) each step runs in its own process, timed, with its peak RSS:
(a) `mitmdump -nr` with no addon, (b) mitmproxy's FlowReader alone, (c) FlowReader +
inflate + decode (the practical limit), (j) (c) + classification, rules and row building
without a database (so d - j is what storing costs), (d) `diagscope replay` end to end into
SQLite (with `--jobs N`: once with one process and once with N). Prints flows/s,
events/s, peak RSS and the ratios d/c and d/a.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BIN = Path(sys.executable).parent


def step_reader(capture: str) -> int:
    from diagscope.sources.flows import CaptureReader

    return sum(1 for _ in CaptureReader(capture))


def step_decode(capture: str) -> int:
    from diagscope.decode.body import decode_body
    from diagscope.sources.flows import CaptureReader, request_from_flow

    return sum(len(decode_body(request_from_flow(f)).events) for f in CaptureReader(capture))


def step_judge(capture: str) -> int:
    """Everything replay does except the database: decode, classify, rules, row building."""
    from diagscope.pipeline import Inspector
    from diagscope.policy.load import DEFAULT_POLICY, load_policy
    from diagscope.sources.registry import open_source
    from diagscope.store.rows import rows_of

    inspector = Inspector(load_policy(DEFAULT_POLICY).policy)
    events = 0
    for request in open_source(capture).requests():
        inspection = inspector.inspect(request)
        if inspection is not None:
            events += len(rows_of(inspection).events)
    return events


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB of the process itself, its stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # replay exits 1 only on violations
        raise SystemExit(f"{argv[0]} failed")
    return seconds, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=20000)
    parser.add_argument("--capture", help="use this capture instead of generating one")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--step", choices=["reader", "decode", "judge"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a measured child process
        step = {"reader": step_reader, "decode": step_decode, "judge": step_judge}[args.step]
        print(step(args.capture))
        print(f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
        return

    import generate

    work = Path(tempfile.mkdtemp(prefix="diagscope-bench-"))
    capture = args.capture or str(work / "bench.mitm")
    if not args.capture:
        generate.write_capture(capture, generate.flows(args.flows))
    env = {**os.environ, "HOME": str(work)}
    me = [sys.executable, __file__, "--capture", capture, "--step"]
    results: dict[str, tuple[float, float]] = {}
    results["a mitmdump -nr (no addon)"] = measure(
        [str(BIN / "mitmdump"), "-q", "-nr", capture], env)[:2]
    secs, rss, out = measure([*me, "reader"], env)
    flows = int(out.split()[0])
    results["b FlowReader"] = (secs, rss)
    secs, rss, out = measure([*me, "decode"], env)
    events = int(out.split()[0])
    results["c FlowReader+decode"] = (secs, rss)
    results["j (c)+judge, no database"] = measure([*me, "judge"], env)[:2]
    for jobs in sorted({1, args.jobs}):
        db = work / f"replay-{jobs}.sqlite"
        results[f"d diagscope replay -j{jobs}"] = measure(
            [str(BIN / "diagscope"), "replay", capture, "--db", str(db), "--jobs", str(jobs)],
            env)[:2]
    size_mb = os.path.getsize(capture) / 1e6
    print(f"capture: {flows} flows, {events} events, {size_mb:.1f} MB "
          f"(mixed JSON and Bond; {os.cpu_count()} cores)")
    print(f"{'step':<28}{'seconds':>9}{'flows/s':>10}{'events/s':>11}{'peak RSS MiB':>14}")
    for label, (secs, rss) in results.items():
        print(f"{label:<28}{secs:>9.2f}{flows / secs:>10.0f}{events / secs:>11.0f}{rss:>14.0f}")
    a = results["a mitmdump -nr (no addon)"][0]
    c = results["c FlowReader+decode"][0]
    d1 = results["d diagscope replay -j1"][0]
    print(f"ratio d/c, one process (speed of replay relative to decode-only): {c / d1:.2f}")
    print(f"ratio d/a, one process (speed of replay relative to mitmdump -nr): {a / d1:.2f}")
    if args.jobs > 1:
        dn = results[f"d diagscope replay -j{args.jobs}"][0]
        print(f"--jobs {args.jobs} speed-up over --jobs 1: {d1 / dn:.2f}x "
              f"(d/c {c / dn:.2f}, d/a {a / dn:.2f}); peak RSS is the main process's")


if __name__ == "__main__":
    main()
