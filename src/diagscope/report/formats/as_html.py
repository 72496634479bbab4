"""The report as one self-contained HTML page with charts, for people: the default."""

from __future__ import annotations

from diagscope.report.build import BuiltReport
from diagscope.report.formats import report_format
from diagscope.report.render import render_html


@report_format("html", "html", "htm")
def as_html(built: BuiltReport, lang: str) -> str:
    return render_html(built.report, lang, built.forbidden_purposes,
                       clauses_nl=built.clauses_nl or None)
