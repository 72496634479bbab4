"""`destination`: telemetry to endpoints outside the allowed list or the required region."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import Finding, Rule, Severity
from diagscope.rules.base import RequestContext
from diagscope.rules.base import Rule as BaseRule

#: A region that routes anywhere (a global front door) is not known to stay in the required
#: region, but is not known to leave it either: a reviewer decides.
UNPINNED_REGIONS = frozenset({"global"})


class DestinationRule(BaseRule):
    name = Rule.DESTINATION

    def check_request(self, ctx: RequestContext) -> Iterator[Finding]:
        if ctx.request.scheme == "ddv":
            return  # a Diagnostic Data Viewer row: the viewer does not say where it went
        destinations = ctx.policy.destinations
        host = ctx.request.host.lower()
        found = destinations.endpoint_for(host)
        required = destinations.required_region

        def finding(severity: Severity, detail: str) -> Finding:
            return Finding(
                rule=Rule.DESTINATION, severity=severity, detail=detail,
                clause=destinations.clause, product=ctx.product, value=host,
            )

        if found is None:
            yield finding(
                Severity.VIOLATION,
                f"Telemetry sent to {host}, which is not an endpoint the policy allows.",
            )
            return
        _, endpoint = found
        if not endpoint.allowed:
            yield finding(
                Severity.VIOLATION,
                f"Telemetry sent to {host}, an endpoint the policy forbids"
                + (f" ({endpoint.note})" if endpoint.note else "") + ".",
            )
        elif required and endpoint.region != required:
            if endpoint.region in UNPINNED_REGIONS:
                yield finding(
                    Severity.REVIEW,
                    f"Telemetry sent to {host} (region {endpoint.region}): not pinned to the "
                    f"required region {required}; check where the collector stores it.",
                )
            else:
                yield finding(
                    Severity.VIOLATION,
                    f"Telemetry sent to {host} in region {endpoint.region}, outside the "
                    f"required region {required}.",
                )
