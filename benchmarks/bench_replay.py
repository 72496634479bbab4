"""Replay throughput against bare mitmproxy, measured in the same run on the same file.

    python benchmarks/bench_replay.py --flows 20000 [--jobs 2]

On one generated capture (mixed JSON and Bond, gzip and raw deflate, 5-50 events a flow,
some personal data) each step runs in its own process, timed, with its peak RSS:
(a) `mitmdump -nr` with no addon, (b) mitmproxy's FlowReader alone, (c) FlowReader +
inflate + decode, (j) replay's own flow-file reader + decode + classification, rules and row
building without a database (so d - j is what storing costs), (d) `diagscope replay` end to end into
SQLite (with `--jobs N`: once with one process and once with N), and (d) once more with
the pure-Python Bond reader (`DIAGSCOPE_PURE_PYTHON=1`), to show what compiling it is worth.
Prints flows/s, events/s, peak RSS and the ratios d/c and d/a.

It also measures a floor for (d) on one process, from two costs no replay can avoid while
it scans every value and stores every row: (w) replay's reader + decode + visiting every
value of every event once (no detection; any personal-data check has to do at least this),
and (s) the time SQLite itself spends in executemany and commit for exactly the rows (d)
stores. The floor (w) + (s) bounds how fast replay can get with this schema.
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

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


def _visit(value: object) -> int:
    """Count the leaves of one event part: the least any scan of every value must do."""
    stack, leaves = [value], 0
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            leaves += 1
    return leaves


def step_walk(capture: str) -> int:
    from diagscope.decode.body import decode_body
    from diagscope.sources.registry import open_source

    events = 0
    for request in open_source(capture).requests():
        for event in decode_body(request).events:
            _visit(event.ext)
            _visit(event.base_data)
            _visit(event.data)
            events += 1
    return events


def step_store(capture: str) -> str:
    """Replay into a scratch SQLite file, timing only what the SQLite driver does."""
    from diagscope.store.engine import open_engine

    with tempfile.TemporaryDirectory(prefix="diagscope-store-") as scratch:
        engine = open_engine(str(Path(scratch) / "store.sqlite"))
        try:
            return f"{_sqlite_seconds(engine, capture):.3f}"
        finally:
            engine.dispose()


def _sqlite_seconds(engine: Engine, capture: str) -> float:
    from sqlalchemy import event

    from diagscope.policy.load import DEFAULT_POLICY, load_policy
    from diagscope.replay import replay
    from diagscope.session import RunSession, SessionSettings

    spent = [0.0]
    started: list[float] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(*_args: object) -> None:
        started.append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(*_args: object) -> None:
        spent[0] += time.perf_counter() - started.pop()

    real_commit = engine.dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        start = time.perf_counter()
        real_commit(dbapi_connection)
        spent[0] += time.perf_counter() - start

    engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]
    session = RunSession(SessionSettings(), engine=engine, loaded=load_policy(DEFAULT_POLICY))
    replay([capture], session)
    return spent[0]


#: Imports everything a step or `diagscope replay` runs, to fill the bytecode cache.
_WARM_UP = ("import diagscope.cli.main, diagscope.cli.replay, diagscope.replay, "
            "diagscope.judging, diagscope.store.writer, diagscope.store.verify, "
            "diagscope.sources.flows, diagscope.decode.body, mitmproxy.io")


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
    parser.add_argument("--step", choices=["reader", "decode", "judge", "walk", "store"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a measured child process
        step = {"reader": step_reader, "decode": step_decode, "judge": step_judge,
                "walk": step_walk, "store": step_store}[args.step]
        print(step(args.capture))
        print(f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
        return

    # Everything written (capture, databases of several GB at 100k flows) goes at the end.
    with tempfile.TemporaryDirectory(prefix="diagscope-bench-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    import generate

    capture = args.capture or str(work / "bench.mitm")
    if not args.capture:
        generate.write_capture(capture, generate.flows(args.flows))
    env = {**os.environ, "HOME": str(work)}
    # Every step runs as an installed program does, from its modules' cached bytecode: pip
    # compiles a package's modules when it installs it (mitmproxy's were), but an editable
    # install run with PYTHONDONTWRITEBYTECODE would compile diagscope's source again in
    # every step. The cache is filled before any step is timed.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", _WARM_UP], env=env, check=True)
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
    results["w read+decode+visit values"] = measure([*me, "walk"], env)[:2]
    results["j read+decode+judge, no db"] = measure([*me, "judge"], env)[:2]
    sqlite_seconds = float(measure([*me, "store"], env)[2].split()[0])

    def replay(name: str, jobs: int, env: dict[str, str]) -> tuple[float, float, float]:
        """(seconds, peak RSS MiB, database MB) of one `diagscope replay` into a new file."""
        secs, rss, _ = measure([str(BIN / "diagscope"), "replay", capture, "--db",
                                str(work / f"{name}.sqlite"), "--jobs", str(jobs)], env)
        files = list(work.glob(f"{name}.sqlite*"))
        size = sum(p.stat().st_size for p in files) / 1e6
        for leftover in files:
            leftover.unlink()
        return secs, rss, size

    db_mb = 0.0
    for jobs in sorted({1, args.jobs}):
        secs, rss, db_mb = replay(f"replay-{jobs}", jobs, env)
        results[f"d diagscope replay -j{jobs}"] = (secs, rss)
    # The same replay with the pure-Python Bond reader: what compiling it is worth.
    results["d replay -j1, pure Bond reader"] = replay(
        "replay-pure", 1, {**env, "DIAGSCOPE_PURE_PYTHON": "1"})[:2]
    size_mb = os.path.getsize(capture) / 1e6
    print(f"capture: {flows} flows, {events} events, {size_mb:.1f} MB "
          f"(mixed JSON and Bond; {os.cpu_count()} cores)")
    from diagscope.decode.bond import IMPLEMENTATION

    print(f"Bond reader: {IMPLEMENTATION}")
    print(f"{'step':<28}{'seconds':>9}{'flows/s':>10}{'events/s':>11}{'peak RSS MiB':>14}")
    for label, (secs, rss) in results.items():
        print(f"{label:<28}{secs:>9.2f}{flows / secs:>10.0f}{events / secs:>11.0f}{rss:>14.0f}")
    a = results["a mitmdump -nr (no addon)"][0]
    c = results["c FlowReader+decode"][0]
    d1 = results["d diagscope replay -j1"][0]
    print(f"ratio d/c, one process (speed of replay relative to decode-only): {c / d1:.2f}")
    print(f"ratio d/a, one process (speed of replay relative to mitmdump -nr): {a / d1:.2f}")
    w = results["w read+decode+visit values"][0]
    floor = w + sqlite_seconds
    print(f"s SQLite executemany+commit of the rows replay stores: {sqlite_seconds:.2f} s")
    print(f"floor for d on one process, (w) + (s): {floor:.2f} s; best reachable d/c "
          f"{c / floor:.2f}, d/a {a / floor:.2f}")
    if args.jobs > 1:
        dn = results[f"d diagscope replay -j{args.jobs}"][0]
        print(f"--jobs {args.jobs} speed-up over --jobs 1: {d1 / dn:.2f}x "
              f"(d/c {c / dn:.2f}, d/a {a / dn:.2f}); peak RSS is the main process's")
    pure = results["d replay -j1, pure Bond reader"][0]
    print(f"replay -j1 with the pure-Python Bond reader: {pure:.2f} s ({pure / d1:.2f}x the "
          "time with the reader in use)")
    b = results["b FlowReader"][0]
    print("targets (each measured against its baseline in this run):")
    print(f"  replay -j1 speed over mitmdump -nr, a/d: {a / d1:.2f} (at least 1.50)")
    print(f"  replay -j1 time over FlowReader, d/b:    {d1 / b:.2f} (at most 1.50)")
    if args.jobs > 1:
        print(f"  replay -j{args.jobs} speed over mitmdump -nr, a/d: {a / dn:.2f} (at least 2.50)")
    print(f"  database MB per capture MB:              {db_mb / size_mb:.2f} (at most 1.50; "
          f"{db_mb:.1f} MB for {size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
