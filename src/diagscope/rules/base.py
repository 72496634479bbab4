"""What a rule sees and how it reports: one small class per rule, registered in __init__."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from diagscope.classify.classifier import Classifier
from diagscope.model import DecodedBody, Event, Finding, Product, Request
from diagscope.pii.canary import CanarySet
from diagscope.policy.model import Policy
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
    """A rule judges a request once and each of its events; either hook may stay empty."""

    name: str = ""

    def check_request(self, ctx: RequestContext) -> Iterable[Finding]:
        return ()

    def check_event(self, event: Event, ctx: RequestContext) -> Iterable[Finding]:
        return ()
