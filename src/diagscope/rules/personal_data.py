"""`personal-data`: personal data in events, found, declared by the client, or planted.

Three sources, one rule: the detectors (`diagscope.pii`) look at every value; fields the
client itself marked as PII or customer content are reported when they carry a value in
the clear; and the tester's canaries are searched in every encoding. The policy's
allowances exempt accepted pseudonymous values, but never a canary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from diagscope.fields import value_at
from diagscope.model import Event, Finding, Rule, Severity
from diagscope.pii.mask import mask
from diagscope.pii.scan import scan_event_values, string_values
from diagscope.rules.base import RequestContext
from diagscope.rules.base import Rule as BaseRule

# What a client-side hash of a declared PII field looks like (HASH_PII): hex digests.
_HASHED = re.compile(r"[0-9A-Fa-f]{32,128}|[A-Za-z0-9+/]{43}=")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class PersonalDataRule(BaseRule):
    name = Rule.PERSONAL_DATA

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        policy = ctx.policy.personal_data
        canaries = ctx.canaries
        reported: set[tuple[str, str]] = set()

        def finding(kind: str, field: str, value: str | None, detail: str,
                    clause: str | None = None) -> Finding:
            reported.add((field, kind))
            return Finding.about(event, Rule.PERSONAL_DATA, Severity.VIOLATION, detail,
                                 clause or policy.clause, field=field, pii_kind=kind,
                                 value=value)

        if canaries:
            for path, _, text in string_values(event):
                for canary in canaries.find(text):
                    yield finding("canary", path, f"[canary {canary.label}]",
                                  f"The planted canary {canary.label!r} is sent in this field, "
                                  f"as {canary.encoding}.")
        for hit in scan_event_values(event):
            if (hit.field, hit.kind) in reported:
                continue
            if policy.allowance_for(hit.field, hit.value) is not None:
                continue
            yield finding(hit.kind, hit.field, mask(hit.value, hit.kind), hit.detail)

        for path, mark in event.marks.items():
            value = value_at(event, path)
            text = _text(value)
            if not text or policy.allowance_for(path, text) is not None:
                continue
            if mark.pii_kind and (path, "declared-pii") not in reported \
                    and not _HASHED.fullmatch(text):
                yield finding(
                    "declared-pii", path, mask(text),
                    f"The client itself declared this field as personal data "
                    f"({mark.pii_kind}) and sent it in the clear.",
                )
            if mark.customer_content and (path, "customer-content") not in reported:
                yield finding(
                    "customer-content", path, mask(text),
                    "The client itself marked this field as customer content (what a user "
                    "wrote or made), and it was sent.",
                )
