"""The store's column types: UTC datetimes on every database, digests as bytes, and packed
text and JSON.

The one datetime type: UTC in, timezone-aware UTC out, on every database.

SQLite has no time zone type and hands datetimes back naive; PostgreSQL hands them back in
the session's time zone. Every DateTime column goes through `UtcDateTime`, so nothing that
reads the store has to guess what a naive value meant or convert a foreign zone.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import DateTime, Dialect, LargeBinary
from sqlalchemy.types import TypeDecorator

from diagscope.store.jsoncodec import dumps


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


#: Dictionary ids as stored in the first byte; names of `store/dictionaries/*.txt` files.
DICTIONARIES: dict[int, str] = {1: "cs-1", 2: "reason-1", 3: "detail-1", 4: "clause-1",
                                5: "headers-1"}
_IDS = {name.rsplit("-", 1)[0]: number for number, name in DICTIONARIES.items()}


@cache
def _dictionary(number: int) -> bytes:
    name = DICTIONARIES[number]
    return (resources.files("diagscope.store") / "dictionaries" / f"{name}.txt").read_bytes()


@cache
def _packer(number: int) -> Any:
    # Loading the dictionary is most of a compressor's set-up, so it is done once and each
    # value starts from a copy. The default memLevel (8) packs an event's JSON in 21 us
    # against 29 us at memLevel 4, to the same size (measured on 3,000 real events).
    return zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY,
                            _dictionary(number))


#: Packed values of the texts that repeat (clauses, reasons, details, headers): packing is
#: deterministic, and a run packs the same clause on nearly every finding. Bounded in number
#: and length; an event's JSON differs every time and is never kept.
_PACKED: dict[tuple[int, str], bytes] = {}
_PACKED_LIMIT = 4_096
_REMEMBERED_LENGTH = 1_024
_NEVER_REMEMBERED = frozenset({_IDS["cs"]})


def pack(text: str, dictionary: str) -> bytes:
    number = _IDS[dictionary]
    remember = number not in _NEVER_REMEMBERED and len(text) <= _REMEMBERED_LENGTH
    if remember:
        packed = _PACKED.get((number, text))
        if packed is not None:
            return packed
    packer = _packer(number).copy()
    packed = bytes((number,)) + packer.compress(text.encode("utf-8")) + packer.flush()
    if remember:
        if len(_PACKED) >= _PACKED_LIMIT:
            _PACKED.clear()
        _PACKED[(number, text)] = packed
    return packed


def unpack(value: str | bytes | memoryview) -> str:
    if isinstance(value, str):
        return value  # stored before values were packed (SQLite keeps the text)
    data = bytes(value)
    if data and data[0] in DICTIONARIES:
        unpacker = zlib.decompressobj(-15, _dictionary(data[0]))
        return (unpacker.decompress(data[1:]) + unpacker.flush()).decode("utf-8")
    return data.decode("utf-8")  # plain UTF-8 text converted to bytes by the migration
