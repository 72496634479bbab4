"""`level`: events above the agreed diagnostic level for their product."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import LEVEL_RANK, Event, Finding, Level, Product, Severity
from diagscope.rules.base import RequestContext, Rule, register


@register
class LevelRule(Rule):
    name = "level"
    order = 40

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        policy = ctx.policy
        if event.level is Level.UNKNOWN:
            yield self.about(
                event, Severity.REVIEW,
                f"The diagnostic level of this event could not be determined: "
                f"{event.level_reason}.",
                policy.unknown_level_clause,
            )
            return
        product_policy = policy.products.get(event.product.value)
        if product_policy is None:
            if event.product is Product.UNKNOWN:
                allowed = min(
                    (p.max_level for p in policy.products.values()),
                    key=LEVEL_RANK.__getitem__,
                    default=None,
                )
                if allowed is None or LEVEL_RANK[event.level] <= LEVEL_RANK[allowed]:
                    return
                yield self.about(
                    event, Severity.REVIEW,
                    f"Event of unknown product at level {event.level.value}, above the "
                    f"lowest agreed level ({allowed.value}); its product decides whether "
                    "this is allowed.",
                    policy.unknown_level_clause,
                )
            return
        allowed = product_policy.max_level
        if LEVEL_RANK[event.level] > LEVEL_RANK[allowed]:
            yield self.about(
                event, Severity.VIOLATION,
                f"{event.product.value.capitalize()} event at level {event.level.value} "
                f"exceeds the agreed maximum {allowed.value} ({event.level_reason}).",
                product_policy.clause,
            )
