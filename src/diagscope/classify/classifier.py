"""Decide what an event is (product, level, purpose) from the wire, the catalogue and policy.

Per-name work (catalogue look-up, policy overrides, name rules) is cached, because a
replay sees the same few hundred event names hundreds of thousands of times.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from diagscope.classify.level import LevelSignal, combine, viewer_signals, wire_signals
from diagscope.classify.product import product_of
from diagscope.classify.purpose import NameRules, privacy_categories
from diagscope.model import LEVEL_RANK, Event, Level, Product, level_above, parse_level
from diagscope.policy.model import EventOverride, Policy, glob_match
from diagscope.sources.viewer import ViewerFacts


class CatalogueEntry(Protocol):
    name: str
    level: str
    category: str | None
    subtype: str | None


CatalogueLookup = Callable[[str], "tuple[str, Any] | None"]


@dataclass(slots=True, frozen=True)
class NameFacts:
    """Everything that follows from an event's name alone."""

    catalogue_product: str | None
    catalogue: Any | None  # CatalogueEntry
    override: EventOverride | None
    override_pattern: str | None
    name_purpose: tuple[str, str] | None


def _no_catalogue(_name: str) -> None:
    return None


class Classifier:
    def __init__(self, policy: Policy, catalogue: CatalogueLookup | None = None) -> None:
        self.policy = policy
        self.catalogue = catalogue or _no_catalogue
        self.name_rules = NameRules(policy.name_rules)
        self._exact = {k: v for k, v in policy.events.items() if "*" not in k}
        self._globs = [(k, v) for k, v in policy.events.items() if "*" in k]
        self._security = {
            product: list(p.security_events) for product, p in policy.products.items()
        }
        self._facts: dict[str, NameFacts] = {}

    def facts(self, name: str) -> NameFacts:
        facts = self._facts.get(name)
        if facts is None:
            found = self.catalogue(name)
            override = self._exact.get(name)
            pattern: str | None = name
            if override is None:
                pattern = None
                for glob, candidate in self._globs:
                    if fnmatch.fnmatchcase(name, glob):
                        override, pattern = candidate, glob
                        break
            facts = NameFacts(
                catalogue_product=found[0] if found else None,
                catalogue=found[1] if found else None,
                override=override,
                override_pattern=pattern,
                name_purpose=self.name_rules.match(name),
            )
            if len(self._facts) < 100_000:  # hostile traffic must not grow this forever
                self._facts[name] = facts
        return facts

    def is_security_event(self, product: Product, name: str) -> bool:
        return any(glob_match(name, g) for g in self._security.get(product.value, ()))

    def classify(self, event: Event, host: str = "", viewer: ViewerFacts | None = None
                 ) -> NameFacts:
        facts = self.facts(event.name)
        call = product_of(event, host, facts.catalogue_product)
        event.product, event.product_reason = call.product, call.reason
        event.level, event.level_reason = self._level(event, facts, viewer)
        event.purpose, event.purpose_reason = self._purpose(event, facts, viewer)
        return facts

    def _level(self, event: Event, facts: NameFacts, viewer: ViewerFacts | None
               ) -> tuple[Level, str]:
        signals = wire_signals(event) + viewer_signals(viewer)
        if self.is_security_event(event.product, event.name):
            wire = combine(signals)
            extra = f" (wire: {wire[1]})" if wire[0] is not Level.UNKNOWN else ""
            return Level.ESSENTIAL, f"listed by the policy as a security-level event{extra}"
        if any(s.level is not Level.UNKNOWN for s in signals):
            level, reason = combine(signals)
        elif facts.override is not None and facts.override.level is not None:
            level = facts.override.level
            reason = f"policy lists {facts.override_pattern} at {level.value}"
        else:
            if facts.catalogue is not None:
                try:
                    documented = parse_level(facts.catalogue.level)
                except ValueError:
                    documented = Level.UNKNOWN
                if documented is not Level.UNKNOWN:
                    signals.append(LevelSignal(documented, _documented(facts.catalogue)))
            level, reason = combine(signals) if signals else (
                Level.UNKNOWN, "no level signal and not in the catalogue")
        return self._closed_set(event, level, reason)

    def _closed_set(self, event: Event, level: Level, reason: str) -> tuple[Level, str]:
        """Where the agreed level is a closed set (Windows at Security: only the listed
        security events), an event outside the list is above it, known or not."""
        product_policy = self.policy.products.get(event.product.value)
        if product_policy is None or not product_policy.only_security_events:
            return level, reason
        allowed = product_policy.max_level
        outside = (f"not one of the security-level events the policy lists for "
                   f"{event.product.value}, the only ones {allowed.value} allows")
        if level is not Level.UNKNOWN and LEVEL_RANK[level] > LEVEL_RANK[allowed]:
            return level, f"{reason}; {outside}"
        above = level_above(allowed, event.product.value)
        evidence = "no catalogue entry or wire signal says more" if level is Level.UNKNOWN \
            else f"the other evidence ({reason}) cannot place it lower"
        return above, f"{outside}, so at least {above.value}; {evidence}"

    def _purpose(self, event: Event, facts: NameFacts, viewer: ViewerFacts | None
                 ) -> tuple[str, str]:
        if facts.override is not None and facts.override.purpose:
            return facts.override.purpose, f"policy maps {facts.override_pattern} to " \
                                           f"{facts.override.purpose}"
        if facts.name_purpose is not None:
            purpose, pattern = facts.name_purpose
            return purpose, f"name segment {pattern!r} means {purpose}"
        categories = privacy_categories(event)
        if categories is None and viewer is not None and viewer.categories:
            categories = (viewer.category_names, "the Diagnostic Data Viewer's categories "
                          f"{', '.join(str(c) for c in viewer.categories)}")
        mapping = self.policy.categories
        if categories is not None:
            names, where = categories
            for name in names:
                if name in mapping:
                    return mapping[name], f"{where}: category {name!r} serves {mapping[name]}"
            return "unknown", f"{where}: categories {', '.join(names)} map to no permitted purpose"
        if facts.catalogue is not None and facts.catalogue.category:
            category = facts.catalogue.category
            if category in mapping:
                return mapping[category], (
                    f"catalogue category {category!r} serves {mapping[category]}"
                )
            return "unknown", f"catalogue category {category!r} maps to no purpose in the policy"
        return "unknown", "no purpose signal: not in the policy or catalogue, no name rule or " \
                          "privacy tag"


def _documented(entry: Any) -> str:
    """`catalogue documents Census.OS at required (Windows 10 1703, ...; 9 documents)`."""
    sources = getattr(entry, "sources", ())
    versions: list[str] = []
    for source in sources:
        for version in getattr(source, "versions", ()) or ():
            if version not in versions:
                versions.append(version)
    where = ""
    if versions:
        shown = ", ".join(versions[:3]) + (f" and {len(versions) - 3} more" if len(versions) > 3
                                           else "")
        where = f" ({shown})"
    return f"catalogue documents {entry.name} at {entry.level}{where}"
