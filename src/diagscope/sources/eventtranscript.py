"""Windows' own event store, `EventTranscript.db`, read directly as a capture.

With diagnostic data viewing on, Windows' DiagTrack service keeps every event it uploads in
`%ProgramData%\\Microsoft\\Diagnosis\\EventTranscript\\EventTranscript.db`, the SQLite
database behind the Diagnostic Data Viewer. Each row becomes one Request, like a row of a
viewer export (`diagscope.sources.ddv`), with the viewer's facts as `X-DDV-*` headers.

What the layout means (sources: the table definitions in diagtrack.dll's
`EventTranscriptManager::InitializeStore`; Microsoft's diagnosticdataquery API, which
serves this store (`DIAGNOSTIC_DATA_RECORD`); plaso's `windows_eventtranscript` parser and
its test database; SQLECmd's EventTranscript map; AndrewRathbun/EventTranscript.db-Research):

- `events_persisted`: one row per event, in the order Windows wrote it (rowid order; the
  query API names records by row id). `sid` is the security identifier of the user the
  event concerns (empty for the system), so it is no row key; `timestamp` is a FILETIME
  (100 ns since 1601-01-01 UTC); `payload` is the event as Common Schema JSON;
  `event_keywords` the ETW keywords; `is_core` the API's `isCoreData`; `producer_id`
  points into `producers` (`producer_id_text`, or `producer_id_name` in newer builds).
- `event_tags(full_event_name_hash, tag_id)`: the privacy tags of each event name, whose
  ids (1, 11, 17, 24, 25, 31; `tag_descriptions`) are the viewer's DiagnosticDataCategories.
- Required: the viewer's "required only" filter is the API's `coreDataOnly`, which selects
  on `isCoreData`, stored as `is_core`; so `is_core` says whether the viewer shows an event
  as required. Keyword bit 47 (MICROSOFT_KEYWORD_CRITICAL_DATA) is not the same thing: it
  makes an event Basic only for the Windows core provider group, and plaso's real row
  carries it with `is_core` 0. The keywords travel as a fact of their own.

The file is evidence, so it is opened read-only and nothing is written beside it (see
`_connect`).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from diagscope.model import Request
from diagscope.sources.ddv import DDV_HOST, DDV_SCHEME
from diagscope.sources.flows import CaptureDamage
from diagscope.sources.registry import register_source
from diagscope.sources.viewer import viewer_headers

SQLITE_MAGIC = b"SQLite format 3\x00"
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
#: How long to wait for a lock another process holds before calling the file locked.
LOCK_WAIT_SECONDS = 2.0
_NAMESPACE = uuid.UUID("71708ea9-2097-4501-8f37-d6a410bcd798")
_HEADER_SIZE = 100
_WAL_FORMAT = 2  # header bytes 18 and 19: 1 rollback journal, 2 write-ahead log
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")  # a rollback journal's header
_UINT64 = (1 << 64) - 1
_SHOWN_TABLES = 5

#: events_persisted columns read, by the names Windows gives them. `sid` is left out: it
#: identifies a user account and is no fact the viewer shows about the event.
_COLUMNS = ("timestamp", "full_event_name", "full_event_name_hash", "event_keywords",
            "is_core", "producer_id")


class _Unreadable(Exception):
    """Reading stops here; the message is the one line the user sees."""


@dataclass(slots=True)
class _Lookups:
    """The small side tables, read once before the events stream."""

    tags: dict[int, tuple[int, ...]]  # full_event_name_hash -> tag ids (viewer categories)
    producers: dict[int, str]


def looks_like_sqlite(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


def filetime(value: Any) -> datetime | None:
    """A Windows FILETIME (100 ns units since 1601-01-01 UTC) as a datetime."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    try:
        return FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fo:
        while chunk := fo.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(exc: sqlite3.Error) -> str:
    """One line for the user from what SQLite said."""
    name = getattr(exc, "sqlite_errorname", "")
    text = " ".join(str(exc).split())
    if _is_lock(exc):
        return (f"{text}: another process holds EventTranscript.db (Windows' DiagTrack "
                "service while it runs); copy it with DiagTrack stopped or from a shadow copy")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return f"{text}: the file is cut off or was copied while Windows was writing it"
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return f"not a readable SQLite database: {text}"
    return f"unreadable EventTranscript.db: {text}"


def _is_lock(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc)


def _foreign(tables: list[str]) -> str:
    if not tables:
        return "an SQLite database with no tables, not an EventTranscript.db"
    shown = ", ".join(tables[:_SHOWN_TABLES])
    more = len(tables) - _SHOWN_TABLES
    if more > 0:
        shown += f" and {more} more"
    return ("an SQLite database but not an EventTranscript.db: it has no events_persisted "
            f"table (its tables: {shown})")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]).lower() for row in conn.execute(f"PRAGMA table_info({table})")}


