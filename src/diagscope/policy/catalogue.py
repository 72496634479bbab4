"""Microsoft's published diagnostic events, as shipped in `policies/catalogue/*.json`.

The files are written by scripts/build_catalogue.py from Microsoft's documents. Every CLI
call and proxy start loads them, so loading is one orjson parse and one pass that shares
the document (source) objects between entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

PRODUCTS = ("office", "windows")
# From least to most data: the order in which an event's levels are listed.
LEVEL_ORDER = ("essential", "service", "required", "enhanced", "optional")
# Edge events in the Windows documents: `Aria.<tenant token>.<event name>`.
_ARIA = re.compile(r"^Aria\.([0-9a-fA-F]{32})\.(.+)$")


@dataclass(slots=True, frozen=True)
class Source:
    """One of Microsoft's documents, at the commit it was read."""

    id: str
    repository: str
    path: str
    commit: str
    level: str
    versions: tuple[str, ...]
    title: str

    def describe(self) -> str:
        return f"{self.repository}@{self.commit[:12]}:{self.path}"


@dataclass(slots=True, frozen=True)
class Category:
    """A data category a document describes without listing (all) its events."""

    name: str
    level: str
    description: str
    sources: tuple[Source, ...]


@dataclass(slots=True, frozen=True)
class CatalogueEntry:
    name: str
    product: str
    level: str  # the lowest of `levels`
    levels: tuple[str, ...]
    category: str | None  # the area (an essential service, a data category, a component)
    subtype: str | None
    description: str
    fields: tuple[str, ...]
    sources: tuple[Source, ...]
    tenant: str | None = None  # the tenant token of an `Aria.<tenant>.<name>` event

    @property
    def short_name(self) -> str:
        """The name without an `Aria.<tenant>.` prefix."""
        found = _ARIA.match(self.name)
        return found.group(2) if found else self.name


def _fold(name: str) -> str:
    # Office documents some events with `_` where the wire has `.` (and vice versa), and
    # a few documented names carry a stray space.
    return "".join(name.split()).lower().replace("_", ".")


def _level_rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


class EventCatalogue:
    def __init__(self, product: str, entries: list[CatalogueEntry],
                 documents: tuple[Source, ...] = (), categories: tuple[Category, ...] = (),
                 common_fields: frozenset[str] = frozenset()) -> None:
        self.product = product
        self.documents = documents
        self.categories = categories
        self.common_fields = common_fields
        self._exact = {e.name: e for e in entries}
        self._folded: dict[str, CatalogueEntry] = {}
        self._short: dict[str, list[CatalogueEntry]] = {}
        for entry in entries:
            self._folded.setdefault(_fold(entry.name), entry)
            if entry.tenant is not None:
                self._short.setdefault(_fold(entry.short_name), []).append(entry)

    def __len__(self) -> int:
        return len(self._exact)

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(self._exact.values())

    def lookup(self, name: str) -> CatalogueEntry | None:
        """Exact name; then case-insensitively with `_` and `.` alike; then an Edge event
        by the name it has without its `Aria.<tenant>.` prefix."""
        found = self._exact.get(name) or self._folded.get(_fold(name))
        if found is not None or not self._short:
            return found
        aria = _ARIA.match(name)
        tenants = self._short.get(_fold(aria.group(2) if aria else name))
        return tenants[0] if tenants else None

    def tenants(self, name: str) -> tuple[str, ...]:
        """Every tenant token under which an Edge event (short or full name) is listed."""
        aria = _ARIA.match(name)
        entries = self._short.get(_fold(aria.group(2) if aria else name), [])
        return tuple(e.tenant for e in entries if e.tenant is not None)

    def search(self, text: str) -> list[CatalogueEntry]:
        """Entries whose name, area or description contains `text` (any case); entries
        matched by name first, each group in name order."""
        needle = text.casefold()
        by_name, by_other = [], []
        for entry in self._exact.values():
            if needle in entry.name.casefold():
                by_name.append(entry)
            elif needle in (entry.category or "").casefold() or \
                    needle in entry.description.casefold():
                by_other.append(entry)
        return sorted(by_name, key=lambda e: e.name) + sorted(by_other, key=lambda e: e.name)

    def stats(self) -> dict[str, Any]:
        """Events, events with documented fields, documents, and events per level and per
        document (an event listed at two levels or in two documents counts in each)."""
        levels = {level: 0 for level in LEVEL_ORDER}
        documents = {d.id: 0 for d in self.documents}
        for entry in self._exact.values():
            for level in entry.levels:
                levels[level] = levels.get(level, 0) + 1
            for source in entry.sources:
                documents[source.id] = documents.get(source.id, 0) + 1
        return {
            "events": len(self._exact),
            "with_fields": sum(1 for e in self._exact.values() if e.fields),
            "sources": len(self.documents),
            "levels": {k: v for k, v in levels.items() if v},
            "documents": documents,
        }

    @classmethod
    def from_file(cls, path: str | Path) -> EventCatalogue:
        return _load(str(path))


