"""A run rebuilt from the rows an evidence bundle carries: its report, events and findings.

`export` makes a bundle's report this way from the rows it encloses, and `verify` makes it
again from the bundle: the same rows through the same code give the same bytes, so a
report that says anything the rows do not is caught. The report's `generated_at` is the
export time, which the manifest records.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from diagscope.report.build import BuiltReport, build_for_run
from diagscope.report.render import render_html, render_json
from diagscope.store.engine import open_engine
from diagscope.store.portable import load_run
from diagscope.store.queries import iter_events, iter_findings

#: The report files a bundle holds; both are rebuilt and compared by `verify`.
REPORT_FILES = ("report.html", "report.json")
REPORT_LANGUAGE = "en"


@dataclass(slots=True)
class Rebuilt:
    built: BuiltReport
    events: list[dict[str, Any]]  # as `diagscope events --format jsonl` prints them
    findings: list[dict[str, Any]]  # as `diagscope findings --format jsonl` prints them


@contextmanager
def rebuilt_run(run_id: int, run_columns: Mapping[str, Any],
                rows: Mapping[str, Iterable[Mapping[str, Any]]],
                redacted: Mapping[str, frozenset[str]], generated_at: str
                ) -> Iterator[tuple[BuiltReport, Engine]]:
    """Load the run into a scratch database; yields its report and the database, to read
    its events and findings from (as a stream) before the database is thrown away."""
    with tempfile.TemporaryDirectory(prefix="diagscope-rebuild-") as tmp:
        engine = open_engine(str(Path(tmp) / "rebuild.sqlite"))
        try:
            load_run(engine, run_id, run_columns, rows, redacted)
            yield build_for_run(engine, run_id, generated_at=generated_at), engine
        finally:
            engine.dispose()


def rebuild(run_id: int, run_columns: Mapping[str, Any],
            rows: Mapping[str, Iterable[Mapping[str, Any]]],
            redacted: Mapping[str, frozenset[str]], generated_at: str) -> Rebuilt:
    """The run's report, events and findings, rebuilt from its rows."""
    with rebuilt_run(run_id, run_columns, rows, redacted, generated_at) as (built, engine):
        return Rebuilt(built, list(iter_events(engine, run_id)),
                       list(iter_findings(engine, run_id)))


def report_files(built: BuiltReport) -> dict[str, bytes]:
    """The report as a bundle holds it, by file name."""
    return {
        "report.html": render_html(built.report, REPORT_LANGUAGE,
                                   built.forbidden_purposes).encode("utf-8"),
        "report.json": render_json(built.report).encode("utf-8"),
    }
