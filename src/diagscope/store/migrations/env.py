"""Alembic environment: diagscope always passes an open connection in `attributes`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alembic import context

from diagscope.store.tables import metadata
from diagscope.store.types import UtcDateTime

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext


def render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Write `UtcDateTime` columns into new migrations as the plain type they store, so a
    migration never depends on diagscope's code (the conversion to UTC happens in Python)."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the `alembic` command line lacks one
    from sqlalchemy import create_engine

    connection = create_engine(context.config.get_main_option("sqlalchemy.url", "")).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_item=render_item,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
