"""Build diagscope's event catalogue from Microsoft's published lists of diagnostic events.

    python scripts/build_catalogue.py \\
        --office /path/to/OfficeDocs-DeployOffice \\
        --windows /path/to/windows-itpro-docs-or-extracts \\
        --out src/diagscope/policies/catalogue

`--office` and `--windows` take a checked-out folder or a bare git directory (read at HEAD),
or a folder of document extracts laid out like the repository with a `COMMIT` file naming
the commit they were taken from (scripts/sources/windows-itpro-docs is such a folder).
Each catalogue entry records the repository, commit and file it came from. Levels follow
the document an event is listed in: Office `required-diagnostic-data.md` -> required,
`essential-services.md` -> essential (required service data for essential services),
Windows `required-diagnostic-events-fields-*.md` -> required. An event listed in several
documents keeps the lowest level and lists every source.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

OFFICE_REPO = "MicrosoftDocs/OfficeDocs-DeployOffice"
WINDOWS_REPO = "MicrosoftDocs/windows-itpro-docs"
OFFICE_FILES = {
    "microsoft-365-apps/privacy/essential-services.md": "essential",
    "microsoft-365-apps/privacy/required-diagnostic-data.md": "required",
    # These two describe categories only; they are read so that any event they do list
    # is caught, and recorded as sources.
    "microsoft-365-apps/privacy/optional-diagnostic-data.md": "optional",
    "microsoft-365-apps/privacy/required-service-data.md": "service",
}
WINDOWS_PATTERN = re.compile(
    r"windows/privacy/required-diagnostic-events-fields-windows-[\w-]+\.md"
)
LEVEL_ORDER = ["essential", "service", "required", "enhanced", "optional"]
MAX_FIELDS = 60
MAX_DESCRIPTION = 240

_HEADING = re.compile(r"^(#{2,5})\s+(.+?)\s*$")
_FIELD = re.compile(r"^\s*[-*]\s+\*\*([^*]+)\*\*")
_EVENT_NAME = re.compile(r"^[A-Za-z][\w.\-]*[._][\w.\-]+$")


class Source:
    """A documentation repository, checked out or bare, read at HEAD."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.bare = not (self.path / ".git").exists() and (self.path / "HEAD").exists()

    def commit(self) -> str:
        if (self.path / "COMMIT").exists():  # a folder of extracts names its commit
            return (self.path / "COMMIT").read_text(encoding="utf-8").split()[0]
        git = ["git", f"--git-dir={self.path}"] if self.bare else ["git", "-C", str(self.path)]
        result = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else "unknown"

    def files(self) -> list[str]:
        if self.bare:
            out = subprocess.run(["git", f"--git-dir={self.path}", "ls-tree", "-r", "HEAD",
                                  "--name-only"], capture_output=True, text=True, check=True)
            return out.stdout.splitlines()
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*.md"))

    def read(self, name: str) -> str:
        if self.bare:
            return subprocess.run(["git", f"--git-dir={self.path}", "show", f"HEAD:{name}"],
                                  capture_output=True, text=True, check=True).stdout
        return (self.path / name).read_text(encoding="utf-8")


@dataclass
class Entry:
    name: str
    level: str
    category: str | None
    subtype: str | None
    description: str
    fields: list[str]
    sources: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00a0"), None)


def _clean_heading(text: str) -> str:
    # The docs carry stray zero-width and no-break spaces that would split categories.
    return text.translate(_INVISIBLE).strip().strip("*_").strip()


def _unescape(text: str) -> str:
    """Markdown escapes (`Data\\_build`) are not part of a name."""
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", text)


def _category(text: str) -> str:
    text = _clean_heading(text)
    text = re.sub(r"\s+(data\s+)?events?$", "", text, flags=re.IGNORECASE)
    return text


def _subtype(text: str) -> str:
    return re.sub(r"\s+subtype$", "", _clean_heading(text), flags=re.IGNORECASE)


