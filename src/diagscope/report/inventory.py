"""Which accepted envelope identifiers a run sent, and how many distinct values of each.

The policy's envelope identifiers raise no finding event by event; an auditor still wants
to see them: which fields, which prefixes, how many different devices or users they name.
Counted from the stored events, which hold every identifier as sent; values are compared,
never printed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from diagscope.policy.model import PersonalData
from diagscope.report.model import EnvelopeIdentifier


def _at(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _prefix(value: str) -> str:
    head, colon, _ = value.partition(":")
    return f"{head}:" if colon and len(head) <= 3 else "(none)"


def envelope_inventory(documents: Iterable[str], personal_data: PersonalData
                       ) -> list[EnvelopeIdentifier]:
    """Count the accepted identifiers in a run's events, given as Common Schema JSON texts
    (`store.queries.iter_event_json`); the texts are not read at all when the policy
    accepts none."""
    accepted = [e for e in personal_data.envelope_identifiers if "*" not in e.field]
    if not accepted:
        return []
    counts = {e.field: Counter[str]() for e in accepted}
    values: dict[str, set[bytes]] = {e.field: set() for e in accepted}
    for cs in documents:
        document = orjson.loads(cs)
        for entry in accepted:
            value = _at(document, entry.field)
            if isinstance(value, str) and value and entry.accepts(entry.field, value):
                counts[entry.field][_prefix(value)] += 1
                # A digest, not the value: the inventory counts identifiers, it keeps none.
                values[entry.field].add(hashlib.sha256(value.encode()).digest())
    return [
        EnvelopeIdentifier(field=e.field, description=e.description,
                           events=sum(counts[e.field].values()),
                           distinct_values=len(values[e.field]),
                           prefixes=dict(counts[e.field].most_common()))
        for e in accepted if counts[e.field]
    ]
