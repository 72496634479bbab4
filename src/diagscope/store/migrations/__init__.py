"""Alembic migrations of the evidence schema (SQLite and PostgreSQL alike)."""
