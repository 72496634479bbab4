"""`transport`: telemetry sent without encryption in transit."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Finding, Severity
from diagscope.rules.base import RequestContext, Rule, register


@register
class TransportRule(Rule):
    name = "transport"
    order = 20

    def check_request(self, ctx: RequestContext) -> Iterator[Finding]:
        transport = ctx.policy.transport
        # A Diagnostic Data Viewer row travelled nowhere (scheme "ddv"): nothing to judge.
        if ctx.request.scheme.lower() == "http" and not transport.plaintext_http_allowed:
            yield self.on_request(
                ctx, Severity.VIOLATION,
                f"Telemetry sent over plain HTTP to {ctx.request.host}:{ctx.request.port}, "
                "unencrypted in transit.",
                transport.clause, value=ctx.request.url,
            )
