"""The mitmproxy addon: hands every finished flow to the pipeline and stores the result.

The proxy must keep forwarding whatever happens here, so every per-flow step is guarded
and failures are logged, never raised into mitmproxy. Judging and storing run on the
recorder's worker thread; only `--block` judges in the request hook, because it must
decide before the request goes upstream.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor

from mitmproxy import ctx, exceptions, http

from diagscope.model import Severity
from diagscope.pii.canary import CanarySet, canary_set
from diagscope.pipeline import Inspection, Inspector
from diagscope.policy.load import DEFAULT_POLICY, LoadedPolicy, PolicyError, load_policy
from diagscope.recorder import Recorder, init_judge
from diagscope.sources.flows import request_from_flow
from diagscope.store.engine import DEFAULT_DB, open_engine
from diagscope.store.writer import CaptureInfo, RunWriter, capture_info, finish_run, start_run

log = logging.getLogger(__name__)

#: What the collector answers when asked for no response body (`NoResponseBody=true`).
BLOCKED_STATUS = 204


class DiagscopeAddon:
    def __init__(self, on_stored: Callable[[Inspection], None] | None = None) -> None:
        self.on_stored = on_stored
        self.loaded: LoadedPolicy | None = None
        self.inspector: Inspector | None = None
        self.canaries: CanarySet | None = None
        self.engine = None
        self.run_id: int | None = None
        self.recorder: Recorder | None = None
        self._db: str | None = None
        self._pending: dict[str, http.HTTPFlow] = {}
        self._handled: set[str] = set()
        self._early: dict[str, Inspection] = {}

    @property
    def telemetry_requests(self) -> int:
        return self.recorder.stats.telemetry_requests if self.recorder else 0

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "diagscope_policy", str, DEFAULT_POLICY,
            "diagscope policy: a bundled policy name or a path to a policy YAML file.",
        )
        loader.add_option(
            "diagscope_db", str, DEFAULT_DB,
            "diagscope database: a SQLite file path or an SQLAlchemy URL.",
        )
        loader.add_option(
            "diagscope_label", str, "",
            "Label of this diagscope run, e.g. the build under test.",
        )
        loader.add_option(
            "diagscope_canary", Sequence[str], [],
            "Canary values planted by the tester (label=value or value); repeatable.",
        )
        loader.add_option(
            "diagscope_scenario", str, "",
            "Scenario file being played; stored with the run (its canaries are not added "
            "here: pass them with diagscope_canary).",
        )
        loader.add_option(
            "diagscope_judge_process", bool, True,
            "Judge telemetry in a separate process, so forwarding is not slowed.",
        )
        loader.add_option(
            "diagscope_block", bool, False,
            "Answer violating telemetry requests with 204 instead of forwarding them.",
        )

    def configure(self, updated: set[str]) -> None:
        if "diagscope_policy" in updated or self.loaded is None:
            try:
                self.loaded = load_policy(ctx.options.diagscope_policy)
            except PolicyError as exc:
                raise exceptions.OptionsError(f"diagscope_policy: {exc}") from exc
            if self.run_id is not None:
                raise exceptions.OptionsError("diagscope_policy cannot change while a run is open")
        if "diagscope_canary" in updated or self.inspector is None:
            if self.run_id is not None:
                raise exceptions.OptionsError("diagscope_canary cannot change while a run is open")
            try:
                self.canaries = canary_set(ctx.options.diagscope_canary)
            except ValueError as exc:
                raise exceptions.OptionsError(f"diagscope_canary: {exc}") from exc
            self.inspector = Inspector(self.loaded.policy, canaries=self.canaries)
        if "diagscope_db" in updated or self.engine is None:
            if self.run_id is not None and ctx.options.diagscope_db != self._db:
                raise exceptions.OptionsError("diagscope_db cannot change while a run is open")
            try:
                self.engine = open_engine(ctx.options.diagscope_db)
            except Exception as exc:
                raise exceptions.OptionsError(
                    f"diagscope_db: cannot open {ctx.options.diagscope_db!r}: {exc}"
                ) from exc
            self._db = ctx.options.diagscope_db

    def running(self) -> None:
        self._ensure_run()

    def _capture_paths(self) -> list[tuple[str, bool]]:
        """(path, written by this session) for the capture files of the run."""
        paths = []
        rfile = getattr(ctx.options, "rfile", None)
        if rfile:
            paths.append((rfile, False))
        stream = getattr(ctx.options, "save_stream_file", None)
        if stream:
            paths.append((stream.lstrip("+"), True))
        return paths

    def _captures(self) -> list[CaptureInfo]:
        out = []
        for path, owned in self._capture_paths():
            try:
                info = capture_info(path)
            except OSError:
                info = CaptureInfo(path=path, sha256="", size=0, damage="not written yet")
            info.owned = owned
            out.append(info)
        return out

    def _ensure_run(self) -> None:
        if self.run_id is not None or self.engine is None or self.loaded is None:
            return
        assert self.inspector is not None
        captures = self._captures()
        self.run_id = start_run(
            self.engine,
            loaded=self.loaded,
            label=ctx.options.diagscope_label,
            source_kind="replay" if getattr(ctx.options, "rfile", None) else "proxy",
            captures=captures,
            canaries=self.canaries,
            scenario=self._scenario_record(),
        )
        self.recorder = Recorder(
            self.inspector, RunWriter(self.engine, self.run_id), on_stored=self.on_stored,
            judges=self._judges(),
        )
        log.info("diagscope: recording run %s in %s", self.run_id, self._db)

    def _judges(self) -> Executor | None:
        """A separate process for judging, so the proxy's own process only forwards."""
        if not ctx.options.diagscope_judge_process or self.loaded is None:
            return None
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(1, mp_context=context, initializer=init_judge,
                                   initargs=(self.loaded.policy, self.canaries))

    def _scenario_record(self) -> dict | None:  # type: ignore[type-arg]
        path = ctx.options.diagscope_scenario
        if not path:
            return None
        from diagscope.scenario import ScenarioError, load_scenario

        try:
            return load_scenario(path).record()
        except ScenarioError as exc:
            log.error("diagscope: scenario not stored: %s", exc)
            return None

    async def request(self, flow: http.HTTPFlow) -> None:
        # Remembered so that a flow that never completes is still recorded at shutdown.
        if flow.id in self._handled:
            return
        self._pending[flow.id] = flow
        if not ctx.options.diagscope_block or self.inspector is None or flow.response:
            return
        try:
            request = request_from_flow(flow)
            if not self.inspector.is_telemetry(request):
                return
            inspection = await asyncio.to_thread(self.inspector.inspect, request)
            if inspection and any(f.severity is Severity.VIOLATION for f in inspection.findings):
                flow.response = http.Response.make(BLOCKED_STATUS)
                flow.metadata["diagscope_blocked"] = True
                inspection.request.action = "blocked"
                self._early[flow.id] = inspection
        except Exception:
            log.exception("diagscope: could not judge flow %s before forwarding; forwarded",
                          flow.id)

    def response(self, flow: http.HTTPFlow) -> None:
        self._handle(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._handle(flow)

    def _handle(self, flow: http.HTTPFlow) -> None:
        self._pending.pop(flow.id, None)
        if flow.id in self._handled:
            return
        self._handled.add(flow.id)
        try:
            self._ensure_run()
            assert self.recorder is not None
            early = self._early.pop(flow.id, None)
            source = getattr(ctx.options, "rfile", None) or None
            request = early.request if early else request_from_flow(flow, source=source)
            if early is not None:
                # The response is known only now; the judgement made before stays.
                request.response_status = flow.response.status_code if flow.response else None
            self.recorder.submit(request, early)
        except Exception:
            log.exception("diagscope: could not record flow %s; the proxy carries on", flow.id)

    def done(self) -> None:
        for flow in list(self._pending.values()):
            self._handle(flow)
        self._pending.clear()
        if self.recorder is not None:
            self.recorder.close()
        if self.engine is not None and self.run_id is not None:
            try:
                finish_run(self.engine, self.run_id, status="complete",
                           captures=self._captures() or None)
            except Exception:
                log.exception("diagscope: could not close run %s", self.run_id)