def _read_tags(conn: sqlite3.Connection) -> dict[int, tuple[int, ...]]:
    found: dict[int, set[int]] = {}
    for name_hash, tag in conn.execute("SELECT full_event_name_hash, tag_id FROM event_tags"):
        if isinstance(name_hash, int) and isinstance(tag, int):
            found.setdefault(name_hash, set()).add(tag)
    return {name_hash: tuple(sorted(tags)) for name_hash, tags in found.items()}


def _read_producers(conn: sqlite3.Connection, columns: set[str]) -> dict[int, str]:
    # Windows 10 names the column producer_id_text; builds with the DmaUtcUpdate feature
    # name it producer_id_name.
    text = next((c for c in ("producer_id_text", "producer_id_name") if c in columns), None)
    if text is None or "producer_id" not in columns:
        return {}
    rows = conn.execute(f"SELECT producer_id, {text} FROM producers")
    return {pid: str(name) for pid, name in rows if isinstance(pid, int) and name}


def _worth_reading(companion: Path, wal: bool) -> bool:
    """A log with frames in it, or a journal whose header says a write is unfinished (a
    journal kept by `PRAGMA journal_mode = PERSIST` has its header zeroed)."""
    if not companion.is_file():
        return False
    with open(companion, "rb") as fo:
        head = fo.read(len(_JOURNAL_MAGIC))
    return bool(head) if wal else head == _JOURNAL_MAGIC


def _rowid_span(conn: sqlite3.Connection) -> tuple[int, int]:
    """The first rowid and the number of rowids up to the last, for progress; (0, 0) when
    the end of the table cannot be read (a cut-off file: the scan then finds the damage)."""
    try:
        first, last = conn.execute(
            "SELECT min(rowid), max(rowid) FROM events_persisted").fetchone()
    except sqlite3.DatabaseError as exc:
        if _is_lock(exc):
            raise
        return 0, 0
    if not isinstance(first, int) or not isinstance(last, int):
        return 0, 0
    return first, last - first + 1


