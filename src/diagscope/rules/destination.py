"""`destination`: telemetry to hosts outside the required region, or not Microsoft's at all.

The policy's own endpoints come first (a lab's collector stub, a host the policy forbids).
Then Microsoft's published collectors (`policies/catalogue/endpoints.yaml`): one in the
required region passes; a global collector, which routes anywhere, is a review that names
the EU alternative Microsoft documents; one in another region is a violation. A Microsoft
host that no list names is judged by its name (`eu-*`, `*.eu.*` are the EU Data Boundary's
naming) and is otherwise a review. A host that is not Microsoft's is a violation: the
agreement covers Microsoft and its sub-processors only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from diagscope.model import Finding, Severity
from diagscope.policy.endpoints import Destination, destination_of
from diagscope.rules.base import RequestContext, Rule, register

#: A region that routes anywhere (a global front door) is not known to stay in the required
#: region, but is not known to leave it either: a reviewer decides.
UNPINNED_REGIONS = frozenset({"global"})


def _sources(destination: Destination) -> str:
    if not destination.sources:
        return ""
    return " (Microsoft lists it in " + "; ".join(
        s.describe() for s in destination.sources[:2]) + ")"


@register
class DestinationRule(Rule):
    name = "destination"
    order = 30

    def check_request(self, ctx: RequestContext) -> Iterator[Finding]:
        if ctx.request.scheme in ("ddv", "file"):
            return  # a viewer row or a saved event: it does not say where it went
        destinations = ctx.policy.destinations
        required = destinations.required_region
        found = destination_of(ctx.request.host, destinations)
        host = found.host

        def finding(severity: Severity, detail: str) -> Finding:
            return self.on_request(ctx, severity, detail, destinations.clause, value=host)

        if found.known_by == "not-microsoft":
            yield finding(
                Severity.VIOLATION,
                f"Telemetry sent to {host}, which is not a Microsoft host: the agreement covers "
                "Microsoft and the sub-processors working on its instructions only.",
            )
        elif not found.allowed:
            yield finding(
                Severity.VIOLATION,
                f"Telemetry sent to {host}, an endpoint the policy forbids"
                + (f" ({found.note})" if found.note else "") + ".",
            )
        elif found.region is None:
            yield finding(
                Severity.REVIEW,
                f"Telemetry sent to {host}, a Microsoft host that no published list of "
                "collectors names; where it stores the data is not known.",
            )
        else:
            where = {"microsoft": _sources(found),
                     "name": " (by its name; no Microsoft list names this host)"}.get(
                found.known_by, "")
            yield from self._region(finding, host, found.region, required,
                                    found.eu_alternative, where)

    @staticmethod
    def _region(finding: Callable[[Severity, str], Finding], host: str, region: str,
                required: str | None, alternative: str | None, where: str
                ) -> Iterator[Finding]:
        if not required or region == required:
            return
        if region in UNPINNED_REGIONS:
            instead = f" {required.upper()} alternative: {alternative}." if alternative \
                else f" Microsoft documents no {required.upper()} alternative for it."
            yield finding(
                Severity.REVIEW,
                f"Telemetry sent to {host}{where}, a global collector: not pinned to the "
                f"required region {required}; check where it stores the data.{instead}",
            )
        else:
            yield finding(
                Severity.VIOLATION,
                f"Telemetry sent to {host}{where} in region {region}, outside the required "
                f"region {required}.",
            )
