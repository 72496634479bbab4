"""`undecodable`: telemetry that could not be read in full is itself a finding."""

from __future__ import annotations

from collections.abc import Iterator

from diagscope.model import DecodeStatus, Finding, Severity
from diagscope.rules.base import RequestContext, Rule, register

CLAUSE = (
    "Improvement plan: \"een mogelijkheid de verzamelde gegevens te verifiëren\" (a way to verify "
    "the collected data); what cannot be decoded cannot be verified."
)


@register
class UndecodableRule(Rule):
    name = "undecodable"
    order = 10

    def check_request(self, ctx: RequestContext) -> Iterator[Finding]:
        decoded = ctx.decoded
        if decoded.status not in (DecodeStatus.UNDECODABLE, DecodeStatus.PARTIAL):
            return
        where = f" at byte {decoded.error_offset}" if decoded.error_offset is not None else ""
        kept = (
            f"; the {len(decoded.events)} events before it were decoded"
            if decoded.events
            else ""
        )
        # Not tied to the events' product: what could not be read may be anyone's.
        yield Finding(
            rule=self.name,
            severity=Severity.REVIEW,
            detail=f"Body ({decoded.content_type or 'unknown type'}, "
            f"{decoded.content_encoding or 'identity'}) could not be decoded{where}: "
            f"{decoded.error}{kept}. The raw bytes are kept as evidence.",
            clause=CLAUSE,
        )
