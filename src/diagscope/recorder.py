"""Judge and store requests off the proxy's event loop, so forwarding never waits.

Judging (decoding, rules, personal-data detection) runs in a separate process when one is
given: Python runs one thread at a time, and judging in the proxy's own process would slow
every forwarded request. That process runs at a lower CPU priority, so that on a busy
machine forwarding comes first and judging catches up after a burst (requests wait in the
queue meanwhile). The recorder thread hands each request over, takes back the rows to
store, and writes them through the run's session.

The recorder batches writes and commits when its queue runs dry, when a batch is full or
after a short interval, whichever comes first. A failed commit (database locked, server
gone) keeps the batch in memory and is retried; what cannot be stored in the end is
counted, and the run is then marked incomplete. `on_stored` is called after a request's
batch is committed: a request reported there survives a crash.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor

from diagscope.judging import Judged, failed_inspection, judge_in_worker
from diagscope.model import Request
from diagscope.pipeline import Inspection
from diagscope.session import RunSession
from diagscope.store.rows import rows_of

log = logging.getLogger(__name__)

_STOP = object()


class Recorder:
    def __init__(
        self,
        session: RunSession,
        *,
        judges: Executor | None = None,
        on_stored: Callable[[Inspection], None] | None = None,
        max_batch: int = 200,
        max_delay: float = 0.5,
    ) -> None:
        self.session = session
        session.autoflush = False  # this thread commits, batching by time and size
        self.judges = judges
        self.on_stored = on_stored
        self.max_batch = max_batch
        self.max_delay = max_delay
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
            if isinstance(item, tuple):
                request, inspection = item
                self._record(request, inspection)
            due = time.monotonic() - last_commit >= self.max_delay
            if self._unacknowledged and (
                self._queue.empty() or due or len(self._unacknowledged) >= self.max_batch
            ):
                self._commit()
                last_commit = time.monotonic()

    def _judged(self, request: Request, inspection: Inspection | None) -> Judged | None:
        # The scenario step current when the request was made, also when another process
        # (`diagscope step N`) moved the run on.
        self.session.refresh_steps()
        self.session.stamp(inspection.request if inspection is not None else request)
        if inspection is not None:  # judged before it was forwarded or saved
            try:
                return inspection, rows_of(inspection)
            except Exception as exc:
                failed = failed_inspection(request, exc)
                return failed, rows_of(failed)
        if self.judges is not None:
            try:
                return self.judges.submit(judge_in_worker, request).result()
            except Exception:
                log.exception("diagscope: the judging process failed on flow %s; judging it "
                              "here instead", request.flow_id)
        return self.session.judge(request)

    def _record(self, request: Request, inspection: Inspection | None) -> None:
        judged = self._judged(request, inspection)
        if judged is None:
            return
        inspection, rows = judged
        try:
            stored = self.session.record(rows)
        except Exception:
            log.exception("diagscope: could not queue flow %s for storing", request.flow_id)
            self.session.lost(1)
            return
        if stored:
            self._unacknowledged.append(inspection)

    def _commit(self, final: bool = False) -> None:
        attempts = 0
        while True:
            try:
                self.session.flush_once()
                break
            except Exception:
                attempts += 1
                log.exception("diagscope: database write failed (attempt %d); the batch is "
                              "kept and retried", attempts)
                if not final:
                    return
                if attempts >= 5:
                    self.session.give_up_pending()
                    self._unacknowledged.clear()
                    return
                time.sleep(min(2.0, 0.1 * 2**attempts))
        done, self._unacknowledged = self._unacknowledged, []
        if self.on_stored is not None:
            for inspection in done:
                try:
                    self.on_stored(inspection)
                except Exception:
                    log.exception("diagscope: on_stored callback failed")
