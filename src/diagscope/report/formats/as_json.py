"""The report as JSON, for programs: the `Report` model (`diagscope report --schema`)."""

from __future__ import annotations

from diagscope.report.build import BuiltReport
from diagscope.report.formats import report_format
from diagscope.report.render import render_json


@report_format("json", "json")
def as_json(built: BuiltReport, lang: str) -> str:
    return render_json(built.report)  # keys and values are data, in no language
