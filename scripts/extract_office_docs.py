"""Extract Microsoft's Office diagnostic-data documents into JSON Lines.

    python scripts/extract_office_docs.py /path/to/OfficeDocs-DeployOffice \\
        --out scripts/sources/ms-docs/office

The repository may be a checkout or a bare git directory (read at HEAD), or a folder laid
out like the repository with a `COMMIT` file naming the commit its files were taken from.
Each document of `microsoft-365-apps/privacy/` that lists events or data categories becomes
one `.jsonl` file, one JSON object a line, in the same shape as the Windows extracts next to
it: {"doc", "commit", "area", "event", "description", "fields"} plus "subtype" where the
document groups events into data subtypes. Sections that are not events are told apart by
their `area` (see scripts/sources/ms-docs/README.md); the fields documented once for every
event (and for every OneNote or Outlook mobile event) go to `required-common-fields.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PRIVACY = "microsoft-365-apps/privacy"
ESSENTIAL = f"{PRIVACY}/essential-services.md"
REQUIRED = f"{PRIVACY}/required-diagnostic-data.md"
OPTIONAL = f"{PRIVACY}/optional-diagnostic-data.md"
SERVICE = f"{PRIVACY}/required-service-data.md"
COMMON_FIELDS_FILE = "required-common-fields.jsonl"
DESCRIPTION_LIMIT = 300

Row = dict[str, object]

# Zero-width characters sit inside names and headings of these documents; a no-break space
# is a space.
_INVISIBLE = {**dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None),
              ord("\u00a0"): " "}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FIELD = re.compile(r"^(\s*)[-*+]\s+\*\*(.+?)\*\*")
# A few field lines lost their bullet and opening asterisks (`platform** - OS Platform`).
_BROKEN_FIELD = re.compile(r"^(\s*)([A-Za-z_][\w.]*)\*\*\s*[-–:]")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>])")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
# "The following fields are collected:" introduces the list; it describes no event.
_LIST_INTRO = re.compile(r"(the )?following (data )?fields (are|were) (collected|available|logged)"
                         r"\W*$|.*following (data )?fields.*:$", re.IGNORECASE)


class Repository:
    """OfficeDocs-DeployOffice as a checkout, a bare git directory or a folder of files."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.is_git = (self.path / ".git").exists()
        self.is_bare = not self.is_git and (self.path / "HEAD").is_file() \
            and (self.path / "objects").is_dir()

    def _git(self, *args: str) -> str:
        where = f"--git-dir={self.path}" if self.is_bare else f"--git-dir={self.path / '.git'}"
        done = subprocess.run(["git", where, *args], capture_output=True, text=True, check=True)
        return done.stdout

    def commit(self) -> str:
        if self.is_git or self.is_bare:
            return self._git("rev-parse", "HEAD").strip()
        return (self.path / "COMMIT").read_text(encoding="utf-8").split()[0]

    def read(self, name: str) -> str:
        if self.is_git or self.is_bare:
            return self._git("show", f"HEAD:{name}")
        return (self.path / name).read_text(encoding="utf-8")


@dataclass
class Section:
    """A heading and the lines under it, up to the next heading."""

    depth: int
    title: str
    lines: list[str] = field(default_factory=list)


def clean(text: str) -> str:
    """Plain one-line text: no invisible characters, escapes, links or emphasis."""
    text = _LINK.sub(r"\1", text.translate(_INVISIBLE))
    text = _ESCAPE.sub(r"\1", text)
    text = re.sub(r"<br\s*/?>", " ", text)
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    return " ".join(text.split())


