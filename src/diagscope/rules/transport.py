"""`transport`: telemetry sent without encryption in transit."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Finding, Rule, Severity
from diagscope.rules.base import RequestContext
from diagscope.rules.base import Rule as BaseRule


class TransportRule(BaseRule):
    name = Rule.TRANSPORT

    def check_request(self, ctx: RequestContext) -> Iterator[Finding]:
        transport = ctx.policy.transport
        # A Diagnostic Data Viewer row travelled nowhere (scheme "ddv"): nothing to judge.
        if ctx.request.scheme.lower() == "http" and not transport.plaintext_http_allowed:
            yield Finding(
                rule=Rule.TRANSPORT, severity=Severity.VIOLATION,
                detail=f"Telemetry sent over plain HTTP to {ctx.request.host}:"
                f"{ctx.request.port}, unencrypted in transit.",
                clause=transport.clause, product=ctx.product, value=ctx.request.url,
            )
