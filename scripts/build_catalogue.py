"""Build diagscope's event catalogue from Microsoft's published lists of diagnostic events.

    python scripts/build_catalogue.py --out src/diagscope/policies/catalogue

reads the JSON Lines extracts in scripts/sources/ms-docs/{windows,office}/ (one object a
line: doc, commit, area, event, description, fields and, for Office, subtype; see the README
there) and writes `windows.json` and `office.json`. Nothing else is read: no network, no
repository checkout. The same input always gives the same bytes.

Each document has a level (DOCUMENTS below). An event listed in several documents keeps
every level, the union of its documented fields, every source, and the first non-empty
area, subtype and description in the order of DOCUMENTS (newest Windows release first).
Rows that are not events are told apart by their area: common data extensions and fields,
revision notes, and the headings under which a Windows document describes the structure of
a field (`wilActivity`, `COMPID`) rather than an event. Data categories come from the
documents that describe categories (level optional or service).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCES = HERE / "sources" / "ms-docs"
DEFAULT_OUT = HERE.parent / "src" / "diagscope" / "policies" / "catalogue"
GENERATED_BY = "scripts/build_catalogue.py"
LEVEL_ORDER = ("essential", "service", "required", "enhanced", "optional")
DESCRIPTION_LIMIT = 300

WINDOWS_REPO = "MicrosoftDocs/windows-itpro-docs"
OFFICE_REPO = "MicrosoftDocs/OfficeDocs-DeployOffice"
OFFICE_VERSIONS = ("Microsoft 365 Apps", "Office 2016, 2019, 2021 and 2024 (retail and LTSC)",
                   "Office for Mac, iOS and Android")


@dataclass(frozen=True)
class Document:
    id: str
    product: str
    repository: str
    path: str
    level: str
    versions: tuple[str, ...]
    title: str


def _windows(id_: str, name: str, level: str, versions: tuple[str, ...], title: str
             ) -> Document:
    return Document(id_, "windows", WINDOWS_REPO, f"windows/privacy/{name}.md", level,
                    versions, title)


def _office(id_: str, name: str, level: str, title: str) -> Document:
    return Document(id_, "office", OFFICE_REPO, f"microsoft-365-apps/privacy/{name}.md", level,
                    OFFICE_VERSIONS, title)


# In merge order: where documents disagree on an area or description, the first one wins.
DOCUMENTS: tuple[Document, ...] = (
    _windows("win11-24h2", "required-diagnostic-events-fields-windows-11-24H2", "required",
             ("Windows 11 24H2",),
             "Required diagnostic events and fields for Windows 11, version 24H2"),
    _windows("win11-22h2", "required-diagnostic-events-fields-windows-11-22H2", "required",
             ("Windows 11 22H2", "Windows 11 23H2"),
             "Required diagnostic events and fields for Windows 11, versions 23H2 and 22H2"),
    _windows("win11-21h2", "required-windows-11-diagnostic-events-and-fields", "required",
             ("Windows 11 21H2",),
             "Required diagnostic events and fields for Windows 11, version 21H2"),
    _windows("win10-2004", "required-windows-diagnostic-data-events-and-fields-2004",
             "required", ("Windows 10 2004", "Windows 10 20H2", "Windows 10 21H1",
                          "Windows 10 21H2", "Windows 10 22H2"),
             "Required diagnostic events and fields for Windows 10, versions 2004 to 22H2"),
    _windows("win10-1903", "basic-level-windows-diagnostic-events-and-fields-1903", "required",
             ("Windows 10 1903", "Windows 10 1909"),
             "Windows 10, versions 1903 and 1909, required (basic) diagnostic events and fields"),
    _windows("win10-1809", "basic-level-windows-diagnostic-events-and-fields-1809", "required",
             ("Windows 10 1809",),
             "Windows 10, version 1809, basic level Windows diagnostic events and fields"),
    _windows("win10-1803", "basic-level-windows-diagnostic-events-and-fields-1803", "required",
             ("Windows 10 1803",),
             "Windows 10, version 1803, basic level Windows diagnostic events and fields"),
    _windows("win10-1709", "basic-level-windows-diagnostic-events-and-fields-1709", "required",
             ("Windows 10 1709",),
             "Windows 10, version 1709, basic level Windows diagnostic events and fields"),
    _windows("win10-1703", "basic-level-windows-diagnostic-events-and-fields-1703", "required",
             ("Windows 10 1703",),
             "Windows 10, version 1703, basic level Windows diagnostic events and fields"),
    _windows("win10-enhanced", "enhanced-diagnostic-data-windows-analytics-events-and-fields",
             "enhanced", ("Windows 10 1709 and later",),
             "Windows 10 diagnostic data events and fields collected through the limit "
             "enhanced diagnostic data policy"),
    _windows("win10-full", "windows-diagnostic-data", "optional",
             ("Windows 10 1709", "Windows 10 1803", "Windows 10 1809", "Windows 10 1903",
              "Windows 10 1909"),
             "Windows 10, version 1709 and newer diagnostic data for the Full (optional) level"),
    _office("office-essential", "essential-services", "essential",
            "Essential services for Office (required service data)"),
    _office("office-required", "required-diagnostic-data", "required",
            "Required diagnostic data for Office"),
    _office("office-optional", "optional-diagnostic-data", "optional",
            "Optional diagnostic data for Office: categories and example events"),
    _office("office-service", "required-service-data", "service",
            "Required service data for Office: categories"),
)
PRODUCTS = ("windows", "office")

# Areas whose rows document data common to many events, or notes, not events.
SECTION_AREAS = frozenset({
    "Common data extensions", "Common data fields", "Revisions",
    "ISO/IEC 19944:2017-specific terminology",
})
COMMON_FIELDS_AREA = "Categories and data fields that are common for all events"
# Windows event names have a provider and a name (`Census.OS`); a heading without a dot
# describes the structure of a field (`wilActivity`, `COMPID`, `IO`) that events refer to.
_WINDOWS_EVENT = re.compile(r"\S+\.\S+")
_ARIA = re.compile(r"^Aria\.([0-9a-fA-F]{32})\.(.+)$")


class SourceError(Exception):
    """The extracts do not match what the builder knows about the documents."""


@dataclass
class Event:
    name: str
    levels: set[str] = field(default_factory=set)
    area: str | None = None
    subtype: str | None = None
    description: str = ""
    fields: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)


@dataclass
class Category:
    name: str
    level: str
    description: str = ""
    sources: list[str] = field(default_factory=list)


@dataclass
class Catalogue:
    product: str
    documents: list[dict[str, object]] = field(default_factory=list)
    common_fields: set[str] = field(default_factory=set)
    categories: dict[tuple[str, str], Category] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)


def one_line(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    return text[: DESCRIPTION_LIMIT - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def area_name(area: str, event: str) -> str | None:
    """`Appraiser events` -> `Appraiser`; a document without areas heads events by name."""
    if not area or area == event:
        return None
    return re.sub(r"\s+(data\s+)?events$", "", area.strip(), flags=re.IGNORECASE) or None


def event_name(name: str) -> str:
    # `Microsoft.Windows.Inventory.General. InventoryMiscellaneous...`: a stray space.
    return re.sub(r"\.\s+", ".", name.strip())


def row_kind(product: str, row: dict[str, object]) -> str:
    """`event`, `category`, `common-fields` or `section` (kept out of the catalogue)."""
    area, name = str(row["area"]), str(row["event"])
    if area == COMMON_FIELDS_AREA:
        return "common-fields"
    if area.startswith("Categories of") or (name == area and area.endswith(" data")):
        return "category"
    if area in SECTION_AREAS or "common for" in area.lower():
        return "section"
    if product == "windows" and not _WINDOWS_EVENT.fullmatch(event_name(name)):
        return "section"
    return "event"


def read_rows(sources: Path) -> Iterator[tuple[Document, dict[str, object]]]:
    """Every row of every extract, with the document it belongs to, in DOCUMENTS order."""
    by_path = {(d.product, d.path): d for d in DOCUMENTS}
    found: dict[str, list[dict[str, object]]] = {}
    for product in PRODUCTS:
        for file in sorted((sources / product).glob("*.jsonl")):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                document = by_path.get((product, row["doc"]))
                if document is None:
                    raise SourceError(f"{file}:{number}: unknown document {row['doc']}")
                found.setdefault(document.id, []).append(row)
    for document in DOCUMENTS:
        for row in found.get(document.id, []):
            yield document, row


def build(sources: Path) -> dict[str, Catalogue]:
    catalogues = {p: Catalogue(p) for p in PRODUCTS}
    commits: dict[str, str] = {}
    for document, row in read_rows(sources):
        catalogue = catalogues[document.product]
        commit = str(row["commit"])
        if commits.setdefault(document.id, commit) != commit:
            raise SourceError(f"{document.path}: rows from two commits, {commits[document.id]} "
                              f"and {commit}")
        kind = row_kind(document.product, row)
        if kind == "event":
            _add_event(catalogue, document, row)
        elif kind == "category":
            _add_category(catalogue, document, row)
        elif kind == "common-fields":
            catalogue.common_fields.update(f"{row['event']}.{f}" for f in _strings(row["fields"]))
    for document in DOCUMENTS:
        if document.id in commits:
            catalogues[document.product].documents.append({
                "id": document.id, "repository": document.repository, "path": document.path,
                "commit": commits[document.id], "level": document.level,
                "versions": list(document.versions), "title": document.title,
            })
    return catalogues


def _strings(value: object) -> list[str]:
    return [str(v).strip() for v in value if str(v).strip()] if isinstance(value, list) else []


def _add_event(catalogue: Catalogue, document: Document, row: dict[str, object]) -> None:
    name = event_name(str(row["event"]))
    event = catalogue.events.setdefault(name, Event(name))
    event.levels.add(document.level)
    event.fields.update(_strings(row["fields"]))
    if document.id not in event.sources:
        event.sources.append(document.id)
    event.area = event.area or area_name(str(row["area"]), str(row["event"]))
    event.subtype = event.subtype or (str(row.get("subtype") or "") or None)
    event.description = event.description or one_line(str(row.get("description") or ""))


def _add_category(catalogue: Catalogue, document: Document, row: dict[str, object]) -> None:
    name = str(row["event"])
    category = catalogue.categories.setdefault((name, document.level),
                                               Category(name, document.level))
    category.description = category.description or one_line(str(row.get("description") or ""))
    if document.id not in category.sources:
        category.sources.append(document.id)


def _sorted_fields(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=lambda n: (n.casefold(), n))


def event_json(event: Event) -> dict[str, object]:
    aria = _ARIA.match(event.name)
    return {
        "name": event.name,
        "levels": sorted(event.levels, key=LEVEL_ORDER.index),
        "area": event.area,
        "subtype": event.subtype,
        "description": event.description,
        "fields": _sorted_fields(event.fields),
        "sources": event.sources,
        "tenant": aria.group(1).lower() if aria else None,
    }


def render(catalogue: Catalogue) -> str:
    """JSON with one document, category and event a line, so that diffs stay readable."""
    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    def block(items: list[str]) -> str:
        return "[\n" + ",\n".join(f"  {item}" for item in items) + "\n ]" if items else "[]"

    categories = sorted(catalogue.categories.values(),
                        key=lambda c: (LEVEL_ORDER.index(c.level), c.name))
    events = sorted(catalogue.events.values(), key=lambda e: e.name)
    parts = [
        f' "product": {dump(catalogue.product)}',
        f' "generated_by": {dump(GENERATED_BY)}',
        f' "documents": {block([dump(d) for d in catalogue.documents])}',
        f' "common_fields": {dump(_sorted_fields(catalogue.common_fields))}',
        f' "categories": {block([dump(c.__dict__) for c in categories])}',
        f' "events": {block([dump(event_json(e)) for e in events])}',
    ]
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES,
                        help="folder with windows/ and office/ JSON Lines extracts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        catalogues = build(args.sources)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for product, catalogue in catalogues.items():
        if not catalogue.documents:
            print(f"{product}: no extracts under {args.sources / product}; not written")
            continue
        (args.out / f"{product}.json").write_text(render(catalogue), encoding="utf-8")
        with_fields = sum(1 for e in catalogue.events.values() if e.fields)
        print(f"{product}: {len(catalogue.events)} events ({with_fields} with fields), "
              f"{len(catalogue.categories)} categories, {len(catalogue.documents)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
