"""`unknown-event`: events that Microsoft's published catalogue does not document."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Event, Finding, Severity
from diagscope.rules.base import RequestContext, Rule, register


@register
class UnknownEventRule(Rule):
    name = "unknown-event"
    order = 60

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        facts = ctx.classifier.facts(event.name)
        if facts.catalogue is not None or facts.override is not None:
            return
        name = event.name or "(no name)"
        yield self.about(
            event, Severity.REVIEW,
            f"Event {name} is not in Microsoft's published catalogue of diagnostic "
            "events, nor listed by the policy.",
            ctx.policy.catalogue_clause,
        )
