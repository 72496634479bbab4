"""Request -> events -> findings: the one path both the proxy and replay go through."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from diagscope.classify.classifier import CatalogueLookup, Classifier
from diagscope.decode.body import decode_body
from diagscope.decode.detect import is_telemetry
from diagscope.model import DecodedBody, DecodeStatus, Finding, Request, Severity
from diagscope.pii.canary import CanarySet
from diagscope.policy.catalogue import lookup_any
from diagscope.policy.endpoints import load_endpoints
from diagscope.policy.model import Policy
from diagscope.rules import RequestContext, Rule, default_rules
from diagscope.sources.viewer import viewer_facts

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Inspection:
    """A telemetry request with what was decoded from it and everything found."""

    request: Request
    decoded: DecodedBody
    findings: list[Finding] = field(default_factory=list)


class Inspector:
    def __init__(
        self,
        policy: Policy,
        rules: list[Rule] | None = None,
        catalogue: CatalogueLookup | None = None,
        canaries: CanarySet | None = None,
    ) -> None:
        self.policy = policy
        self.canaries = canaries
        self.classifier = Classifier(policy, catalogue if catalogue is not None else lookup_any)
        self.rules = rules if rules is not None else default_rules()
        # Hosts that are telemetry on any path: the policy's and Microsoft's collectors.
        self._telemetry_hosts = policy.telemetry_hosts | load_endpoints().hosts
        self._max_body = policy.limits.max_body_bytes

    def is_telemetry(self, request: Request) -> bool:
        return is_telemetry(request, self._telemetry_hosts)

    def inspect(self, request: Request) -> Inspection | None:
        """None for traffic that is not telemetry; otherwise always an Inspection."""
        if not self.is_telemetry(request):
            return None
        try:
            decoded = decode_body(request, self._max_body)
        except Exception as exc:  # a decoder bug must not lose the request
            log.exception("decoder failed on flow %s", request.flow_id)
            decoded = DecodedBody(
                DecodeStatus.UNDECODABLE,
                None,
                request.header("content-encoding"),
                error=f"internal decoder error: {exc!r}",
            )
        host = request.host
        viewer = viewer_facts(request)
        classify = self.classifier.classify
        for event in decoded.events:
            classify(event, host, viewer)
        ctx = RequestContext(request, decoded, self.policy, self.classifier, self.canaries)
        findings: list[Finding] = []
        for rule in self.rules:
            try:
                findings.extend(rule.check_request(ctx))
                for event in decoded.events:
                    findings.extend(rule.check_event(event, ctx))
            except Exception as exc:
                log.exception("rule %s failed on flow %s", rule.name, request.flow_id)
                findings.append(
                    Finding(
                        rule="undecodable",
                        severity=Severity.REVIEW,
                        detail=f"Rule {rule.name} could not judge this request: {exc!r}.",
                    )
                )
        return Inspection(request, decoded, findings)
