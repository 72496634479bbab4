"""`purpose`: events serving a forbidden purpose, or none that can be established."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Event, Finding, Rule, Severity
from diagscope.rules.base import RequestContext
from diagscope.rules.base import Rule as BaseRule


class PurposeRule(BaseRule):
    name = Rule.PURPOSE

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        policy = ctx.policy
        purpose = policy.purposes.get(event.purpose)
        if purpose is None:
            yield Finding(
                rule=Rule.PURPOSE, severity=Severity.REVIEW,
                detail=f"The purpose of this event could not be established "
                f"({event.purpose_reason}).",
                clause=policy.unknown_purpose_clause,
                event_index=event.index, event_name=event.name, product=event.product,
            )
        elif not purpose.permitted:
            yield Finding(
                rule=Rule.PURPOSE, severity=Severity.VIOLATION,
                detail=f"Event serves the forbidden purpose {event.purpose} "
                f"({purpose.description}): {event.purpose_reason}.",
                clause=purpose.clause,
                event_index=event.index, event_name=event.name, product=event.product,
            )