class EventTranscriptReader:
    """Streams the rows of `events_persisted` as Requests; damage ends the stream."""

    kind = "eventtranscript"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.damage: CaptureDamage | None = None
        self.flows_read = 0
        self.position = 0
        self.warnings: list[str] = []

    def requests(self) -> Iterator[Request]:
        try:
            yield from self._read()
        except _Unreadable as exc:
            self.damage = CaptureDamage(self.path, self.flows_read, str(exc))
        except sqlite3.Error as exc:
            self.damage = CaptureDamage(self.path, self.flows_read, _describe(exc))
        except OSError as exc:
            self.damage = CaptureDamage(self.path, self.flows_read, exc.strerror or str(exc))

    def _read(self) -> Iterator[Request]:
        source = Path(self.path)
        header = self._header(source)
        with ExitStack() as stack:
            conn, digest = self._connect(source, header, stack)
            stack.callback(conn.close)
            # Names are read as text even where a row holds bytes that are not UTF-8.
            conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
            # A file cut off short of the size its header states is refused as a whole
            # unless the schema is "writable"; on a read-only, query-only connection that
            # writes nothing and lets every page before the cut be read.
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA writable_schema = ON")
            lookups = self._lookups(conn)
            yield from self._rows(conn, digest, lookups, source.stat().st_size)

    def _header(self, source: Path) -> bytes:
        with open(source, "rb") as fo:
            header = fo.read(_HEADER_SIZE)
        if not header:
            raise _Unreadable("empty file (0 bytes), not an EventTranscript.db")
        if not header.startswith(SQLITE_MAGIC):
            raise _Unreadable("not an SQLite database, so not an EventTranscript.db")
        if len(header) < _HEADER_SIZE:
            raise _Unreadable(f"an SQLite header cut off after {len(header)} bytes")
        return header

    def _connect(self, source: Path, header: bytes,
                 stack: ExitStack) -> tuple[sqlite3.Connection, str]:
        """A read-only connection that leaves nothing beside the file, and its digest.

        A rollback-journal database opens with `mode=ro`, which writes nothing and still
        honours the locks of a process writing it. A write-ahead-log database is different:
        SQLite creates `-wal` and `-shm` files beside it even for `mode=ro`. Without a
        `-wal` file beside it no process has it open (SQLite keeps the log while any
        connection is open) and every event is in the main file, so `immutable=1` reads it
        without writing. A `-wal` file beside it (a shadow copy of a running system) holds
        the newest events, and a `-journal` file an unfinished write that SQLite must undo
        before reading: then both files are copied to a private folder and read there.
        """
        digest = _sha256(source)
        wal = header[18] == _WAL_FORMAT
        suffix = "-wal" if wal else "-journal"
        companion = Path(f"{self.path}{suffix}")
        if not _worth_reading(companion, wal):
            uri = f"{source.resolve().as_uri()}?mode=ro" + ("&immutable=1" if wal else "")
            return sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT_SECONDS), digest
        folder = Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="diagscope-eventtranscript-")))
        copy = folder / "EventTranscript.db"
        shutil.copyfile(source, copy)
        shutil.copyfile(companion, folder / f"{copy.name}{suffix}")
        digest = f"{digest}+{_sha256(companion)}"
        held = ("can hold events not yet in the main file" if wal else
                "holds a write Windows had not finished; the copy is read as it was before")
        self.warnings.append(f"{self.path}: read from a private copy together with "
                             f"{companion.name}, which {held}")
        # Undoing an unfinished write needs a writable copy; reading a log does not.
        uri = f"{copy.as_uri()}?mode={'ro' if wal else 'rw'}"
        return sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT_SECONDS), digest

    def _lookups(self, conn: sqlite3.Connection) -> _Lookups:
        tables = [str(name) for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        present = {t.lower() for t in tables}
        if "events_persisted" not in present:
            raise _Unreadable(_foreign(tables))
        if "payload" not in _columns(conn, "events_persisted"):
            raise _Unreadable("events_persisted has no payload column: a layout this reader "
                              "does not know")
        tags: dict[int, tuple[int, ...]] = {}
        producers: dict[int, str] = {}
        try:
            if "event_tags" in present and \
                    {"full_event_name_hash", "tag_id"} <= _columns(conn, "event_tags"):
                tags = _read_tags(conn)
            else:
                self.warnings.append(f"{self.path}: no event_tags table; categories unknown")
            if "producers" in present:
                producers = _read_producers(conn, _columns(conn, "producers"))
        except sqlite3.DatabaseError as exc:
            if _is_lock(exc):
                raise
            # Damage in the small tables costs the categories, not the events.
            self.warnings.append(f"{self.path}: categories and producers unreadable "
                                 f"({' '.join(str(exc).split())}); the events are read without")
        return _Lookups(tags, producers)

    def _rows(self, conn: sqlite3.Connection, digest: str, lookups: _Lookups,
              size: int) -> Iterator[Request]:
        present = _columns(conn, "events_persisted")
        wanted = ", ".join(c if c in present else f"NULL AS {c}" for c in _COLUMNS)
        encoding = str(conn.execute("PRAGMA encoding").fetchone()[0])
        first, span = _rowid_span(conn)
        undated = 0
        # CAST keeps the payload's stored bytes: no decoding, nothing lost on odd bytes.
        rows = conn.execute(f"SELECT rowid, CAST(payload AS BLOB), {wanted} "
                            "FROM events_persisted ORDER BY rowid")
        try:
            for rowid, payload, stamp, name, name_hash, keywords, core, producer in rows:
                self.flows_read += 1
                if span:
                    self.position = size * min(span, rowid - first + 1) // span
                time = filetime(stamp)
                if time is None:
                    undated += 1
                    time = datetime.fromtimestamp(0, tz=UTC)
                core_flag = None if core is None else bool(core)
                headers = viewer_headers(
                    str(name or ""),
                    required=core_flag,
                    categories=lookups.tags.get(name_hash, ()),
                    keywords=keywords & _UINT64 if isinstance(keywords, int) else None,
                    core=core_flag,
                    producer=lookups.producers.get(producer)
                    if isinstance(producer, int) else None,
                )
                yield Request(
                    flow_id=str(uuid.uuid5(_NAMESPACE, f"{digest}/{rowid}")),
                    time=time, method="POST", scheme=DDV_SCHEME, host=DDV_HOST, port=0,
                    path=("/OneCollector/1.0/?content-type=application/json"
                          f"&eventtranscript-row={rowid}"),
                    headers=headers, body=self._body(payload, encoding), http_version="DDV",
                    source=self.path,
                )
        finally:
            if undated:
                self.warnings.append(f"{self.path}: {undated} rows have no valid timestamp "
                                     "and are dated 1970-01-01")

    def _body(self, payload: bytes | None, encoding: str) -> bytes:
        if payload is None:
            return b""
        if encoding.upper() == "UTF-8":
            return bytes(payload)
        # A UTF-16 database stores text as UTF-16; the decoders read UTF-8.
        note = (f"{self.path}: the database stores text as {encoding}; payloads were "
                "re-encoded as UTF-8")
        if note not in self.warnings:
            self.warnings.append(note)
        codec = "utf-16-be" if encoding.lower().endswith("be") else "utf-16-le"
        return bytes(payload).decode(codec, errors="replace").encode("utf-8")


register_source(
    "eventtranscript", order=10, companions=("-wal", "-shm", "-journal"),
    # An empty file has no content to go by; a .db name says database, and this reader
    # reports the file empty instead of replaying nothing.
    sniff=lambda path, head: looks_like_sqlite(head) or (
        not head and Path(path).suffix.lower() == ".db"),
    reader=lambda path, _head: EventTranscriptReader(path),
)