def shorten(text: str) -> str:
    """One line of at most DESCRIPTION_LIMIT characters, cut at a word."""
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    cut = text[: DESCRIPTION_LIMIT - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def sections(markdown: str) -> list[Section]:
    found = [Section(0, "")]
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            found.append(Section(len(heading.group(1)), clean(heading.group(2)).strip("*_ ")))
        else:
            found[-1].lines.append(line)
    return found


def field_name(raw: str) -> str | None:
    """The field a bold bullet names, without the separators and notes around it.

    The documents write `**Name** - text`, `**Name:**`, `**Name –-**`, `**Name (bool)**`,
    `**Label (Data_Name)**` (the name on the wire in parentheses) and `**Data_ Name**`.
    """
    name = clean(raw)
    if re.search(r"\bHVA activity$", name, re.IGNORECASE):  # "Standard HVA Activity" is a
        return None  # note that the event is a standard activity, not a field
    name = re.split(r"\s+[-–—]\s+|:", name, maxsplit=1)[0]
    name = re.sub(r"[\s\-–—:]+$", "", name)
    inner = re.search(r"\(([^)]*)\)\s*$", name)
    if inner:
        wire = re.sub(r"([_.])\s+", r"\1", inner.group(1).strip())
        name = wire if re.fullmatch(r"[\w.]*[_.][\w.]*", wire) else name[: inner.start()]
    name = re.sub(r"([_.])\s+", r"\1", name.strip())
    first = name.split(" ", 1)[0]
    if " " in name and re.search(r"[_.]", first):  # `Data_AvailableVersion to`
        name = first
    return name.strip("\"'<>= ") or None


def fields_of(lines: list[str]) -> list[str]:
    """Field names of the bold bullets, nested bullets as `Parent.Child`, in document order.

    A bullet is nested under the bullet above it when it is indented at least two columns
    further; prose indented less than that ends the list it followed.
    """
    stack: list[tuple[int, str]] = []
    names: list[str] = []
    for line in lines:
        found = _FIELD.match(line) or _BROKEN_FIELD.match(line)
        if not found:
            indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
            if line.strip() and stack and indent < stack[0][0] + 2:
                stack = []
            continue
        indent = len(found.group(1).expandtabs(4))
        name = field_name(found.group(2))
        if name is None:
            continue
        while stack and indent < stack[-1][0] + 2:
            stack.pop()
        path = f"{stack[-1][1]}.{name}" if stack else name
        stack.append((indent, path))
        if path not in names:
            names.append(path)
    return names


def first_paragraph(lines: list[str]) -> str:
    """The first paragraph of prose: not a note, list, table or "following fields" line."""
    paragraph: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            if paragraph:
                break
            continue
        skip = text.startswith((">", "|", "<!--")) or _BULLET.match(line) is not None \
            or _LIST_INTRO.match(text) is not None
        if skip:
            if paragraph:
                break
            continue
        paragraph.append(text)
    return shorten(clean(" ".join(paragraph)))


def event_names(title: str) -> list[str]:
    """`A, B (on Android)` -> [A, B]: several events documented under one heading."""
    names = []
    for part in title.split(","):
        name = re.sub(r"\s*\([^)]*\)\s*$", "", part).strip(" *_:")
        if name:
            names.append(name)
    return names


def is_subtype(title: str) -> bool:
    return title.lower().endswith("subtype")


def subtype_name(title: str) -> str:
    return re.sub(r"\s+subtype$", "", title, flags=re.IGNORECASE)


def is_common_fields(area: str) -> bool:
    """`Categories and data fields that are common for all events` and its siblings."""
    return "common for" in area.lower()


def event_rows(doc: str, commit: str, markdown: str) -> tuple[list[Row], list[Row]]:
    """(event rows, common-field rows) of a document that lists events under headings.

    A level-2 heading is an area (an essential service, or a category of data); an italic
    `*... subtype*` heading under it a data subtype; any other heading under it documents
    one or more events. Areas about fields common to many events hold sections, not events.
    """
    events: list[Row] = []
    common: list[Row] = []
    area = ""
    subtype: str | None = None
    uses_subtypes = False
    for section in sections(markdown):
        if section.depth <= 1:
            continue
        if section.depth == 2:
            area, subtype = section.title, None
            if is_common_fields(area) and (names := fields_of(section.lines)):
                common.append(_row(doc, commit, area, area, section.lines, names, None))
            continue
        if is_common_fields(area):
            if section.depth == 3 and not fields_of(section.lines):
                subtype = section.title  # a group of categories: "Information common to ..."
                continue
            common.append(_row(doc, commit, area, section.title, section.lines,
                               fields_of(section.lines), subtype))
            continue
        if is_subtype(section.title):
            subtype, uses_subtypes = subtype_name(section.title), True
            continue
        names = fields_of(section.lines)
        for name in event_names(section.title):
            events.append(_row(doc, commit, area, name, section.lines, names,
                               subtype if uses_subtypes else None))
    return events, common


def _row(doc: str, commit: str, area: str, event: str, lines: list[str], names: list[str],
         subtype: str | None) -> Row:
    row: Row = {"doc": doc, "commit": commit, "area": area, "event": event,
                "description": first_paragraph(lines), "fields": names}
    if subtype is not None:
        row["subtype"] = subtype
    return row


def _bullets(lines: list[str]) -> list[str]:
    return [clean(m.group(2)).rstrip(" .") for line in lines if (m := _BULLET.match(line))]


def _paragraphs(lines: list[str]) -> list[str]:
    text = "\n".join(line for line in lines if not _BULLET.match(line))
    return [clean(p) for p in re.split(r"\n\s*\n", text) if p.strip() and
            not p.strip().startswith(("|", ">"))]


def category_rows(doc: str, commit: str, markdown: str) -> list[Row]:
    """Categories (`## Categories of ...` lists them) and the example events of a document.

    A category's description is its own `## <category> events` section where the document
    has one (first paragraph and the areas it lists), otherwise the paragraphs of the list's
    section that name it or name no category. Example events come from the tables of the
    category sections and carry no fields: the documents list none.
    """
    found = sections(markdown)
    by_title = {s.title.lower(): s for s in found}
    rows: list[Row] = []
    for section in found:
        if section.depth != 2 or not section.title.lower().startswith("categories of"):
            continue
        names = _bullets(section.lines)
        notes = _paragraphs(section.lines)[1:]  # after "... organized into the following"
        for name in names:
            own = by_title.get(f"{name.lower()} events")
            if own is not None:
                text = " ".join([first_paragraph(own.lines), "; ".join(_bullets(own.lines))])
            else:
                about = [p for p in notes if name.lower() in p.lower()
                         or not any(n.lower() in p.lower() for n in names)]
                text = " ".join(about)
            rows.append({"doc": doc, "commit": commit, "area": section.title, "event": name,
                         "description": shorten(" ".join(text.split())), "fields": []})
    for section in found:
        if section.depth == 2:
            rows.extend(_table_events(doc, commit, section))
    return rows


def _table_events(doc: str, commit: str, section: Section) -> Iterator[Row]:
    in_events = False
    for line in section.lines:
        if not line.strip().startswith("|"):
            in_events = False
            continue
        cells = [clean(c) for c in line.strip().strip("|").split("|")]
        if cells and cells[0].lower() == "event name":
            in_events = True
            continue
        if not in_events or len(cells) < 2 or set(cells[0]) <= set("-: "):
            continue
        yield {"doc": doc, "commit": commit, "area": section.title, "event": cells[0],
               "description": shorten(cells[1]), "fields": []}


def extract(repository: Repository) -> dict[str, list[Row]]:
    """File name -> rows, for every document that lists events or categories."""
    commit = repository.commit()
    files: dict[str, list[Row]] = {}
    common: list[Row] = []
    for doc in (ESSENTIAL, REQUIRED):
        events, shared = event_rows(doc, commit, repository.read(doc))
        files[Path(doc).stem + ".jsonl"] = events
        common.extend(shared)
    files[COMMON_FIELDS_FILE] = common
    for doc in (OPTIONAL, SERVICE):
        files[Path(doc).stem + ".jsonl"] = category_rows(doc, commit, repository.read(doc))
    return files


def write(files: dict[str, list[Row]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (out / name).write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("repository", help="OfficeDocs-DeployOffice: checkout, git dir or files")
    parser.add_argument("--out", default=str(Path(__file__).parent / "sources" / "ms-docs"
                                             / "office"))
    args = parser.parse_args()
    files = extract(Repository(args.repository))
    write(files, Path(args.out))
    for name, rows in files.items():
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
