"""A stored request as a tester reads it: the request line, its body and its events as
Common Schema JSON (declared PII kinds included), or what could be read of a damaged body."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from diagscope.decode.bond import read_structs, to_jsonable
from diagscope.decode.inflate import InflateError, inflate
from diagscope.store.jsoncodec import dumps
from diagscope.store.queries import event_documents, request_row
from diagscope.store.rows import text

BOND = "application/bond-compact-binary"


def bond_tree(body: bytes, encoding: str | None) -> list[str]:
    """What could be read of a damaged Bond body, schema-less, as evidence."""
    try:
        data = inflate(body, encoding).data
    except InflateError as exc:
        return [f"# the body cannot be inflated: {exc}"]
    structs, error = read_structs(data)
    head = f"# generic Bond tree: {len(structs)} structs read" + (f", then {error}"
                                                                    if error else "")
    return [head, text(json.dumps(to_jsonable(structs), indent=1, ensure_ascii=False)) or ""]


def request_text(engine: Engine, run_id: int, flow_id: str) -> str:
    """Raises LookupError when the run has no such request."""
    request = request_row(engine, run_id, flow_id)
    if request is None:
        raise LookupError(f"run {run_id} has no request with flow id {flow_id}")
    lines = [
        f"# {request['method']} {request['scheme']}://{request['host']}:{request['port']}"
        f"{request['path']}",
        f"# {request['content_type']} ({request['content_encoding']}), "
        f"{request['body_size']} bytes, sha256 {request['body_sha256']}, "
        f"decode {request['decode_status']}"
        + (f": {request['decode_error']}" if request["decode_error"] else ""),
    ]
    if request["decode_status"] in ("undecodable", "partial") and \
            request["content_type"] == BOND:
        lines += bond_tree(request["body"], request["content_encoding"])
    for doc in event_documents(engine, run_id, flow_id):
        cs = doc["cs"]
        if doc["marks"]:
            cs = {**cs, "declaredPii": doc["marks"]}
        lines.append(f"# event {doc['event_index']}: level {doc['level']}, "
                     f"verdict {doc['verdict']}")
        lines.append(text(json.dumps(json.loads(dumps(cs)), indent=2, ensure_ascii=False))
                     or "")
    return "\n".join(lines)
