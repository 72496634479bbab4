"""Open any capture by its content (not its extension), and expand directories."""

from __future__ import annotations

from pathlib import Path

from diagscope.sources.base import CaptureSource
from diagscope.sources.ddv import DdvReader, sniff_ddv
from diagscope.sources.eventtranscript import EventTranscriptReader, looks_like_sqlite
from diagscope.sources.flows import CaptureReader
from diagscope.sources.har import HarReader, looks_like_har
from diagscope.sources.saz import SazReader, is_saz

#: Files SQLite keeps beside a database while it is open; they belong to the database.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def open_source(path: str) -> CaptureSource:
    """The reader for `path`, chosen by the file's first bytes."""
    with open(path, "rb") as fo:
        head = fo.read(8192)
    if looks_like_sqlite(head) or (not head and Path(path).suffix.lower() == ".db"):
        # An empty file has no content to go by; a .db name says database, and that reader
        # reports the file empty instead of replaying nothing.
        return EventTranscriptReader(path)
    if head.startswith(b"PK\x03\x04") and is_saz(path):
        return SazReader(path)
    if looks_like_har(head):
        return HarReader(path)
    kind = sniff_ddv(head)
    if kind is not None:
        return DdvReader(path, kind)
    return CaptureReader(path)


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fo:
        return looks_like_sqlite(fo.read(16))


def _companion_of(file: Path, files: set[Path]) -> bool:
    """True for `X-wal`, `X-shm` and `X-journal` beside an SQLite database `X`: they are
    read with X (or not at all), never as captures of their own."""
    for suffix in _SQLITE_COMPANIONS:
        if file.name.endswith(suffix):
            database = file.with_name(file.name[:-len(suffix)])
            if database in files and _is_sqlite(database):
                return True
    return False


def expand_inputs(paths: list[str]) -> list[str]:
    """Files as given; directories replaced by the files in them, sorted, leaving out the
    files SQLite keeps beside a database."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*"))
                     if f.is_file() and not f.name.startswith(".")]
            present = set(files)
            out.extend(str(f) for f in files if not _companion_of(f, present))
        else:
            out.append(p)
    return out
