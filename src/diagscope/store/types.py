"""The store's one datetime type: UTC in, timezone-aware UTC out, on every database.

SQLite has no time zone type and hands datetimes back naive; PostgreSQL hands them back in
the session's time zone. Every DateTime column goes through `UtcDateTime`, so nothing that
reads the store has to guess what a naive value meant or convert a foreign zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


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
