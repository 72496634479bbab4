"""`unknown-event`: events that Microsoft's published catalogue does not document."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Event, Finding, Rule, Severity
from diagscope.rules.base import RequestContext
from diagscope.rules.base import Rule as BaseRule


class UnknownEventRule(BaseRule):
    name = Rule.UNKNOWN_EVENT

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        facts = ctx.classifier.facts(event.name)
        if facts.catalogue is not None or facts.override is not None:
            return
        name = event.name or "(no name)"
        yield Finding.about(
            event, Rule.UNKNOWN_EVENT, Severity.REVIEW,
            f"Event {name} is not in Microsoft's published catalogue of diagnostic "
            "events, nor listed by the policy.",
            ctx.policy.catalogue_clause,
        )
