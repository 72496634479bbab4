"""Render a `Report` as self-contained HTML, Markdown or JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from jinja2 import Environment, PackageLoader, select_autoescape

from diagscope.report.charts import PALETTE, hbars, timeline
from diagscope.report.i18n import Wording, bundled_dutch_clauses, translator
from diagscope.report.model import Report

# Distinct findings listed in HTML and Markdown; the JSON report and the store hold them all.
FINDINGS_LIMIT = 2000
#: Characters that are Markdown syntax in running text or a table cell; each is written
#: with a backslash, which CommonMark reads as the character itself (no HTML entities).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_BACKTICKS = re.compile(r"`+")


def markdown_text(value: object) -> str:
    """Text for a Markdown paragraph or table cell: on one line, its markup characters
    escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).splitlines()))


def markdown_code(value: object, in_table: bool = False) -> str:
    """A code span that holds any text: its fence is longer than any run of backticks in
    it. In a table a `|` still ends the cell, even inside a code span, unless escaped."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("diagscope", "report/templates"),
        # HTML templates only: Markdown has no entities to write `&` or `'` with, and its own
        # escaping is done by the `md` and `code` filters.
        autoescape=select_autoescape(["html", "html.j2"], default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["md"] = markdown_text
    environment.filters["code"] = markdown_code
    environment.filters["cell_code"] = lambda value: markdown_code(value, in_table=True)
    return environment


def _wording(report: Report, lang: str, clauses_nl: Mapping[str, str] | None) -> Wording:
    if clauses_nl is None and lang == "nl":
        clauses_nl = bundled_dutch_clauses(report.policy.name, report.policy.sha256)
    return translator(lang, clauses_nl)


def _charts(report: Report, t: Wording, forbidden: set[str]) -> dict[str, str]:
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
            [(t.purpose(p), n, PALETTE["violation"] if p in forbidden else
              PALETTE["unknown"] if p == "unknown" else PALETTE["ok"])
             for p, n in report.purposes.items()],
            t("purpose_distribution"),
        ),
    }


def render_html(report: Report, lang: str = "en", forbidden: set[str] | None = None, *,
                clauses_nl: Mapping[str, str] | None = None) -> str:
    """The report as one HTML page. `clauses_nl` maps the run's policy clauses to their
    Dutch text (`i18n.dutch_clauses`); without it a Dutch report finds them in the bundled
    policy the run was judged by, if it was."""
    t = _wording(report, lang, clauses_nl)
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report, t=t, lang=lang, charts=_charts(report, t, forbidden or set()),
        findings=report.findings[:FINDINGS_LIMIT], limit=FINDINGS_LIMIT,
        palette=PALETTE,
    )


def render_markdown(report: Report, lang: str = "en", *,
                    clauses_nl: Mapping[str, str] | None = None) -> str:
    """The report as Markdown (GitHub-flavoured tables), `clauses_nl` as for HTML."""
    t = _wording(report, lang, clauses_nl)
    template = _environment().get_template("report.md.j2")
    return template.render(r=report, t=t, lang=lang, findings=report.findings[:FINDINGS_LIMIT],
                           limit=FINDINGS_LIMIT)


def render_json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def report_schema() -> str:
    return json.dumps(Report.model_json_schema(), indent=2) + "\n"
