"""`personal-data`: personal data in events, found, declared by the client, or planted.

Four sources, one rule: the detectors (`diagscope.pii`) look at every value, decoded from
the layers it was sent in; fields the client itself marked as PII or customer content are
reported when they carry a value in the clear; an event that declares inking, typing and
speech data (privacy tag `PDT_InkingTypingAndSpeechUtterance` 0x20000, the viewer's
category 17, OTel's data category 16) carries what a user typed or dictated; and the
tester's canaries are searched in every encoding. The policy's allowances exempt accepted
pseudonymous values and its envelope identifiers (which the report inventories instead),
but never a canary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from diagscope.classify.purpose import privacy_categories
from diagscope.fields import value_at
from diagscope.model import Event, Finding, Severity
from diagscope.pii.mask import mask
from diagscope.pii.scan import scanner_for, string_values
from diagscope.rules.base import RequestContext, Rule, register

# What a client-side hash of a declared PII field looks like (HASH_PII): hex digests.
_HASHED = re.compile(r"[0-9A-Fa-f]{32,128}|[A-Za-z0-9+/]{43}=")


_TYPING = "Inking typing and speech utterance"


def _declares_typing(event: Event, ctx: RequestContext) -> tuple[str, str] | None:
    """(field, where) when the event's privacy categories include typed or dictated data."""
    declared = privacy_categories(event)
    if declared is not None and _TYPING in declared[0]:
        where = declared[1]
        return where.split(" = ", 1)[0], where
    viewer = ctx.viewer
    if viewer is not None and 17 in viewer.categories:
        return "ddv.DiagnosticDataCategories", "the Diagnostic Data Viewer's category 17"
    return None


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


@register
class PersonalDataRule(Rule):
    name = "personal-data"
    order = 80

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        policy = ctx.policy.personal_data
        canaries = ctx.canaries
        reported: set[tuple[str, str]] = set()

        def finding(kind: str, field: str, value: str | None, detail: str,
                    clause: str | None = None) -> Finding:
            reported.add((field, kind))
            return self.about(event, Severity.VIOLATION, detail,
                                 clause or policy.clause, field=field, pii_kind=kind,
                                 value=value)

        if canaries:
            for path, _, text in string_values(event):
                for canary in canaries.find(text):
                    yield finding("canary", path, f"[canary {canary.label}]",
                                  f"The planted canary {canary.label!r} is sent in this field, "
                                  f"as {canary.encoding}.")
        typed_fields: list[str] = []
        for hit in scanner_for(policy.phone_region).scan(event):
            if (hit.field, hit.kind) in reported:
                continue
            if policy.allowance_for(hit.field, hit.value) is not None:
                continue
            if hit.kind == "identifier" and \
                    policy.accepted_identifier(hit.field, hit.value) is not None:
                continue
            if hit.kind == "customer-content":
                typed_fields.append(hit.field)
            detail = hit.detail
            if hit.layers:
                detail += f" (decoded: {' -> '.join(hit.layers)})"
            yield finding(hit.kind, hit.field, mask(hit.value, hit.kind), detail)

        declared = _declares_typing(event, ctx)
        if declared is not None and not typed_fields:
            yield finding(
                "customer-content", declared[0], None,
                f"The event declares inking, typing and speech utterance data ({declared[1]}): "
                "what a user typed, wrote or said.",
            )

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
