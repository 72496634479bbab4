"""Judge and store requests off the proxy's event loop, so forwarding never waits.

Judging (decoding, rules, personal-data detection) runs in a separate process when one is
given: Python runs one thread at a time, and judging in the proxy's own process would slow
every forwarded request. The recorder thread hands each request over, takes back the rows
to store, and writes them.

The recorder batches writes and commits when its queue runs dry, when a batch is full or
after a short interval, whichever comes first. A failed commit (database locked, server
gone) keeps the batch in memory and is retried; nothing is dropped. `on_stored` is called
after a request's batch is committed: a request reported there survives a crash.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from diagscope.model import Request
from diagscope.pii.canary import CanarySet
from diagscope.pipeline import Inspection, Inspector
from diagscope.policy.model import Policy
from diagscope.store.rows import RequestRows, rows_of
from diagscope.store.writer import RunWriter

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(slots=True)
class RecorderStats:
    telemetry_requests: int = 0
    events: int = 0
    violations: int = 0
    reviews: int = 0
    blocked: int = 0
    write_errors: int = 0


_judge_inspector: Inspector | None = None


def init_judge(policy: Policy, canaries: CanarySet | None) -> None:
    """Initialise a judging process."""
    global _judge_inspector
    _judge_inspector = Inspector(policy, canaries=canaries)


def judge(request: Request) -> tuple[Inspection, RequestRows] | None:
    """In a judging process: the inspection (for the console) and the rows to store."""
    assert _judge_inspector is not None
    inspection = _judge_inspector.inspect(request)
    return None if inspection is None else (inspection, rows_of(inspection))


class Recorder:
    def __init__(
        self,
        inspector: Inspector,
        writer: RunWriter,
        *,
        judges: Executor | None = None,
        on_stored: Callable[[Inspection], None] | None = None,
        max_batch: int = 200,
        max_delay: float = 0.5,
    ) -> None:
        self.inspector = inspector
        self.judges = judges
        self.writer = writer
        self.on_stored = on_stored
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.stats = RecorderStats()
        self._queue: queue.Queue[object] = queue.Queue()
        self._unacknowledged: list[Inspection] = []
        self._thread = threading.Thread(target=self._run, name="diagscope-recorder", daemon=True)
        self._thread.start()

    def submit(self, request: Request, inspection: Inspection | None = None) -> None:
        """Queue a request (already inspected, or to be inspected on the worker)."""
        self._queue.put((request, inspection))

    def close(self, timeout: float | None = None) -> None:
        """Drain the queue, commit everything, and stop the worker (and the judges)."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self.judges is not None:
            self.judges.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        last_commit = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self.max_delay)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._commit(final=True)
                return
            if item is not None:
                request, inspection = item  # type: ignore[misc]
                self._record(request, inspection)
            due = time.monotonic() - last_commit >= self.max_delay
            if self._unacknowledged and (
                self._queue.empty() or due or len(self._unacknowledged) >= self.max_batch
            ):
                self._commit()
                last_commit = time.monotonic()

    def _judged(self, request: Request, inspection: Inspection | None
                ) -> tuple[Inspection, RequestRows] | None:
        if inspection is not None:
            return inspection, rows_of(inspection)
        if self.judges is not None:
            try:
                return self.judges.submit(judge, request).result()
            except Exception:
                log.exception("diagscope: the judging process failed on flow %s; judging it "
                              "here instead", request.flow_id)
        inspection = self.inspector.inspect(request)
        return None if inspection is None else (inspection, rows_of(inspection))

    def _record(self, request: Request, inspection: Inspection | None) -> None:
        try:
            judged = self._judged(request, inspection)
            if judged is None:
                return
            inspection, rows = judged
            if not self.writer.add_rows(rows):
                return
        except Exception:
            log.exception("diagscope: could not judge flow %s; it is not stored",
                          request.flow_id)
            return
        stats = self.stats
        stats.telemetry_requests += 1
        stats.events += len(inspection.decoded.events)
        stats.violations += rows.violations
        stats.reviews += rows.reviews
        stats.blocked += rows.blocked
        self._unacknowledged.append(inspection)

    def _commit(self, final: bool = False) -> None:
        attempts = 0
        while True:
            try:
                self.writer.flush()
                break
            except Exception:
                self.stats.write_errors += 1
                attempts += 1
                log.exception("diagscope: database write failed (attempt %d); the batch is "
                              "kept and retried", attempts)
                if not final or attempts >= 5:
                    return
                time.sleep(min(2.0, 0.1 * 2**attempts))
        done, self._unacknowledged = self._unacknowledged, []
        if self.on_stored is not None:
            for inspection in done:
                try:
                    self.on_stored(inspection)
                except Exception:
                    log.exception("diagscope: on_stored callback failed")
