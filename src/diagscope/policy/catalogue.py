"""Microsoft's published diagnostic events, as shipped in `policies/catalogue/*.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

try:
    _Loader = yaml.CSafeLoader  # the catalogue is large; the C loader is many times faster
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader  # type: ignore[misc]

PRODUCTS = ("office", "windows")


@dataclass(slots=True, frozen=True)
class CatalogueEntry:
    name: str
    level: str
    category: str | None
    subtype: str | None
    description: str
    fields: tuple[str, ...]
    sources: tuple[str, ...]


class EventCatalogue:
    def __init__(self, product: str, entries: list[CatalogueEntry],
                 sources: list[dict[str, object]]) -> None:
        self.product = product
        self.sources = sources
        self._exact = {e.name: e for e in entries}
        self._folded: dict[str, CatalogueEntry] = {}
        for entry in entries:
            self._folded.setdefault(self._fold(entry.name), entry)

    @staticmethod
    def _fold(name: str) -> str:
        # Office documents some events with `_` where the wire has `.` (and vice versa).
        return name.lower().replace("_", ".")

    def __len__(self) -> int:
        return len(self._exact)

    def lookup(self, name: str) -> CatalogueEntry | None:
        """Exact name first, then case-insensitively with `_` and `.` treated alike."""
        return self._exact.get(name) or self._folded.get(self._fold(name))

    @classmethod
    def from_file(cls, path: str | Path) -> EventCatalogue:
        return _load(str(path))


@lru_cache(maxsize=8)
def _load(path: str) -> EventCatalogue:
    with open(path, encoding="utf-8") as fo:
        document = yaml.load(fo, Loader=_Loader)  # a safe loader: plain data only
    entries = [
        CatalogueEntry(
            name=item["name"], level=item["level"], category=item.get("category"),
            subtype=item.get("subtype"), description=item.get("description", ""),
            fields=tuple(item.get("fields", ())), sources=tuple(item.get("sources", ())),
        )
        for item in document.get("events", [])
    ]
    return EventCatalogue(document.get("product", ""), entries, document.get("sources", []))


def bundled_path(product: str) -> Path:
    return Path(str(resources.files("diagscope") / "policies" / "catalogue" / f"{product}.yaml"))


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
