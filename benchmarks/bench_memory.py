"""Peak memory of `diagscope replay` as captures grow: it must stay flat (replay streams).

    python benchmarks/bench_memory.py --sizes 10000 50000 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from bench_replay import BIN, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 50000])
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diagscope-memory-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    env = {**os.environ, "HOME": str(work)}
    print(f"{'flows':>9}{'capture MB':>12}{'seconds':>9}{'flows/s':>9}{'peak RSS MiB':>14}")
    for size in args.sizes:
        capture = work / f"{size}.mitm"
        generate.write_capture(str(capture), generate.flows(size))
        secs, rss, _ = measure([str(BIN / "diagscope"), "replay", str(capture), "--db",
                                str(work / f"{size}.sqlite"), "--jobs", str(args.jobs)], env)
        mb = capture.stat().st_size / 1e6
        print(f"{size:>9}{mb:>12.1f}{secs:>9.1f}{size / secs:>9.0f}{rss:>14.0f}", flush=True)
        capture.unlink()
        for leftover in work.glob(f"{size}.sqlite*"):
            leftover.unlink()


if __name__ == "__main__":
    main()