def parse(markdown: str) -> Iterator[tuple[str, str | None, str | None, str, list[str]]]:
    """(event name, category, subtype, description, fields) for every event heading.

    Event headings are headings whose text is an event name (dotted or underscored, no
    spaces), possibly several separated by commas; the nearest level-2 heading above is the
    category (or area), an italic `*... subtype*` heading the subtype.
    """
    category: str | None = None
    subtype: str | None = None
    current: list[str] = []
    description: list[str] = []
    fields: list[str] = []

    def flush() -> Iterator[tuple[str, str | None, str | None, str, list[str]]]:
        text = " ".join(" ".join(description).split())
        sentence = text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
        for name in current:
            yield name, category, subtype, sentence, fields[:MAX_FIELDS]

    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        if heading:
            yield from flush()
            current, description, fields = [], [], []
            depth, text = len(heading.group(1)), _unescape(_clean_heading(heading.group(2)))
            names = [n.strip() for n in text.split(",")]
            if all(_EVENT_NAME.match(n) for n in names):
                current = names
            elif depth == 2:
                category, subtype = _category(text), None
            elif text.lower().endswith("subtype"):
                subtype = _subtype(text)
            continue
        if not current:
            continue
        found = _FIELD.match(line)
        if found:
            fields.append(_unescape(found.group(1)).translate(_INVISIBLE).strip(" -:"))
        elif line.strip() and not fields and not line.lstrip().startswith(("-", "*", "|")) \
                and "following fields" not in line:
            description.append(line.strip())
    yield from flush()


def collect(repository: str, source: Source, documents: dict[str, str],
            entries: dict[str, Entry]) -> dict[str, object]:
    commit = source.commit()
    present = set(source.files())
    used = []
    for name, level in sorted(documents.items()):
        if name not in present:
            print(f"note: {repository} has no {name}; skipped")
            continue
        text = source.read(name)
        used.append(name)
        for event, category, subtype, description, fields in parse(text):
            where = f"{repository}@{commit[:12]}:{name}"
            entry = entries.get(event)
            if entry is None:
                entries[event] = Entry(event, level, category, subtype, description, fields,
                                       [where], [level])
                continue
            if where not in entry.sources:
                entry.sources.append(where)
            if level not in entry.levels:
                entry.levels.append(level)
            if LEVEL_ORDER.index(level) < LEVEL_ORDER.index(entry.level):
                entry.level = level
            entry.category = entry.category or category
            entry.subtype = entry.subtype or subtype
            entry.description = entry.description or description
            entry.fields = entry.fields or fields
    return {"repository": repository, "commit": commit, "files": used}


def write(path: Path, product: str, sources: list[dict[str, object]],
          entries: dict[str, Entry]) -> int:
    events = []
    for entry in sorted(entries.values(), key=lambda e: e.name):
        item: dict[str, object] = {"name": entry.name, "level": entry.level}
        if entry.category:
            item["category"] = entry.category
        if entry.subtype:
            item["subtype"] = entry.subtype
        if entry.description:
            item["description"] = entry.description
        if entry.fields:
            item["fields"] = entry.fields
        if len(entry.levels) > 1:
            item["levels"] = sorted(entry.levels, key=LEVEL_ORDER.index)
        item["sources"] = entry.sources
        events.append(item)
    document = {
        "product": product,
        "generated_by": "scripts/build_catalogue.py",
        "sources": sources,
        "events": events,
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")
    return len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--office", help="OfficeDocs-DeployOffice checkout or git dir")
    parser.add_argument("--windows", help="windows-itpro-docs checkout, git dir or extracts")
    parser.add_argument("--out", default="src/diagscope/policies/catalogue")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.office:
        entries: dict[str, Entry] = {}
        office = Source(args.office)
        sources = [collect(OFFICE_REPO, office, OFFICE_FILES, entries)]
        print(f"office: {write(out / 'office.yaml', 'office', sources, entries)} events")
    if args.windows:
        entries = {}
        windows = Source(args.windows)
        documents = {f: "required" for f in windows.files() if WINDOWS_PATTERN.search(f)}
        sources = [collect(WINDOWS_REPO, windows, documents, entries)]
        print(f"windows: {write(out / 'windows.yaml', 'windows', sources, entries)} events")


if __name__ == "__main__":
    main()
