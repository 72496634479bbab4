"""Build a run's report (optionally against a baseline) and render it in one format."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from diagscope.report.diff import diff_reports
from diagscope.report.model import Report
from diagscope.report.overview import build_report
from diagscope.report.render import render_html, render_json, render_markdown


@dataclass(slots=True)
class BuiltReport:
    report: Report
    forbidden_purposes: set[str]


def build_for_run(engine: Engine, run_id: int, baseline: int | None = None) -> BuiltReport:
    report = build_report(engine, run_id)
    if baseline is not None:
        report.diff = diff_reports(build_report(engine, baseline), report)
    from sqlalchemy import select

    from diagscope.store.tables import runs

    with engine.connect() as conn:
        policy = conn.execute(select(runs.c.policy_resolved).where(runs.c.id == run_id)).scalar()
    forbidden = {k for k, v in (policy or {}).get("purposes", {}).items() if not v["permitted"]}
    return BuiltReport(report, forbidden)


def render(built: BuiltReport, fmt: str, lang: str = "en") -> str:
    if fmt == "json":
        return render_json(built.report)
    if fmt == "md":
        return render_markdown(built.report, lang)
    return render_html(built.report, lang, built.forbidden_purposes)
