"""Signals of an event's purpose: name segments and privacy data categories."""

from __future__ import annotations

import re

from diagscope.classify.level import as_int
from diagscope.classify.otel import otel_categories
from diagscope.model import Event
from diagscope.policy.model import NameRule

#: MicrosoftTelemetry.h privacy data tags (PDT_*) and the category names Microsoft's
#: documentation and the Diagnostic Data Viewer use for them.
PRIVACY_TAGS: tuple[tuple[int, str], ...] = (
    (0x0000_0000_0000_0002, "Browsing history"),
    (0x0000_0000_0000_0800, "Device connectivity and configuration"),
    (0x0000_0000_0002_0000, "Inking typing and speech utterance"),
    (0x0000_0000_0100_0000, "Product and service performance"),
    (0x0000_0000_0200_0000, "Product and service usage"),
    (0x0000_0000_8000_0000, "Software setup and inventory"),
)

PRIV_TAG_FIELDS = ("EventInfo.PrivTags", "EventInfo_PrivTags", "PartA_PrivTags")

_SPLIT = re.compile(r"[._]+")


def name_segments(name: str) -> tuple[str, ...]:
    return tuple(s for s in _SPLIT.split(name.lower()) if s)


class NameRules:
    """Precompiled segment rules: `Office.Add.Load` has segments office, add, load."""

    def __init__(self, rules: list[NameRule]) -> None:
        self._rules: list[tuple[tuple[str, ...], str, str]] = []
        for rule in rules:
            for pattern in rule.segments:
                self._rules.append((name_segments(pattern), rule.purpose, pattern))
        # Longer patterns first so `Feed.Survey` is judged before a one-segment rule.
        self._rules.sort(key=lambda r: -len(r[0]))

    def match(self, name: str) -> tuple[str, str] | None:
        """(purpose, matched pattern) for the first rule whose segments appear in order."""
        segments = name_segments(name)
        for pattern, purpose, text in self._rules:
            width = len(pattern)
            for i in range(len(segments) - width + 1):
                if segments[i : i + width] == pattern:
                    return purpose, text
        return None


def privacy_categories(event: Event) -> tuple[list[str], str] | None:
    """Categories from the privacy tag bitmask the event carries, with where it was found."""
    candidates: list[tuple[str, object]] = []
    for source_name, source in (("data", event.data), ("baseData", event.base_data)):
        for key in PRIV_TAG_FIELDS:
            if key in source:
                candidates.append((f"{source_name}.{key}", source[key]))
    metadata = event.ext.get("metadata")
    if isinstance(metadata, dict) and "privTags" in metadata:
        candidates.append(("ext.metadata.privTags", metadata["privTags"]))
    otel = otel_categories(event.data)
    if otel is not None:
        return otel
    for where, value in candidates:
        tags = as_int(value)
        if tags is None:
            continue
        names = [label for bit, label in PRIVACY_TAGS if tags & bit]
        if names:
            return names, f"{where} = {tags:#x}"
    return None
