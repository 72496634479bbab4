"""Windows Diagnostic Data Viewer exports: `Get-DiagnosticData | Export-Csv`, `ConvertTo-Json`
or `Format-List` output.

Windows pins its telemetry certificates, so the viewer's copy is often the only one to be
had. Each row becomes a Request whose body is the row's Payload (the event as Common
Schema JSON, exactly as the viewer shows it, pretty-printed or not), so the same decoder
and rules judge it. What the viewer says beside the payload (`IsRequired`, the older
`IsBasic`, `DiagnosticDataCategories` or `DiagnosticDataTypes`) travels as viewer facts
(`diagscope.sources.viewer`). The scheme `ddv` marks these requests: they travelled nowhere,
so transport and destination rules leave them alone.

Real exports from Windows 10 19042/19043 write `#TYPE DDVCmdlets.Containers.EventRecord`
and the columns `Name,Timestamp,Payload,IsRequired,DiagnosticDataCategories`; the cmdlet's
documentation shows `IsBasic` and `DiagnosticDataTypes`. Both spellings are read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from diagscope.decode.jsonstream import parse_time
from diagscope.model import Request
from diagscope.sources.flows import CaptureDamage
from diagscope.sources.registry import register_source
from diagscope.sources.viewer import parse_categories, parse_flag, viewer_headers

DDV_SCHEME = "ddv"
DDV_HOST = "ddv.local"
_NAMESPACE = uuid.UUID("0c9e4d2a-7b1f-4e3a-8c5d-6f7a8b9c0d1e")
#: `Format-List` output: `Name                     : Census.Battery`.
_LIST_FIELD = re.compile(r"^(\w+)\s*:\s?(.*)$")


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig", errors="replace")


def sniff_ddv(head: bytes) -> str | None:
    """'csv', 'json' or 'list' when the first bytes look like a viewer export, else None."""
    text = _text(head[:4096]) if head[:2] in (b"\xff\xfe", b"\xfe\xff") else \
        head[:4096].decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "json" if '"Payload"' in stripped else None
    if stripped.startswith("#TYPE"):
        return "csv"
    first = stripped.splitlines()[0] if stripped else ""
    if "Payload" in first and "Name" in first and "," in first:
        return "csv"
    if re.match(r"Name\s+:", first) and re.search(r"^Payload\s+:", stripped, re.MULTILINE):
        return "list"
    return None


def _list_rows(text: str) -> list[dict[str, Any]]:
    """Rows of `Format-List` output. PowerShell wraps long values at the console width and
    indents the continuation lines to the value column; joining them restores the value."""
    rows: list[dict[str, Any]] = []
    row: dict[str, Any] = {}
    key: str | None = None
    column = 0
    for line in text.splitlines():
        if not line.strip():
            if row:
                rows.append(row)
            row, key = {}, None
            continue
        match = _LIST_FIELD.match(line)
        if match and not line[:1].isspace():
            key = match.group(1)
            row[key] = match.group(2)
            column = match.start(2)
        elif key is not None:
            row[key] += line[column:] if line[:column].strip() == "" else line.strip()
    if row:
        rows.append(row)
    return rows


def _rows(text: str, kind: str) -> list[dict[str, Any]]:
    if kind == "json":
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    if kind == "list":
        return _list_rows(text)
    if text.startswith("#TYPE"):  # Windows PowerShell 5's type line
        text = text.split("\n", 1)[1] if "\n" in text else ""
    # newline="" lets the csv module keep line breaks inside quoted (multi-line) payloads
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str) and value.startswith("/Date("):
        # ConvertTo-Json of a DateTime in Windows PowerShell 5: /Date(1730538000000)/
        digits = value[6:].split(")")[0].split("+")[0].split("-")[0]
        if digits.isdigit():
            return datetime.fromtimestamp(int(digits) / 1000, tz=UTC)
    if isinstance(value, dict) and "value" in value:
        return _timestamp(value["value"])
    parsed = parse_time(value) if isinstance(value, str | int | float) else None
    if parsed is None and isinstance(value, str):
        for fmt in ("%m/%d/%Y %I:%M:%S %p", "%d-%m-%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S"):
            try:
                return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    return parsed or datetime.fromtimestamp(0, tz=UTC)


def _first(row: dict[str, Any], *keys: str) -> Any:
    return next((row[k] for k in keys if row.get(k) not in (None, "")), None)


class DdvReader:
    kind = "ddv"

    def __init__(self, path: str | Path, kind: str) -> None:
        self.path = str(path)
        self.format = kind
        self.damage: CaptureDamage | None = None
        self.flows_read = 0
        self.position = 0
        self.warnings: list[str] = []

    def requests(self) -> Iterator[Request]:
        raw = Path(self.path).read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        try:
            rows = _rows(_text(raw), self.format)
        except (ValueError, csv.Error) as exc:
            self.damage = CaptureDamage(self.path, 0, f"not a readable viewer export: {exc}")
            return
        for number, row in enumerate(rows):
            self.flows_read += 1
            self.position = len(raw) * (number + 1) // max(1, len(rows))
            if not isinstance(row, dict):
                self.warnings.append(f"{self.path}: row {number} is not an object; skipped")
                continue
            payload = row.get("Payload")
            if isinstance(payload, dict | list):  # ConvertTo-Json of an already parsed payload
                payload = json.dumps(payload)
            body = payload.encode("utf-8") if isinstance(payload, str) else b""
            name = str(row.get("Name") or "")
            headers = viewer_headers(
                name,
                required=parse_flag(_first(row, "IsRequired", "IsBasic")),
                categories=parse_categories(
                    _first(row, "DiagnosticDataCategories", "DiagnosticDataTypes")),
                core=parse_flag(row.get("IsCoreData")),
            )
            yield Request(
                flow_id=str(uuid.uuid5(_NAMESPACE, f"{digest}/{number}")),
                time=_timestamp(row.get("Timestamp")), method="POST", scheme=DDV_SCHEME,
                host=DDV_HOST, port=0,
                path=f"/OneCollector/1.0/?content-type=application/json&ddv-row={number}",
                headers=headers, body=body, http_version="DDV", source=self.path,
            )


def _reader(path: str, head: bytes) -> DdvReader:
    kind = sniff_ddv(head)
    if kind is None:
        raise ValueError(f"{path} is not a Diagnostic Data Viewer export")
    return DdvReader(path, kind)


register_source("ddv", order=40, sniff=lambda _path, head: sniff_ddv(head) is not None,
                reader=_reader)
