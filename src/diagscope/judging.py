"""Judging one request into the rows to store, in this process or in a worker process.

Nothing a request carries may make it disappear: when judging fails (a decoder or rule
bug, a value nothing expected), the request is still stored, with its raw body, the error
and an `undecodable` review finding, so it shows up in `findings` and the report.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading

from diagscope.decode.detect import declared_content_type
from diagscope.model import DecodedBody, DecodeStatus, Finding, Request, Severity
from diagscope.pii.canary import CanarySet
from diagscope.pipeline import Inspection, Inspector
from diagscope.policy.model import Policy
from diagscope.rules.undecodable import CLAUSE as UNDECODABLE_CLAUSE
from diagscope.steps import Steps
from diagscope.store.rows import RequestRows, rows_of

log = logging.getLogger(__name__)

Judged = tuple[Inspection, RequestRows]


def failed_inspection(request: Request, error: BaseException) -> Inspection:
    """A request diagscope could not judge, as evidence: raw body, the error, a review."""
    reason = f"{type(error).__name__}: {error}"[:500]
    decoded = DecodedBody(DecodeStatus.UNDECODABLE, declared_content_type(request),
                          request.header("content-encoding"),
                          error=f"diagscope could not judge this request ({reason})")
    finding = Finding(
        rule="undecodable", severity=Severity.REVIEW,
        detail=f"diagscope could not judge this request ({reason}); its raw body is kept as "
               "evidence and it needs a reviewer.",
        clause=UNDECODABLE_CLAUSE,
    )
    return Inspection(request, decoded, [finding])


def judge(inspector: Inspector, request: Request, steps: Steps | None = None
          ) -> Judged | None:
    """The inspection and the rows of a telemetry request; None for other traffic.

    With scenario `steps`, the request is stamped with the step current when it was made
    (unless its door already did). Never raises for a telemetry request: failures become a
    stored failed inspection."""
    if steps and request.step is None:
        request.step = steps.at(request.time)
    try:
        inspection = inspector.inspect(request)
    except Exception as exc:
        log.exception("diagscope: judging flow %s failed; it is stored as undecided",
                      request.flow_id)
        try:
            telemetry = inspector.is_telemetry(request)
        except Exception:
            telemetry = True  # cannot tell: keep it rather than lose it
        if not telemetry:
            return None
        inspection = failed_inspection(request, exc)
    if inspection is None:
        return None
    try:
        return inspection, rows_of(inspection)
    except Exception as exc:
        log.exception("diagscope: could not prepare the rows of flow %s; stored as undecided",
                      request.flow_id)
        inspection = failed_inspection(request, exc)
        return inspection, rows_of(inspection)


_worker_inspector: Inspector | None = None
_worker_steps: Steps | None = None


#: How much a live proxy's judging process yields the CPU (nice(2) increment): forwarding
#: comes first. Under a burst judging falls behind and catches up when the proxy is less
#: busy; every request waits in the recorder's queue meanwhile, nothing is dropped.
BACKGROUND_NICENESS = 10


def init_worker(policy: Policy, canaries: CanarySet | None, steps: Steps | None = None,
                niceness: int = 0) -> None:
    """Initialise a judging process with the run's policy, canaries and scenario steps."""
    global _worker_inspector, _worker_steps
    if niceness:
        with contextlib.suppress(OSError):  # not every platform lets a process yield
            os.nice(niceness)
    _worker_inspector = Inspector(policy, canaries=canaries)
    _worker_steps = steps
    _exit_with_parent()


def _exit_with_parent() -> None:
    # A proxy killed with -9 cannot shut its pool down; without this its judging process
    # would wait on the call queue for ever, an orphan holding the policy in memory.
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="diagscope-parent-watch", daemon=True).start()


def worker_inspector() -> Inspector:
    if _worker_inspector is None:
        raise RuntimeError("this process was not initialised as a judging worker")
    return _worker_inspector


def worker_steps() -> Steps | None:
    return _worker_steps


def judge_in_worker(request: Request) -> Judged | None:
    """In a judging process (see `RunSession.worker_pool`)."""
    return judge(worker_inspector(), request, _worker_steps)
