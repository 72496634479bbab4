"""Windows Diagnostic Data Viewer exports: `Get-DiagnosticData | Export-Csv` or `ConvertTo-Json`.

Windows pins its telemetry certificates, so the viewer's copy is often the only one to be
had. Each row becomes a Request whose body is the row's Payload (the event as Common
Schema JSON), so the same decoder and rules judge it. The scheme `ddv` marks these
requests: they travelled nowhere, so transport and destination rules leave them alone.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from diagscope.decode.jsonstream import parse_time
from diagscope.model import Request
from diagscope.sources.flows import CaptureDamage

DDV_SCHEME = "ddv"
DDV_HOST = "ddv.local"
_NAMESPACE = uuid.UUID("0c9e4d2a-7b1f-4e3a-8c5d-6f7a8b9c0d1e")


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig", errors="replace")


def sniff_ddv(head: bytes) -> str | None:
    """'csv' or 'json' when the first bytes look like a viewer export, else None."""
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
    return None


def _rows(text: str, kind: str) -> list[dict[str, Any]]:
    if kind == "json":
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    lines = text.splitlines()
    if lines and lines[0].startswith("#TYPE"):
        lines = lines[1:]  # Windows PowerShell 5's type line
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


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
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    return parsed or datetime.fromtimestamp(0, tz=UTC)


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
            if isinstance(payload, dict):  # ConvertTo-Json of an already parsed payload
                payload = json.dumps(payload)
            body = (payload or "").encode("utf-8") if isinstance(payload, str) else b""
            headers = [("Content-Type", "application/x-json-stream"),
                       ("X-DDV-Name", str(row.get("Name", ""))),
                       ("X-DDV-Basic", str(row.get("IsBasic", row.get("IsCoreData", "")))),
                       ("X-DDV-Types", str(row.get("DiagnosticDataTypes", "")))]
            yield Request(
                flow_id=str(uuid.uuid5(_NAMESPACE, f"{digest}/{number}")),
                time=_timestamp(row.get("Timestamp")), method="POST", scheme=DDV_SCHEME,
                host=DDV_HOST, port=0,
                path=f"/OneCollector/1.0/?content-type=application/x-json-stream&ddv-row={number}",
                headers=headers, body=body, http_version="DDV", source=self.path,
            )