@lru_cache(maxsize=8)
def _load(path: str) -> EventCatalogue:
    document = orjson.loads(Path(path).read_bytes())
    product = document.get("product", "")
    sources = {
        d["id"]: Source(d["id"], d["repository"], d["path"], d["commit"], d["level"],
                        tuple(d.get("versions", ())), d.get("title", ""))
        for d in document.get("documents", [])
    }
    shared: dict[tuple[str, ...], tuple[Source, ...]] = {}

    def sources_of(ids: list[str]) -> tuple[Source, ...]:
        key = tuple(ids)
        found = shared.get(key)
        if found is None:
            found = shared[key] = tuple(sources[i] for i in ids if i in sources)
        return found

    entries = []
    for item in document.get("events", []):
        levels = tuple(item["levels"])
        entries.append(CatalogueEntry(
            name=item["name"], product=product, level=min(levels, key=_level_rank),
            levels=levels, category=item.get("area"), subtype=item.get("subtype"),
            description=item.get("description", ""), fields=tuple(item.get("fields", ())),
            sources=sources_of(item.get("sources", [])), tenant=item.get("tenant"),
        ))
    categories = tuple(
        Category(c["name"], c["level"], c.get("description", ""),
                 sources_of(c.get("sources", [])))
        for c in document.get("categories", [])
    )
    return EventCatalogue(product, entries, tuple(sources.values()), categories,
                          frozenset(document.get("common_fields", ())))


def bundled_path(product: str) -> Path:
    return Path(str(resources.files("diagscope") / "policies" / "catalogue" / f"{product}.json"))


def load_bundled(product: str) -> EventCatalogue | None:
    path = bundled_path(product)
    return EventCatalogue.from_file(path) if path.exists() else None


@lru_cache(maxsize=1)
def load_all() -> tuple[EventCatalogue, ...]:
    return tuple(c for c in (load_bundled(p) for p in PRODUCTS) if c is not None)


def lookup_any(name: str) -> tuple[str, CatalogueEntry] | None:
    """(product, entry) from whichever bundled catalogue documents the event."""
    for catalogue in load_all():
        entry = catalogue.lookup(name)
        if entry is not None:
            return catalogue.product, entry
    return None


def search_all(text: str, product: str | None = None) -> list[CatalogueEntry]:
    """`EventCatalogue.search` over the bundled catalogues (or one product's)."""
    found: list[CatalogueEntry] = []
    for catalogue in load_all():
        if product is None or catalogue.product == product:
            found.extend(catalogue.search(text))
    needle = text.casefold()
    # Keep "matched by name first" across products too.
    return sorted(found, key=lambda e: (needle not in e.name.casefold(), e.name))


def stats() -> dict[str, Any]:
    """{"products": {product: EventCatalogue.stats()}} for the bundled catalogues."""
    return {"products": {c.product: c.stats() for c in sorted(load_all(),
                                                             key=lambda c: c.product)}}


def suggest(name: str, limit: int = 5) -> list[str]:
    """Documented names close to one that is not documented: names containing its last
    segment or the whole of it, else the nearest spellings."""
    import difflib

    names: list[str] = []
    last = re.split(r"[._]", name.strip())[-1]
    for text in dict.fromkeys((name.strip(), last)):
        if len(text) >= 3:
            names += [e.name for e in search_all(text) if e.name not in names]
    if not names:
        every = [e.name for c in load_all() for e in c]
        names = difflib.get_close_matches(name, every, n=limit, cutoff=0.6)
    return names[:limit]


def describe(entry: CatalogueEntry) -> str:
    """Every documented detail of an entry, one item a line, for people."""
    lines = [
        f"{entry.name}",
        f"  product:     {entry.product}",
        f"  levels:      {', '.join(entry.levels)}",
        f"  area:        {entry.category or '-'}",
        f"  subtype:     {entry.subtype or '-'}",
    ]
    if entry.tenant:
        lines.append(f"  tenant:      {entry.tenant} (Edge event {entry.short_name})")
    lines.append(f"  description: {entry.description or '-'}")
    lines.append(f"  fields ({len(entry.fields)}):" + ("" if entry.fields else " none documented"))
    lines += [f"    {name}" for name in entry.fields]
    lines.append(f"  sources ({len(entry.sources)}):")
    for source in entry.sources:
        lines.append(f"    {source.repository}  {source.path}")
        lines.append(f"      commit {source.commit}, level {source.level}, "
                     f"{', '.join(source.versions)}")
    return "\n".join(lines)


def stats_lines(figures: dict[str, Any]) -> list[str]:
    """`stats()` as `diagscope catalogue stats` prints it."""
    lines = []
    for product, counts in figures["products"].items():
        lines.append(f"{product}: {counts['events']} events, {counts['with_fields']} with "
                     f"fields, {counts['sources']} documents")
        lines.append("  levels: " + ", ".join(f"{k} {v}" for k, v in counts["levels"].items()))
        lines += [f"  {document}: {count}" for document, count in counts["documents"].items()]
    return lines
