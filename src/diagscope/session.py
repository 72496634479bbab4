"""One run, whichever door it came through: `replay`, `diagscope proxy` or `mitmdump -s`.

A `RunSession` holds everything around the pipeline that each door used to write for
itself: the policy, the scenario and its canaries merged with the tester's, the collected
settings of the test machine, the stored command line with every secret removed, the
judging worker pool, the statistics, the run's final status and the summary that is
printed. The doors only feed it requests; nothing below it knows which door was used.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from diagscope.judging import BACKGROUND_NICENESS, Judged, init_worker, judge
from diagscope.model import Request
from diagscope.pii.canary import CanarySet, parse_canary, read_canary_file
from diagscope.pipeline import Inspector
from diagscope.policy.load import DEFAULT_POLICY, LoadedPolicy, load_policy
from diagscope.redact import redact_argv
from diagscope.sources.flows import CaptureDamage
from diagscope.steps import Steps
from diagscope.store.engine import DEFAULT_DB, open_engine
from diagscope.store.rows import RequestRows
from diagscope.store.steps import record_step, run_steps
from diagscope.store.writer import CaptureInfo, RunWriter, finish_run, start_run

log = logging.getLogger(__name__)

#: Final statuses a run can end with. Anything but `complete` means evidence is missing.
COMPLETE, DAMAGED, INCOMPLETE, INTERRUPTED, FAILED = (
    "complete", "damaged", "incomplete", "interrupted", "failed")


class SessionError(ValueError):
    """A session that cannot start: a bad policy, scenario, canary or settings file.
    `setting` names what was wrong (policy, db, canary, canary_file, scenario, settings)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class SessionWriteError(RuntimeError):
    """The database refused to store requests, even after retries."""


@dataclass(slots=True)
class SessionSettings:
    """What a door hands over: the same whether it parsed a command line or mitmproxy
    options."""

    policy: str = DEFAULT_POLICY
    db: str = DEFAULT_DB
    label: str = ""
    canaries: Sequence[str] = ()  # `label=value` or bare values
    canary_files: Sequence[str] = ()
    scenario: str | None = None  # path of the scenario file played
    settings_zip: str | None = None  # what collect.ps1 gathered on the test machine
    argv: Sequence[str] = ()  # the command line, stored with its secrets removed
    source_kind: str = "replay"  # replay or proxy
    extra_secrets: Sequence[str] = ()  # e.g. the proxy's password, never to be stored


