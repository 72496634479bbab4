"""What a rule sees and how it reports: one small class per rule, found by the registry.

A rule module defines one `Rule` subclass and decorates it with `@register`; the package
imports every module in it, so adding a rule is adding one file. Findings are made by the
rule object (`self.about(event, ...)`, `self.on_request(ctx, ...)`), which puts its own name
on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from diagscope.classify.classifier import Classifier
from diagscope.model import DecodedBody, Event, Finding, Product, Request, Severity
from diagscope.pii.canary import CanarySet
from diagscope.policy.model import Policy
from diagscope.registry import ClassRegistry
from diagscope.sources.viewer import ViewerFacts, viewer_facts


@dataclass(slots=True)
class RequestContext:
    """Everything known about one telemetry request when rules run."""

    request: Request
    decoded: DecodedBody
    policy: Policy
    classifier: Classifier
    canaries: CanarySet | None = None

    @property
    def viewer(self) -> ViewerFacts | None:
        """What a Diagnostic Data Viewer recorded beside the event, for viewer rows."""
        return viewer_facts(self.request)

    @property
    def product(self) -> Product:
        """The product of a request: that of its events when they agree."""
        products = {e.product for e in self.decoded.events} - {Product.UNKNOWN}
        return products.pop() if len(products) == 1 else Product.UNKNOWN


class Rule:
    """A rule judges a request once and each of its events; either hook may stay empty.

    `name` is what findings carry in their `rule` column (part of the export contract);
    `order` places the rule among the others, so findings keep one stable order.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 100

    def check_request(self, ctx: RequestContext) -> Iterable[Finding]:
        return ()

    def check_event(self, event: Event, ctx: RequestContext) -> Iterable[Finding]:
        return ()

    def about(self, event: Event, severity: Severity, detail: str, clause: str, *,
              field: str | None = None, pii_kind: str | None = None,
              value: str | None = None) -> Finding:
        """A finding of this rule on one event, which it names by index, name and product."""
        return Finding(rule=self.name, severity=severity, detail=detail, clause=clause,
                       event_index=event.index, event_name=event.name, product=event.product,
                       field=field, pii_kind=pii_kind, value=value)

    def on_request(self, ctx: RequestContext, severity: Severity, detail: str, clause: str, *,
                   value: str | None = None) -> Finding:
        """A finding of this rule on the request as a whole."""
        return Finding(rule=self.name, severity=severity, detail=detail, clause=clause,
                       product=ctx.product, value=value)


RULES: ClassRegistry[type[Rule]] = ClassRegistry("name", "rules")
R = TypeVar("R", bound=type[Rule])


def register(rule: R) -> R:
    """Class decorator: make a rule known to every inspector."""
    RULES.add(rule)
    return rule


def registered() -> list[type[Rule]]:
    return RULES.ordered()
