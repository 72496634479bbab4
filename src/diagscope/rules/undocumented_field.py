"""`undocumented-field`: an event sends Part C fields that Microsoft's list does not document.

The agreement asks for a way to verify what is sent; Microsoft's published lists say, per
event, which fields it carries. A field on the wire that the list does not name is
something the documentation does not account for: a review, one finding per event, the
detail listing every such field. Only events whose entry documents fields are judged (an
entry without a field list says nothing either way).

Names are compared without case and without the separators the documents and the wire
disagree on (`Data_build`, `Data.build`, `Databuild` are one field). Fields every event of a
product carries (Office's common data fields) and the SDK's own `EventInfo.*`/`PartA_*`
bookkeeping are documented once, not per event, and count as documented. A nested object
is judged by its children only when the list documents children (`Parent.Child`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from diagscope.model import Event, Finding, Severity
from diagscope.policy.catalogue import load_bundled
from diagscope.rules.base import RequestContext, Rule, register

_SEPARATORS = re.compile(r"[._\s]")
#: Part C fields the 1DS SDKs and Windows' client add to every event on their own.
_SDK_PREFIXES = ("eventinfo", "parta", "partb", "partc")
_SHOWN = 12


def fold(name: str) -> str:
    return _SEPARATORS.sub("", name.lower())


@lru_cache(maxsize=8)
def _common(product: str) -> frozenset[str]:
    catalogue = load_bundled(product) if product in ("office", "windows") else None
    if catalogue is None:
        return frozenset()
    return frozenset(fold(f) for f in catalogue.common_fields)


@lru_cache(maxsize=4096)
def _documented(fields: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """(every documented name folded, the folded names that have documented children)."""
    names = frozenset(fold(f) for f in fields)
    parents = frozenset(fold(f.rsplit(".", 1)[0]) for f in fields if "." in f)
    return names, parents


def undocumented(data: dict[str, Any], fields: tuple[str, ...], common: frozenset[str]
                 ) -> list[str]:
    names, parents = _documented(fields)
    found: list[str] = []
    for key, value in data.items():
        folded = fold(str(key))
        if folded.startswith(_SDK_PREFIXES) or folded in common:
            continue
        if folded in parents:  # the list names its children: judge those
            if isinstance(value, dict):
                found.extend(f"{key}.{child}" for child in value
                             if fold(f"{key}.{child}") not in names)
            continue
        if folded not in names:
            found.append(str(key))
    return found


@register
class UndocumentedFieldRule(Rule):
    name = "undocumented-field"
    order = 70

    def check_event(self, event: Event, ctx: RequestContext) -> Iterator[Finding]:
        entry = ctx.classifier.facts(event.name).catalogue
        fields = getattr(entry, "fields", ())
        if entry is None or not fields or not event.data:
            return
        product = ctx.classifier.facts(event.name).catalogue_product or event.product.value
        extra = undocumented(event.data, tuple(fields), _common(product))
        if not extra:
            return
        shown = ", ".join(extra[:_SHOWN]) + (f" and {len(extra) - _SHOWN} more"
                                             if len(extra) > _SHOWN else "")
        yield self.about(
            event, Severity.REVIEW,
            f"{len(extra)} field{'s' if len(extra) != 1 else ''} sent that Microsoft's list "
            f"does not document for {entry.name}: {shown}.",
            ctx.policy.catalogue_clause, field=f"data.{extra[0]}",
        )
