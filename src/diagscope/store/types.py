"""The store's column types: UTC datetimes on every database, digests as bytes, and packed
text and JSON.

The one datetime type: UTC in, timezone-aware UTC out, on every database.

SQLite has no time zone type and hands datetimes back naive; PostgreSQL hands them back in
the session's time zone. Every DateTime column goes through `UtcDateTime`, so nothing that
reads the store has to guess what a naive value meant or convert a foreign zone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, LargeBinary
from sqlalchemy.types import TypeDecorator

from diagscope.store.jsoncodec import dumps
from diagscope.store.packing import pack, unpack


class UtcDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that stores UTC and always returns aware UTC datetimes.

    A naive value handed in is taken to be UTC already: that is what every value the
    store has ever written was, and SQLite kept no zone to say otherwise.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else _as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_utc(value)


def _as_utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime; naive means UTC (see `UtcDateTime`)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class PackedText(TypeDecorator[str]):
    """Text stored compressed (raw DEFLATE) against a fixed dictionary of what the column
    usually holds, read back as the same text.

    Evidence repeats itself: every finding cites one of a few clauses, events share their
    keys, reasons are a few sentences with names filled in. A dictionary primed with such
    text lets DEFLATE store a clause in a few bytes and an event's JSON in a fraction of it,
    each value still on its own (no value depends on another row). A stored value is one
    byte naming the dictionary (`store/dictionaries/<name>-<version>.txt`, never changed once
    shipped: a new dictionary gets a new byte), then the DEFLATE stream. Values stored
    before this type (plain text, or UTF-8 bytes on PostgreSQL after the migration) are read
    as they are: no text starts with a control byte.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dictionary: str) -> None:
        super().__init__()
        self.dictionary = dictionary

    def process_bind_param(self, value: str | bytes | None, dialect: Dialect) -> bytes | None:
        # Rows built by `store.rows` arrive packed already (in the process that built them).
        if value is None or isinstance(value, bytes):
            return value
        return pack(value, self.dictionary)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack(value)


class PackedJSON(TypeDecorator[Any]):
    """A JSON value stored as packed text (see `PackedText`): a request's headers repeat
    the same few names and values on every request. Values stored before (JSON text on
    SQLite, JSON on PostgreSQL until the migration turned it into UTF-8 bytes) read as
    they are."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dictionary: str) -> None:
        super().__init__()
        self.dictionary = dictionary

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return pack(dumps(value), self.dictionary)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, list | dict):
            return value  # a JSON column's value, already parsed by the driver
        return json.loads(unpack(value))


class Digest(TypeDecorator[str]):
    """A SHA-256 digest: 32 bytes in the database, 64 lowercase hex digits to Python.

    Half the size of the hex text on every row of the chain. Digests stored as text before
    read back as they were; a value that is not a hex digest is stored as it is (nothing
    the store writes, but an edit to the evidence must stay visible, not fail to load).
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | bytes | None, dialect: Dialect) -> Any:
        if isinstance(value, str):
            if len(value) == 64:
                try:
                    return bytes.fromhex(value)
                except ValueError:
                    pass
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        data = bytes(value)
        if len(data) == 32:
            return data.hex()
        return data.decode("utf-8", "replace")  # something else that was stored
