"""Build a run's report (optionally against a baseline) and render it in one format."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from diagscope.report.diff import diff_reports
from diagscope.report.formats import renderer
from diagscope.report.i18n import dutch_clauses
from diagscope.report.model import Report
from diagscope.report.overview import build_report
from diagscope.store.queries import run_policy


@dataclass(slots=True)
class BuiltReport:
    report: Report
    forbidden_purposes: set[str]
    # The run's policy clauses mapped to the Dutch text the policy gives beside them.
    clauses_nl: dict[str, str] = field(default_factory=dict)


def build_for_run(engine: Engine, run_id: int, baseline: int | None = None,
                  generated_at: str | None = None) -> BuiltReport:
    report = build_report(engine, run_id, generated_at)
    if baseline is not None:
        report.diff = diff_reports(build_report(engine, baseline), report)
    policy = run_policy(engine, run_id)
    forbidden = {k for k, v in (policy or {}).get("purposes", {}).items() if not v["permitted"]}
    return BuiltReport(report, forbidden, dutch_clauses(policy or {}))


def render(built: BuiltReport, fmt: str, lang: str = "en") -> str:
    """The report in the format called `fmt` (see `report.formats`)."""
    return renderer(fmt)(built, lang)
