"""Clear values behind masked findings, re-read from the raw evidence, for the tester only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from diagscope.decode.body import decode_body
from diagscope.fields import value_at
from diagscope.model import Event, Request
from diagscope.store.queries import request_row


def reveal(engine: Engine, run_id: int, findings: Iterable[dict[str, Any]]) -> list[dict]:
    """The findings with `value` replaced by the clear field value where it can be re-read."""
    events_of: dict[str, list[Event]] = {}
    out = []
    for finding in findings:
        finding = dict(finding)
        flow_id, index, field = finding["flow_id"], finding["event_index"], finding["field"]
        if index is not None and field and finding["pii_kind"] != "canary":
            if flow_id not in events_of:
                events_of[flow_id] = _decode(engine, run_id, flow_id)
            events = events_of[flow_id]
            if index < len(events):
                value = value_at(events[index], field)
                if value is not None:
                    finding["value"] = str(value)
        out.append(finding)
    return out


def _decode(engine: Engine, run_id: int, flow_id: str) -> list[Event]:
    row = request_row(engine, run_id, flow_id)
    if row is None:
        return []
    request = Request(flow_id, row["time"], row["method"], row["scheme"], row["host"],
                      row["port"], row["path"], [tuple(h) for h in row["headers"]], row["body"])
    return decode_body(request).events