@dataclass
class SessionStats:
    flows_read: int = 0
    telemetry_requests: int = 0
    events: int = 0
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)
    blocked: int = 0
    write_errors: int = 0  # requests that could not be stored
    damage: list[CaptureDamage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return sum(n for (_, severity), n in self.findings.items() if severity == "violation")

    @property
    def reviews(self) -> int:
        return sum(n for (_, severity), n in self.findings.items() if severity == "review")

    def count(self, rows: RequestRows) -> None:
        self.telemetry_requests += 1
        self.events += len(rows.events)
        self.blocked += rows.blocked
        for row, _ in rows.findings:
            self.findings[(row["rule"], row["severity"])] += 1

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


class RunSession:
    """Open with `RunSession(settings)`, then `start()`, feed requests, `finish()`."""

    def __init__(self, settings: SessionSettings, *, engine: Engine | None = None,
                 loaded: LoadedPolicy | None = None) -> None:
        self.settings = settings
        self.loaded = loaded or self._policy(settings.policy)
        self.scenario = self._scenario(settings.scenario)
        self.canaries = self._canaries(settings)
        self.collected = self._collected(settings.settings_zip)
        self.engine = engine or self._engine(settings.db)
        self.inspector = Inspector(self.loaded.policy, canaries=self.canaries)
        self.stats = SessionStats()
        self.run_id: int | None = None
        self.writer: RunWriter | None = None
        self.status: str | None = None
        # Replay commits whenever a batch is full; the proxy's recorder decides itself.
        self.autoflush = True
        self.steps = Steps()
        self._steps_read = 0.0

    # -- opening ---------------------------------------------------------------------------

    @staticmethod
    def _policy(ref: str) -> LoadedPolicy:
        from diagscope.policy.load import PolicyError

        try:
            return load_policy(ref)
        except PolicyError as exc:
            raise SessionError("policy", str(exc)) from None

    @staticmethod
    def _scenario(path: str | None) -> Any:
        if not path:
            return None
        from diagscope.scenario import ScenarioError, load_scenario

        try:
            return load_scenario(path)
        except ScenarioError as exc:
            raise SessionError("scenario", str(exc)) from None

    def _canaries(self, settings: SessionSettings) -> CanarySet | None:
        """The tester's canaries, those of canary files and the scenario's, merged once."""
        pairs = [parse_canary(text, i) for i, text in enumerate(settings.canaries, 1)]
        try:
            for path in settings.canary_files:
                pairs.extend(read_canary_file(path))
        except OSError as exc:
            raise SessionError("canary_file", f"cannot read canary file: {exc}") from None
        if self.scenario is not None:
            pairs.extend(self.scenario.canary_pairs())
        # Kept in memory only, to remove them from what is stored (the command line).
        self._canary_values = [value for _, value in pairs]
        try:
            return CanarySet(pairs) if pairs else None
        except ValueError as exc:
            raise SessionError("canary", f"canary: {exc}") from None

    def _collected(self, path: str | None) -> tuple[dict[str, Any], bool] | None:
        if not path:
            return None
        from diagscope.lab.settings import SettingsError, compare, read_settings

        try:
            record, has_ddv = read_settings(path)
        except SettingsError as exc:
            raise SessionError("settings", str(exc)) from None
        record["mismatches"] = compare(record, self.scenario.record() if self.scenario
                                       else None)
        return record, has_ddv

    @staticmethod
    def _engine(db: str) -> Engine:
        try:
            return open_engine(db)
        except Exception as exc:
            raise SessionError("db", f"cannot open database {db!r}: {exc}") from None

    def secrets(self) -> list[str]:
        """Values that must never be stored in clear: the canaries' and any the door names."""
        return [*self._canary_values, *self.settings.extra_secrets]

    # -- the run ---------------------------------------------------------------------------

    def start(self, captures: list[CaptureInfo] | None = None) -> int:
        # The collected settings go into the run's header with everything else it was
        # started with, so they are chained from the first entry.
        self.run_id = start_run(
            self.engine, loaded=self.loaded, label=self.settings.label,
            source_kind=self.settings.source_kind, captures=captures,
            command=redact_argv(self.settings.argv, self.secrets()),
            canaries=self.canaries,
            scenario=self.scenario.record() if self.scenario else None,
            settings=self.collected[0] if self.collected is not None else None,
        )
        self.writer = RunWriter(self.engine, self.run_id)
        return self.run_id

    def judge(self, request: Request) -> Judged | None:
        """Judged here, in this process; never raises for telemetry."""
        return judge(self.inspector, request, self.steps)

    # -- scenario steps --------------------------------------------------------------------

    def advance(self, step: int | None = None, at: datetime | None = None) -> int:
        """Move on to `step` (the next one when None), from `at` (now); returns the step."""
        if self.run_id is None:
            raise RuntimeError("start() the session first")
        number = step if step is not None else (self.steps.current or 0) + 1
        if number < 1:
            raise ValueError("scenario steps are numbered from 1")
        record_step(self.engine, self.run_id, number, at or datetime.now(UTC))
        self.steps = run_steps(self.engine, self.run_id)
        return number

    def refresh_steps(self, every: float = 0.5) -> None:
        """Read steps recorded by another process (`diagscope step N`), at most every
        `every` seconds."""
        now = time.monotonic()
        if self.run_id is not None and now - self._steps_read >= every:
            self._steps_read = now
            self.steps = run_steps(self.engine, self.run_id)

    def stamp(self, request: Request) -> None:
        """Put the step current when the request was made on it (before it is judged)."""
        if self.steps and request.step is None:
            request.step = self.steps.at(request.time)

    def step_title(self, step: int) -> str | None:
        steps = self.scenario.scenario.steps if self.scenario is not None else []
        return steps[step - 1].text if 0 < step <= len(steps) else None

    def record(self, rows: RequestRows) -> bool:
        """Queue a request's rows for storing; False when the flow is already stored."""
        if self.writer is None:
            raise RuntimeError("start() the session first")
        if not self.writer.add_rows(rows):
            return False
        self.stats.count(rows)
        if self.writer.full and self.autoflush:
            self.flush()
        return True

    def flush_once(self) -> None:
        """Commit what is queued; raises when the database refuses (the batch is kept)."""
        if self.writer is not None:
            self.writer.flush()

    def flush(self, attempts: int = 3) -> None:
        """Commit what is queued, retrying; what still cannot be stored is counted as lost
        (the run then ends `incomplete`) and `SessionWriteError` is raised."""
        for attempt in range(attempts):
            try:
                self.flush_once()
                return
            except Exception as exc:
                log.warning("diagscope: database write failed (attempt %d): %s", attempt + 1,
                            exc)
                error = exc
                time.sleep(min(2.0, 0.1 * 2**attempt))
        lost = self.give_up_pending()
        raise SessionWriteError(f"{lost} telemetry requests could not be stored: {error}")

    def give_up_pending(self) -> int:
        """Drop the batch the database refused; the requests count as not stored."""
        if self.writer is None:
            return 0
        lost = self.writer.discard()
        self.lost(lost)
        return lost

    def lost(self, requests: int) -> None:
        """Requests that could not be stored, however hard the writer tried."""
        self.stats.write_errors += requests

    def finish(self, status: str = COMPLETE, captures: list[CaptureInfo] | None = None
               ) -> str:
        """Close the run. It is `incomplete` whenever a request could not be stored."""
        if self.run_id is None:
            raise RuntimeError("the session was never started")
        if self.stats.write_errors and status == COMPLETE:
            status = INCOMPLETE
        if self.stats.damage and status == COMPLETE:
            status = DAMAGED
        finish_run(self.engine, self.run_id, status=status, captures=captures,
                   write_errors=self.stats.write_errors)
        self.status = status
        return status

    def worker_pool(self, workers: int, *, background: bool = False) -> ProcessPoolExecutor:
        """Judging processes initialised with this run's policy and canaries; `background`
        ones yield the CPU to everything else (a live proxy's forwarding)."""
        method = start_method(background)
        if method == "fork":
            # No open database connection may cross a fork (SQLite's rule): the pool's are
            # closed here and opened again when this process next writes.
            self.engine.dispose()
        context = multiprocessing.get_context(method)
        return ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                                   initargs=(self.loaded.policy, self.canaries,
                                             self.steps or None,
                                             BACKGROUND_NICENESS if background else 0))

    # -- what is printed ------------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        s, p = self.stats, self.loaded.policy
        lines = [f"Run {self.run_id} ({p.name} {p.version}) in {_shown_db(self.settings.db)}",
                 f"  flows read:          {s.flows_read}",
                 f"  telemetry requests:  {s.telemetry_requests}",
                 f"  events:              {s.events}",
                 f"  findings:            {sum(s.findings.values())}"]
        lines += [f"    {rule:<18} {severity:<10} {n}"
                  for (rule, severity), n in sorted(s.findings.items())]
        if s.blocked:
            lines.append(f"  blocked:             {s.blocked}")
        if s.write_errors:
            lines.append(f"  not stored:          {s.write_errors} (database writes failed)")
        lines.append(f"  verdict:             {self.verdict()} ({s.violations} violations)")
        if self.collected is not None:
            from diagscope.lab.settings import describe

            lines.append(f"run {self.run_id}: configured {describe(self.collected[0])}")
        return lines

    def verdict(self) -> str:
        """The run's verdict, decided as its report and evidence bundle decide it."""
        from diagscope.report.verdict import verdict_of

        s = self.stats
        stored = max(0, s.telemetry_requests - s.write_errors)
        return verdict_of(status=self.status or COMPLETE, requests=stored,
                          violations=s.violations, write_errors=s.write_errors)

    def notices(self) -> list[str]:
        """Warnings for the tester, one line each, for standard error."""
        out = [f"warning: {w}" for w in self.stats.warnings]
        if self.collected is not None:
            record, has_ddv = self.collected
            out += [f"WARNING: {m}: this run does not test the scenario's setting"
                    for m in record["mismatches"]]
            if has_ddv:
                out.append(f"{self.settings.settings_zip} holds a Diagnostic Data Viewer "
                           "export (diagnostic-data.json): replay it and compare with "
                           "`diagscope reconcile`.")
        out += [f"error: {d.path} is damaged after {d.flows_read} flows: {d.message}; the "
                "flows before the damage were recorded" for d in self.stats.damage]
        return out


def start_method(background: bool = False) -> str:
    """How judging processes are started. Replay forks them where that is safe (Linux, and
    this process runs one thread): they start with everything imported and the policy
    loaded, where a spawned process spends a second and more importing it all again
    before its first request (measured on 2 cores: 1.3 s of 12-14 s of `replay -j2`).
    A proxy's (`background`) are spawned: it runs threads, which a fork can leave holding
    locks for ever."""
    if background or sys.platform != "linux" or threading.active_count() > 1 or \
            "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    return "fork"


def _shown_db(db: str) -> str:
    from diagscope.redact import hide_url_password

    return hide_url_password(db)
