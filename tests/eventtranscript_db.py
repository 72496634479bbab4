"""Write SQLite files in the layout of Windows' EventTranscript.db, for tests.

The tables and column types are the ones diagtrack.dll creates (Windows 10 names
`producers.producer_id_text`); see `diagscope.sources.eventtranscript` for what they mean.
Rows come from Diagnostic Data Viewer export rows (`Name`, `Timestamp`, `Payload`,
`DiagnosticDataCategories`, `IsRequired`), so the real events published as viewer exports
can be put back into the store they were read from. Two keys no export has set the columns
an export cannot tell: `Keywords` (event_keywords) and `Sid` (sid). Where an export says
nothing, the column is NULL rather than a guess.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: The privacy tags Windows ships in tag_descriptions (en-US), by id.
TAG_NAMES = {
    1: "Browsing History",
    11: "Device Connectivity and Configuration",
    17: "Inking Typing and Speech Utterance",
    24: "Product and Service Performance",
    25: "Product and Service Usage",
    31: "Software Setup and Inventory",
}
#: The Microsoft Telemetry provider group (MicrosoftTelemetry.h).
TELEMETRY_GROUP = "{4f50731a-89cf-4782-b3e0-dce8c90476ba}"
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

SCHEMA = """
CREATE TABLE events_persisted (
    sid TEXT, timestamp INTEGER, payload TEXT, full_event_name TEXT,
    full_event_name_hash INTEGER, event_keywords INTEGER, is_core INTEGER,
    provider_group_id INTEGER, logging_binary_name TEXT, friendly_logging_binary_name TEXT,
    compressed_payload_size INTEGER, producer_id INTEGER,
    extra1 TEXT, extra2 TEXT, extra3 TEXT,
    FOREIGN KEY(provider_group_id) REFERENCES provider_groups(group_id),
    CONSTRAINT fk_producer_id FOREIGN KEY(producer_id) REFERENCES producers(producer_id)
        ON DELETE CASCADE);
CREATE INDEX idx_events_persisted_sid ON events_persisted(sid);
CREATE INDEX idx_events_persisted_full_event_name_hash
    ON events_persisted(full_event_name_hash);
CREATE INDEX idx_events_persisted_timestamp ON events_persisted(timestamp);
CREATE INDEX idx_events_persisted_logging_binary_name ON events_persisted(logging_binary_name);
CREATE INDEX idx_events_persisted_producer_id ON events_persisted(producer_id);
CREATE TABLE provider_groups (group_id INTEGER PRIMARY KEY AUTOINCREMENT, group_guid TEXT);
CREATE TABLE event_tags (full_event_name_hash INTEGER, tag_id INTEGER);
CREATE INDEX idx_event_tags_full_event_name_hash ON event_tags(full_event_name_hash);
CREATE TABLE tag_descriptions (tag_id INTEGER, locale_name TEXT, tag_name TEXT,
    description TEXT);
CREATE TABLE producers (producer_id INTEGER PRIMARY KEY AUTOINCREMENT, producer_id_text TEXT);
CREATE TABLE event_categories (full_event_name_hash INTEGER, category_id INTEGER,
    CONSTRAINT fk_category_id FOREIGN KEY(category_id) REFERENCES categories(category_id)
        ON DELETE CASCADE);
CREATE INDEX idx_event_categories_full_event_name_hash
    ON event_categories(full_event_name_hash);
CREATE TABLE categories (category_id INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id_text TEXT, producer_id INTEGER,
    CONSTRAINT fk_producer_id FOREIGN KEY(producer_id) REFERENCES producers(producer_id)
        ON DELETE CASCADE);
"""


def filetime(timestamp: str) -> int:
    """`2021-05-21T15:20:23.0437036Z` as a FILETIME, keeping all seven fraction digits."""
    whole, _, fraction = timestamp.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    seconds = (moment - FILETIME_EPOCH) // timedelta(seconds=1)
    return seconds * 10_000_000 + int((fraction + "0000000")[:7])


def name_hash(name: str) -> int:
    """A stand-in for Windows' full_event_name_hash: any stable 32-bit value joins the
    tables the same way."""
    return zlib.crc32(name.encode("utf-8"))


def insert_events(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Rows of a viewer export into events_persisted (and their tags into event_tags)."""
    tagged = {h for (h,) in conn.execute("SELECT DISTINCT full_event_name_hash FROM event_tags")}
    for row in rows:
        name = str(row["Name"])
        hashed = name_hash(name)
        required = row.get("IsRequired")
        conn.execute(
            "INSERT INTO events_persisted (sid, timestamp, payload, full_event_name, "
            "full_event_name_hash, event_keywords, is_core, provider_group_id, "
            "logging_binary_name, friendly_logging_binary_name, compressed_payload_size, "
            "producer_id) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 1)",
            (row.get("Sid", ""), filetime(row["Timestamp"]), row["Payload"], name, hashed,
             row.get("Keywords"), None if required is None else int(bool(required)),
             "?unknown?", "?unknown?", len(zlib.compress(row["Payload"].encode("utf-8")))),
        )
        if hashed not in tagged:
            conn.executemany("INSERT INTO event_tags VALUES (?, ?)",
                             [(hashed, tag) for tag in row.get("DiagnosticDataCategories", [])])
            tagged.add(hashed)


def write_event_transcript(path: Path, rows: Iterable[dict[str, Any]], *,
                           journal_mode: str = "DELETE", encoding: str = "UTF-8",
                           producer: str = "Windows") -> Path:
    """A new EventTranscript.db at `path` holding `rows` in order."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA encoding = '{encoding}'")
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO provider_groups (group_guid) VALUES (?)", (TELEMETRY_GROUP,))
        conn.execute("INSERT INTO producers (producer_id_text) VALUES (?)", (producer,))
        conn.executemany("INSERT INTO tag_descriptions VALUES (?, 'en-US', ?, '')",
                         sorted(TAG_NAMES.items()))
        insert_events(conn, rows)
        conn.commit()
    finally:
        conn.close()
    return path
