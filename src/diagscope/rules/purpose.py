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
            yield Finding.about(
                event, Rule.PURPOSE, Severity.REVIEW,
                f"The purpose of this event could not be established "
                f"({event.purpose_reason}).",
                policy.unknown_purpose_clause,
            )
        elif not purpose.permitted:
            yield Finding.about(
                event, Rule.PURPOSE, Severity.VIOLATION,
                f"Event serves the forbidden purpose {event.purpose} "
                f"({purpose.description}): {event.purpose_reason}.",
                purpose.clause,
            )
