"""Print rows as an aligned table, JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMATS = ("table", "jsonl", "csv")


def _cell(value: Any, width: int | None) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ")
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    out: TextIO | None = None,
    *,
    widths: dict[str, int] | None = None,
) -> int:
    out = out or sys.stdout
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            count += 1
        return count
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
    widths = widths or {}
    materialised = [
        [_cell(row.get(c), widths.get(c)) for c in columns] for row in rows
    ]
    sizes = [len(c) for c in columns]
    for cells in materialised:
        sizes = [max(s, len(v)) for s, v in zip(sizes, cells, strict=True)]
    out.write("  ".join(c.ljust(s) for c, s in zip(columns, sizes, strict=True)).rstrip() + "\n")
    for cells in materialised:
        out.write("  ".join(v.ljust(s) for v, s in zip(cells, sizes, strict=True)).rstrip() + "\n")
    return len(materialised)
