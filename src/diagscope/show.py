"""A stored request as a tester reads it: the request line, its body and its events as
Common Schema JSON (declared PII kinds included), or what could be read of a damaged body.

Its output ends up in files and tickets, so by default the values the run's findings name
(personal data, canaries) are masked as the findings themselves show them, and so is what
the detectors recognise in a damaged body's generic Bond tree. Clear values are for the
tester's own terminal (`diagscope show --reveal`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any, NamedTuple

from sqlalchemy import Engine

from diagscope.decode.bond import read_structs, to_jsonable
from diagscope.decode.inflate import InflateError, inflate
from diagscope.model import Event
from diagscope.pii.mask import generic, mask
from diagscope.pii.scan import scan_event_values
from diagscope.store.jsoncodec import dumps
from diagscope.store.queries import event_documents, iter_findings_of_flow, request_row
from diagscope.store.rows import text

BOND = "application/bond-compact-binary"
MASKED_NOTE = ("# masked: the values findings name (diagscope show --reveal prints them in "
               "clear, on a terminal)")
#: A path step's list indexes: `Items[2]`, `Matrix[0][1]`.
_INDEXES = re.compile(r"(.*?)((?:\[\d+\])+)")


class MaskedField(NamedTuple):
    """A field a finding names, and how the finding itself shows its value."""

    field: str
    kind: str | None
    shown: str | None


def bond_tree(body: bytes, encoding: str | None, *, clear: bool = True) -> list[str]:
    """What could be read of a damaged Bond body, schema-less, as evidence."""
    try:
        data = inflate(body, encoding).data
    except InflateError as exc:
        return [f"# the body cannot be inflated: {exc}"]
    structs, error = read_structs(data)
    head = f"# generic Bond tree: {len(structs)} structs read" + (f", then {error}"
                                                                    if error else "")
    tree = to_jsonable(structs)
    if not clear:
        tree = _mask_detected(tree)
    return [head, text(json.dumps(tree, indent=1, ensure_ascii=False)) or ""]


def request_text(engine: Engine, run_id: int, flow_id: str, *, clear: bool = False) -> str:
    """The request as `diagscope show` prints it; `clear` leaves personal data unmasked.
    Raises LookupError when the run has no such request."""
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
    if not clear:
        lines.append(MASKED_NOTE)
    if request["decode_status"] in ("undecodable", "partial") and \
            request["content_type"] == BOND:
        lines += bond_tree(request["body"], request["content_encoding"], clear=clear)
    masked = {} if clear else fields_to_mask(engine, run_id, flow_id)
    for doc in event_documents(engine, run_id, flow_id):
        cs = doc["cs"]
        for named in masked.get(doc["event_index"], []):
            mask_field(cs, named)
        if doc["marks"]:
            cs = {**cs, "declaredPii": doc["marks"]}
        lines.append(f"# event {doc['event_index']}: level {doc['level']}, "
                     f"verdict {doc['verdict']}")
        lines.append(text(json.dumps(json.loads(dumps(cs)), indent=2, ensure_ascii=False))
                     or "")
    return "\n".join(lines)


def fields_to_mask(engine: Engine, run_id: int, flow_id: str) -> dict[int, list[MaskedField]]:
    """Per event index, the fields the request's personal-data findings name."""
    out: dict[int, list[MaskedField]] = defaultdict(list)
    for finding in iter_findings_of_flow(engine, run_id, flow_id):
        if finding["event_index"] is not None and finding["field"] and finding["pii_kind"]:
            out[finding["event_index"]].append(
                MaskedField(finding["field"], finding["pii_kind"], finding["value"]))
    return out


def mask_field(cs: dict[str, Any], named: MaskedField) -> bool:
    """Mask, in place, the value at a finding's field path (`data.User.Email`,
    `ext.device.localId`, `data.Items[2]`) in an event's Common Schema JSON. The finding's
    own masked form is used when it is the whole value's; a value the finding saw only a
    part of, or decoded, is masked generically. False when the path leads nowhere."""
    slot = _locate(cs, named.field)
    if slot is None:
        return False
    container, key = slot
    value = container[key]
    if isinstance(value, dict | list):
        container[key] = _mask_all(value)
        return True
    if value is None or isinstance(value, bool):
        return True
    clear = str(value)
    whole = named.shown is not None and named.shown in (mask(clear, named.kind), mask(clear))
    container[key] = named.shown if whole else generic(clear)
    return True


def _part(cs: dict[str, Any], head: str) -> Any:
    """The part of an event a path starts in; Part B travels inside `data` in Common
    Schema JSON."""
    data = cs.get("data")
    if head == "data":
        return data
    if head == "baseData":
        return data.get("baseData") if isinstance(data, dict) else None
    return cs.get("ext") if head == "ext" else None


def _locate(cs: dict[str, Any], path: str) -> tuple[Any, Any] | None:
    """(container, key or index) of the value at a dotted path, or None."""
    head, _, rest = path.partition(".")
    node = _part(cs, head)
    slot: tuple[Any, Any] | None = None
    while rest:
        if not isinstance(node, dict):
            return None
        step = _step(node, rest)
        if step is None:
            return None
        key, indexes, consumed = step
        slot, node = (node, key), node[key]
        for index in indexes:
            if not isinstance(node, list) or index >= len(node):
                return None
            slot, node = (node, index), node[index]
        rest = rest[consumed + 1:]
    return slot


def _step(node: dict[str, Any], rest: str) -> tuple[str, list[int], int] | None:
    """The next key on the path, the list indexes after it, and how many characters they
    take. Keys may themselves hold dots (`User.Email` is one key in the JS SDK's flat
    property bags), so the longest key that exists wins."""
    ends = [len(rest)] + [i for i in range(len(rest) - 1, 0, -1) if rest[i] == "."]
    for end in ends:
        candidate = rest[:end]
        if candidate in node:
            return candidate, [], end
        indexed = _INDEXES.fullmatch(candidate)
        if indexed and indexed.group(1) in node:
            return indexed.group(1), [int(i) for i in re.findall(r"\d+", indexed.group(2))], end
    return None


def _mask_all(value: Any) -> Any:
    """Every leaf of a dict or list masked (a coordinate object, a list a field holds)."""
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return mask(str(value))


def _mask_detected(tree: Any) -> Any:
    """A generic Bond tree with what the personal-data detectors recognise masked: no
    finding names fields in a body that could not be decoded into events."""
    holder: dict[str, Any] = {"data": {"bond": tree}}
    for hit in scan_event_values(Event(index=0, name="", data=holder["data"])):
        mask_field(holder, MaskedField(hit.field, hit.kind, mask(hit.value, hit.kind)))
    return holder["data"]["bond"]
