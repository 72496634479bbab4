"""`purpose`: events serving a forbidden purpose, or none that can be established."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Event, Finding, Severity
from diagscope.rules.base import RequestContext, Rule, register


@register
class PurposeRule(Rule):
    name = "purpose"
    order = 50

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        policy = ctx.policy
        purpose = policy.purposes.get(event.purpose)
        if purpose is None:
            yield self.about(
                event, Severity.REVIEW,
                f"The purpose of this event could not be established "
                f"({event.purpose_reason}).",
                policy.unknown_purpose_clause,
            )
        elif not purpose.permitted:
            yield self.about(
                event, Severity.VIOLATION,
                f"Event serves the forbidden purpose {event.purpose} "
                f"({purpose.description}): {event.purpose_reason}.",
                purpose.clause,
            )
