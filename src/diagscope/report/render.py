"""Render a `Report` as self-contained HTML, Markdown or JSON."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from diagscope.report.charts import PALETTE, hbars, timeline
from diagscope.report.i18n import translator
from diagscope.report.model import Report

HTML_FINDINGS_LIMIT = 2000


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("diagscope", "report/templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _charts(report: Report, t: Any, forbidden: set[str]) -> dict[str, str]:
    endpoint_events = sorted(
        ((e.host, e.events, PALETTE["bar"]) for e in report.endpoints), key=lambda i: -i[1]
    )
    return {
        "timeline": timeline(report.timeline, t("events_over_time")),
        "endpoints": hbars(endpoint_events[:15], t("events_per_endpoint")),
        "levels": hbars(
            [(lvl, n, PALETTE.get(lvl, PALETTE["bar"])) for lvl, n in report.levels.items()],
            t("level_distribution"),
        ),
        "purposes": hbars(
            [(p, n, PALETTE["violation"] if p in forbidden else
              PALETTE["unknown"] if p == "unknown" else PALETTE["ok"])
             for p, n in report.purposes.items()],
            t("purpose_distribution"),
        ),
    }


def render_html(report: Report, lang: str = "en", forbidden: set[str] | None = None) -> str:
    t = translator(lang)
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report, t=t, lang=lang, charts=_charts(report, t, forbidden or set()),
        findings=report.findings[:HTML_FINDINGS_LIMIT], limit=HTML_FINDINGS_LIMIT,
        palette=PALETTE,
    )


def render_markdown(report: Report, lang: str = "en") -> str:
    t = translator(lang)
    template = _environment().get_template("report.md.j2")
    return template.render(r=report, t=t, lang=lang)


def render_json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def report_schema() -> str:
    return json.dumps(Report.model_json_schema(), indent=2) + "\n"
