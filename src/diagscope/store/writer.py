"""Write runs in batches: one transaction per batch, never a commit per row."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from diagscope import __version__
from diagscope.pii.canary import CanarySet
from diagscope.pipeline import Inspection
from diagscope.policy.load import LoadedPolicy
from diagscope.store.bulk import BulkInserter
from diagscope.store.chain import CURRENT_FORMAT, GENESIS, link
from diagscope.store.entries import (
    CLOSE,
    HEADER,
    OPEN,
    append_entry,
    as_stored,
    close_content,
    header_content,
    lock_chain,
)
from diagscope.store.kinds import RunKinds
from diagscope.store.rows import RequestRows, rows_of, text
from diagscope.store.tables import events, finding_occurrences, requests, runs


def mitmproxy_version() -> str:
    try:
        from mitmproxy.version import VERSION

        return VERSION
    except ImportError:  # pragma: no cover - mitmproxy is a dependency
        return "unknown"


@dataclass(slots=True)
class CaptureInfo:
    path: str
    sha256: str
    size: int
    damage: str | None = None
    owned: bool = False  # written by diagscope itself (a proxy session), so purge deletes it


def capture_info(path: str) -> CaptureInfo:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fo:
        while chunk := fo.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return CaptureInfo(path=path, sha256=digest.hexdigest(), size=size)


def start_run(
    engine: Engine,
    *,
    loaded: LoadedPolicy,
    label: str,
    source_kind: str,
    captures: list[CaptureInfo] | None = None,
    command: str = "",
    scenario: dict[str, Any] | None = None,
    canaries: CanarySet | None = None,
    settings: dict[str, Any] | None = None,
) -> int:
    """Open a run and chain its header: everything it was started with."""
    values: dict[str, Any] = {
        "label": text(label) or "",
        "policy_name": loaded.policy.name,
        "policy_version": loaded.policy.version,
        "policy_sha256": loaded.sha256,
        "policy_text": loaded.text,
        "policy_resolved": as_stored(loaded.policy.model_dump(mode="json")),
        "scenario": as_stored(scenario),
        "canaries": as_stored(canary_records(canaries)),
        "settings": as_stored(settings),
        "tool_version": __version__,
        "mitmproxy_version": mitmproxy_version(),
        "source_kind": source_kind,
        "captures": capture_records(captures or []),
        # As any database and the chain's canonical JSON accept it (no NUL, no lone
        # surrogate from an undecodable argument).
        "command": text(command or " ".join(sys.argv)) or "",
        "started_at": datetime.now(UTC),
    }
    with engine.begin() as conn:
        result = conn.execute(insert(runs).values(**values, status=OPEN,
                                                  chain_format=CURRENT_FORMAT))
        key = result.inserted_primary_key
        if key is None:  # only an executemany has no key; this insert is a single row
            raise RuntimeError("the database returned no id for the new run")
        run_id = int(key[0])
        head, length = append_entry(conn, run_id, HEADER, header_content(values), GENESIS, 0)
        conn.execute(update(runs).where(runs.c.id == run_id)
                     .values(chain_head=head, chain_length=length))
    return run_id


def capture_records(captures: list[CaptureInfo]) -> list[dict[str, Any]]:
    """Captures as a run stores them: with absolute paths, so `export` finds them from any
    folder."""
    return [{**asdict(c), "path": os.path.abspath(c.path)} for c in captures]


def canary_records(canaries: CanarySet | None) -> dict[str, Any] | None:
    if not canaries:
        return None
    return {"salt": canaries.salt,
            "canaries": [{"label": r.label, "salted_sha256": r.salted_sha256}
                         for r in canaries.records]}


def finish_run(
    engine: Engine, run_id: int, *, status: str, captures: list[CaptureInfo] | None = None,
    write_errors: int = 0,
) -> None:
    """Close a run: its end time and status, the captures as finally read, and how many
    telemetry requests could not be stored (the evidence is short by that many). The
    closing entry records them in the chain, with the number of rows the run holds."""
    values: dict[str, Any] = {"ended_at": datetime.now(UTC), "status": status,
                              "write_errors": write_errors}
    with engine.begin() as conn:
        head, length, chain_format = lock_chain(conn, run_id)
        if captures is not None:
            values["captures"] = capture_records(captures)
        else:
            values["captures"] = conn.execute(
                select(runs.c.captures).where(runs.c.id == run_id)).scalar()
        if chain_format >= CURRENT_FORMAT:
            counts = {name: conn.execute(select(func.count()).select_from(table)
                                         .where(table.c.run_id == run_id)).scalar_one()
                      for name, table in (("requests", requests), ("events", events),
                                          ("findings", finding_occurrences))}
            head, length = append_entry(conn, run_id, CLOSE, close_content(values, counts),
                                        head, length)
            values.update(chain_head=head, chain_length=length)
        conn.execute(update(runs).where(runs.c.id == run_id).values(**values))


_INSERT_REQUESTS = BulkInserter(requests)
_INSERT_EVENTS = BulkInserter(events)


@dataclass
class RunWriter:
    """Buffers inspections of one run and writes each telemetry request exactly once."""

    engine: Engine
    run_id: int
    batch_size: int = 200
    _seen: set[str] = field(default_factory=set)
    _requests: list[dict[str, Any]] = field(default_factory=list)
    _events: list[dict[str, Any]] = field(default_factory=list)
    _findings: list[dict[str, Any]] = field(default_factory=list)
    _pending: int = 0
    stored_requests: int = 0
    _head: str = GENESIS
    _length: int = 0
    # The chain as committed, and the flows of the batch not yet committed: what `discard`
    # goes back to, so rows stored after a refused batch still form an unbroken chain.
    _committed: tuple[str, int] = (GENESIS, 0)
    _batch_flows: list[str] = field(default_factory=list)
    # The batch's rows in chain order with their content digests, to link them again onto
    # whatever was chained meanwhile (settings attached to a run still recording).
    _batch_chain: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    _kinds: RunKinds = field(init=False)

    def __post_init__(self) -> None:
        self._kinds = RunKinds(self.run_id)
        with self.engine.connect() as conn:
            self._kinds.load(conn)
            existing = conn.execute(
                select(requests.c.flow_id).where(requests.c.run_id == self.run_id)
            )
            self._seen.update(row[0] for row in existing)
            head, length = conn.execute(
                select(runs.c.chain_head, runs.c.chain_length).where(runs.c.id == self.run_id)
            ).one()
        self._head, self._length = head or GENESIS, length or 0
        self._committed = (self._head, self._length)
        self.stored_requests = len(self._seen)

    @property
    def pending(self) -> int:
        """Requests queued and not yet committed."""
        return self._pending

    @property
    def full(self) -> bool:
        return self._pending >= self.batch_size

    def add(self, inspection: Inspection) -> bool:
        """Queue one inspection; False when this flow is already part of the run."""
        if inspection.request.flow_id in self._seen:
            return False
        return self.add_rows(rows_of(inspection))

    def add_rows(self, rows: RequestRows) -> bool:
        """Number and chain a request's prepared rows; False for a flow already stored."""
        if rows.flow_id in self._seen:
            return False
        self._seen.add(rows.flow_id)
        self._batch_flows.append(rows.flow_id)
        run_id = self.run_id
        head, length = self._head, self._length
        request_row, digest = rows.request
        request_row["run_id"] = run_id
        request_row["seq"] = seq = len(self._seen)
        request_row["chain_seq"] = length
        head = link(head, "requests", run_id, length, seq, digest)
        request_row["chain_hash"] = bytes.fromhex(head)  # as `Digest` stores it
        length += 1
        self._requests.append(request_row)
        self._batch_chain.append(("requests", request_row, digest))
        for table, items, out in (("events", rows.events, self._events),
                                  ("findings", rows.findings, self._findings)):
            for row, digest in items:
                row["run_id"] = run_id
                row["chain_seq"] = length
                head = link(head, table, run_id, length, None, digest)
                row["chain_hash"] = bytes.fromhex(head)
                length += 1
                out.append(row)
                self._batch_chain.append((table, row, digest))
        self._head, self._length = head, length
        self._pending += 1
        return True

    def flush(self) -> None:
        if not self._pending:
            return
        try:
            with self.engine.begin() as conn:
                head, length, _ = lock_chain(conn, self.run_id)
                if (head, length) != self._committed:
                    self._relink(head, length)
                _INSERT_REQUESTS.insert(conn, self._requests)
                _INSERT_EVENTS.insert(conn, self._events)
                self._kinds.write(conn, self._findings)
                conn.execute(
                    update(runs)
                    .where(runs.c.id == self.run_id)
                    .values(chain_head=self._head, chain_length=self._length)
                )
        except BaseException:
            self._kinds.forget_uncommitted()  # rolled back with the batch
            raise
        self._kinds.committed()
        self.stored_requests += self._pending
        self._committed = (self._head, self._length)
        self._clear()

    def _relink(self, head: str, length: int) -> None:
        """Number and link the batch again, onto the chain as the database holds it."""
        run_id = self.run_id
        for table, row, digest in self._batch_chain:
            row["chain_seq"] = length
            seq = row["seq"] if table == "requests" else None
            head = link(head, table, run_id, length, seq, digest)
            row["chain_hash"] = bytes.fromhex(head)
            length += 1
        self._head, self._length = head, length

    def discard(self) -> int:
        """Drop the batch the database refused; returns how many requests it held. The chain
        goes back to what was committed, so later batches link onto stored rows."""
        lost = self._pending
        self._seen.difference_update(self._batch_flows)
        self._head, self._length = self._committed
        self._clear()
        return lost

    def _clear(self) -> None:
        self._requests.clear()
        self._events.clear()
        self._findings.clear()
        self._batch_flows.clear()
        self._batch_chain.clear()
        self._pending = 0

