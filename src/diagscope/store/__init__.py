"""The evidence store: the only package that speaks SQL.

Everything else reads and writes through the functions here (`queries`, `statistics`,
`settings`, `writer`, ...), which return plain rows and dataclasses; times come back as
aware UTC datetimes (`types.UtcDateTime`). tests/test_store_boundary.py holds the line.
"""
