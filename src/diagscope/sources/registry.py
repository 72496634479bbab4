"""Open any capture by its content (not its extension), and expand directories.

Every capture format's module registers itself here with one call:

    register_source("har", order=30, sniff=lambda path, head: looks_like_har(head),
                    reader=lambda path, head: HarReader(path))

`open_source` asks the formats in `order` (lowest first) whether the file's first bytes
are theirs, and the first that says yes reads it; mitmproxy flows come last and take any
file, naming the damage when it is not one. Every module of this package is imported
before the first lookup, so a new capture format is one new file and nothing else.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diagscope.sources.base import CaptureSource

#: Bytes of a file each sniff sees.
HEAD_BYTES = 8192
#: The order of the format that takes whatever no other format recognised.
FALLBACK_ORDER = 1000

Sniff = Callable[[str, bytes], bool]  # (path, first bytes) -> is this format
ReaderFactory = Callable[[str, bytes], "CaptureSource"]  # (path, first bytes) -> reader


@dataclass(frozen=True, slots=True)
class CaptureFormat:
    name: str
    order: int
    sniff: Sniff
    reader: ReaderFactory
    #: Name suffixes of files kept beside a capture of this format that belong to it (an
    #: SQLite database's `-wal`): read with it or not at all, never on their own.
    companions: tuple[str, ...] = ()


_FORMATS: dict[str, CaptureFormat] = {}


def register_source(name: str, *, order: int, sniff: Sniff, reader: ReaderFactory,
                    companions: tuple[str, ...] = ()) -> None:
    """Add a capture format: tried in `order` (lowest first; FALLBACK_ORDER is last)."""
    existing = _FORMATS.get(name)
    if existing is not None and existing.reader is not reader:
        raise ValueError(f"a capture format named {name!r} is already registered")
    _FORMATS[name] = CaptureFormat(name, order, sniff, reader, companions)


def unregister_source(name: str) -> None:
    _FORMATS.pop(name, None)


@functools.cache
def _import_sources() -> None:
    # A format registers itself when its module is imported; importing the whole package
    # once means adding a format needs no list to update.
    package = importlib.import_module("diagscope.sources")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def capture_formats() -> list[CaptureFormat]:
    """Every registered format, in the order they are tried."""
    _import_sources()
    return sorted(_FORMATS.values(), key=lambda f: (f.order, f.name))


def _head(path: str | Path) -> bytes:
    with open(path, "rb") as fo:
        return fo.read(HEAD_BYTES)


def open_source(path: str) -> CaptureSource:
    """The reader for `path`, chosen by the file's first bytes."""
    head = _head(path)
    for fmt in capture_formats():
        if fmt.sniff(path, head):
            return fmt.reader(path, head)
    raise ValueError(f"{path}: no capture format recognises this file")


def _companion_of(file: Path, files: set[Path], formats: list[CaptureFormat]) -> bool:
    """True for `X-wal` (say) beside a capture `X` whose format keeps such files."""
    for fmt in formats:
        for suffix in fmt.companions:
            if file.name.endswith(suffix) and len(file.name) > len(suffix):
                capture = file.with_name(file.name[:-len(suffix)])
                if capture in files:
                    head = _head(capture)
                    # An empty file shows nothing to go by: it claims no companions.
                    if head and fmt.sniff(str(capture), head):
                        return True
    return False


def expand_inputs(paths: list[str]) -> list[str]:
    """Files as given; directories replaced by the files in them, sorted, leaving out the
    files kept beside a capture that belong to it (SQLite's -wal, -shm and -journal)."""
    formats = capture_formats()
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*"))
                     if f.is_file() and not f.name.startswith(".")]
            present = set(files)
            out.extend(str(f) for f in files if not _companion_of(f, present, formats))
        else:
            out.append(p)
    return out
