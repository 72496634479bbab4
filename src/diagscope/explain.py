"""Spell out how the verdicts on one stored request were reached."""

from __future__ import annotations

import textwrap

from sqlalchemy import Engine

from diagscope.store.queries import event_documents, iter_findings_of_flow, request_row


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def explain_request(engine: Engine, run_id: int, flow_id: str, event_index: int | None) -> str:
    request = request_row(engine, run_id, flow_id)
    if request is None:
        raise LookupError(f"run {run_id} has no request with flow id {flow_id}")
    events = event_documents(engine, run_id, flow_id)
    if event_index is not None:
        events = [e for e in events if e["event_index"] == event_index]
        if not events:
            raise LookupError(f"request {flow_id} has no event {event_index}")
    findings = list(iter_findings_of_flow(engine, run_id, flow_id))
    lines = [
        f"Request {flow_id} (run {run_id})",
        f"  {request['method']} {request['scheme']}://{request['host']}:{request['port']}"
        f"{request['path']}",
        f"  body: {request['content_type']} ({request['content_encoding']}), "
        f"{request['body_size']} bytes on the wire, sha256 {request['body_sha256']}",
        f"  decoding: {request['decode_status']}, {request['event_count']} events"
        + (f"; {request['decode_error']}" if request["decode_error"] else ""),
    ]
    request_findings = [f for f in findings if f["event_index"] is None]
    lines.append("  request-level findings:" if request_findings else
                 "  request-level findings: none (transport, destination and decoding pass)")
    for f in request_findings:
        lines += _finding_lines(f)
    from diagscope.policy.catalogue import lookup_any

    for event in events:
        index = event["event_index"]
        lines.append("")
        lines.append(f"Event {index}: {event['name']}  -> verdict {event['verdict'].upper()}")
        lines.append(f"  product: {event['product']}")
        if event.get("product_reason"):
            lines.append(_wrap(f"because {event['product_reason']}", "           "))
        lines.append(f"  level:   {event['level']}")
        lines.append(_wrap(f"because {event['level_reason']}", "           "))
        lines.append(f"  purpose: {event['purpose']}")
        lines.append(_wrap(f"because {event['purpose_reason']}", "           "))
        found = lookup_any(event["name"])
        if found is None:
            lines.append("  catalogue: not documented in Microsoft's published event lists")
        else:
            product, entry = found
            lines.append(
                f"  catalogue: {product} {entry.level}"
                + (f", {entry.category}" if entry.category else "")
                + (f" / {entry.subtype}" if entry.subtype else "")
            )
        if event["marks"]:
            marks = ", ".join(
                f"{path} ({m['pii_kind'] or 'customer content'})"
                for path, m in sorted(event["marks"].items())
            )
            lines.append(_wrap(f"declared by the client: {marks}", "  "))
        own = [f for f in findings if f["event_index"] == index]
        if not own:
            lines.append("  findings: none")
        for f in own:
            lines += _finding_lines(f)
    return "\n".join(lines)


def _finding_lines(f: dict) -> list[str]:
    head = f"  - {f['rule']} {f['severity']}"
    if f["field"]:
        head += f" in {f['field']}"
    if f["value"]:
        head += f" = {f['value']}"
    return [head, _wrap(f["detail"], "      "), _wrap(f"clause: {f['clause']}", "      ")]
