"""Peak memory of `diagscope replay` as captures grow: it must stay flat (replay streams).

    python benchmarks/bench_memory.py --sizes 10000 50000 100000
    python benchmarks/bench_memory.py --sizes 2000 5000 --evidence

With `--evidence`, each run is also reported on, exported as an evidence bundle and that
bundle verified, each with its time and peak memory: the report and the export stream the
run's rows; verifying a bundle still reads each of its row files whole.
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
    parser.add_argument("--evidence", action="store_true",
                        help="also time report, export and verify of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diagscope-memory-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    env = {**os.environ, "HOME": str(work)}
    head = f"{'flows':>9}{'capture MB':>12}{'seconds':>9}{'flows/s':>9}{'peak RSS MiB':>14}"
    if args.evidence:
        head += "".join(f"{step + ' s':>11}{step + ' MiB':>13}"
                        for step in ("report", "export", "verify"))
    print(head)
    ds = str(BIN / "diagscope")
    for size in args.sizes:
        capture = work / f"{size}.mitm"
        db = str(work / f"{size}.sqlite")
        generate.write_capture(str(capture), generate.flows(size))
        secs, rss, _ = measure([ds, "replay", str(capture), "--db", db, "--jobs",
                                str(args.jobs)], env)
        mb = capture.stat().st_size / 1e6
        line = f"{size:>9}{mb:>12.1f}{secs:>9.1f}{size / secs:>9.0f}{rss:>14.0f}"
        if args.evidence:
            bundle = str(work / f"{size}.zip")
            for argv in ([ds, "report", "--db", db, "--out", str(work / f"{size}.html")],
                         [ds, "export", "--db", db, "--out", bundle],
                         [ds, "verify", bundle]):
                step_secs, step_rss, _ = measure(argv, env)
                line += f"{step_secs:>11.1f}{step_rss:>13.0f}"
        print(line, flush=True)
        for leftover in work.glob(f"{size}.*"):
            leftover.unlink()


if __name__ == "__main__":
    main()
