"""The report as Markdown, to paste into a ticket or a DPIA document."""

from __future__ import annotations

from diagscope.report.build import BuiltReport
from diagscope.report.formats import report_format
from diagscope.report.render import render_markdown


@report_format("md", "md", "markdown")
def as_markdown(built: BuiltReport, lang: str) -> str:
    return render_markdown(built.report, lang,
                           clauses_nl=built.clauses_nl or None)
