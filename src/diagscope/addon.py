"""The mitmproxy addon: hands every finished flow to the run's session and its recorder.

The proxy must keep forwarding whatever happens here, so every per-flow step is guarded
and failures are logged, never raised into mitmproxy. Judging and storing run on the
recorder's worker thread; only `--block` judges in the request hook, because it must
decide before the request goes upstream.

Inside mitmproxy's own UIs the addon registers diagscope's contentview (`contentview`) and
marks every flow with findings: a red circle for a violation, an orange diamond for
reviews only, and a comment summing up the findings (`2 violations: level, personal-data`),
so `~marked`, `~marker red_circle`, `~comment personal-data` and mitmweb's search find them.
A live flow is marked when its judgement is stored (on the event loop, and mitmweb's view
is told); a flow read from a file (`mitmdump -nr`, `mitmweb -r`) is judged in the request
hook instead, because nothing is forwarded then and mitmproxy's `save` addon (`-w`) writes
the flow in its response hook, which runs before this addon's.

The addon's options (`OPTIONS`) are declared once: `load` registers them with mitmproxy,
and `diagscope proxy` builds its command-line flags from the same table, so
`mitmdump -s addons/diagscope_addon.py --set diagscope_...` and `diagscope proxy --...`
are one and the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mitmproxy import command, ctx, exceptions, hooks, http

from diagscope.contentview import (
    SUMMARY_LINE,
    Registration,
    ViewContext,
    default_inspector,
    findings_summary,
    register,
)
from diagscope.judging import judge
from diagscope.model import Finding, Request, Severity, Verdict, worst_verdict
from diagscope.pipeline import Inspection
from diagscope.policy.load import DEFAULT_POLICY
from diagscope.recorder import Recorder
from diagscope.redact import HIDDEN, credential_secret
from diagscope.session import COMPLETE, RunSession, SessionError, SessionSettings
from diagscope.sources.flows import request_from_flow
from diagscope.store.engine import DEFAULT_DB
from diagscope.store.writer import CaptureInfo, capture_info

log = logging.getLogger(__name__)

#: What the collector answers when asked for no response body (`NoResponseBody=true`).
BLOCKED_STATUS = 204
#: Flows already handed over, remembered so a flow's `response` and a later `error` are not
#: stored twice; bounded, because a long session sees millions of flows.
HANDLED_LIMIT = 100_000
#: Telemetry flows waiting for their judgement to be stored, to be marked then. A request
#: the database never takes is never reported back, hence the bound.
AWAITING_LIMIT = 10_000
#: mitmproxy markers (names from its emoji list, rendered by mitmweb and the console): a
#: circle and a diamond, so they differ by shape as well as colour.
MARKERS: dict[Verdict, str] = {Verdict.VIOLATION: ":red_circle:",
                               Verdict.REVIEW: ":large_orange_diamond:"}


@dataclass(frozen=True, slots=True)
class AddonOption:
    """One diagscope option: its mitmproxy name, type, default, help and CLI flag."""

    name: str
    typespec: Any
    default: Any
    help: str
    flag: str


OPTIONS: tuple[AddonOption, ...] = (
    AddonOption("diagscope_policy", str, DEFAULT_POLICY,
                "Bundled policy name or path to a policy YAML file.", "--policy"),
    AddonOption("diagscope_db", str, DEFAULT_DB,
                "SQLite file path or SQLAlchemy database URL.", "--db"),
    AddonOption("diagscope_label", str, "",
                "Label for this run, e.g. the build under test.", "--label"),
    AddonOption("diagscope_canary", Sequence[str], [],
                "A value planted by the tester ([label=]value), searched in every encoding; "
                "repeatable. Never stored in clear.", "--canary"),
    AddonOption("diagscope_canary_file", Sequence[str], [],
                "A file of canaries, one [label=]value a line; repeatable.", "--canary-file"),
    AddonOption("diagscope_scenario", str, "",
                "The scenario being played: stored with the run, its canaries searched for.",
                "--scenario"),
    AddonOption("diagscope_settings", str, "",
                "The zip collect.ps1 wrote on the test machine, stored with the run.",
                "--settings"),
    AddonOption("diagscope_judge_process", bool, True,
                "Judge telemetry in a separate process, so forwarding is not slowed.",
                "--judge-process"),
    AddonOption("diagscope_block", bool, False,
                "Answer violating telemetry with 204 instead of forwarding it.", "--block"),
    AddonOption("diagscope_reveal", bool, False,
                "Show personal data in clear in diagscope's view of telemetry bodies "
                "(mitmweb, console, mitmdump --flow-detail 3); masked by default.",
                "--reveal"),
)
OPTION_NAMES = frozenset(o.name for o in OPTIONS)
#: Options that only change how flows are shown: they may change while a run is open.
VIEW_OPTION_NAMES = frozenset({"diagscope_reveal"})
SESSION_OPTION_NAMES = OPTION_NAMES - VIEW_OPTION_NAMES


def mark_flow(flow: http.HTTPFlow, findings: list[Finding]) -> bool:
    """Set the flow's marker and comment from its findings; True when either changed.

    A marker the tester set by hand is kept; a summary written by an earlier judgement is
    replaced, any other comment kept above it."""
    marker = MARKERS.get(worst_verdict([f.severity for f in findings]))
    if marker is None:
        return False
    changed = False
    if flow.marked in ("", *MARKERS.values()) and flow.marked != marker:
        flow.marked = marker
        changed = True
    kept = [line for line in flow.comment.splitlines() if not SUMMARY_LINE.match(line)]
    comment = "\n".join([*kept, findings_summary(findings)])
    if comment != flow.comment:
        flow.comment = comment
        changed = True
    return changed


class DiagscopeAddon:
    def __init__(self, on_stored: Callable[[Inspection], None] | None = None,
                 on_step: Callable[[int, str | None], None] | None = None) -> None:
        self.on_stored = on_stored
        self.on_step = on_step
        self.session: RunSession | None = None
        self.recorder: Recorder | None = None
        self._pending: dict[str, http.HTTPFlow] = {}
        self._handled: OrderedDict[str, None] = OrderedDict()
        self._early: dict[str, Inspection] = {}
        # Filled on the event loop, emptied on the recorder thread.
        self._awaiting: OrderedDict[str, http.HTTPFlow] = OrderedDict()
        self._awaiting_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._views: Registration | None = None
        self._reveal = False

    @property
    def run_id(self) -> int | None:
        return self.session.run_id if self.session else None

    @property
    def telemetry_requests(self) -> int:
        return self.session.stats.telemetry_requests if self.session else 0

    def load(self, loader: Any) -> None:
        for option in OPTIONS:
            loader.add_option(option.name, option.typespec, option.default, option.help)
        try:
            self._views = register(self._view_context)
        except Exception:
            log.exception("diagscope: could not register its contentview; flows are still "
                          "judged and recorded")

    def _view_context(self) -> ViewContext:
        """What the contentview judges with: this run's inspector (its policy and
        canaries), or the bundled policy's when no run could be opened."""
        session = self.session
        inspector = session.inspector if session is not None else default_inspector()
        return ViewContext(inspector, reveal=self._reveal)

    def configure(self, updated: set[str]) -> None:
        if "diagscope_reveal" in updated:
            self._reveal = bool(ctx.options.diagscope_reveal)
        if not (updated & SESSION_OPTION_NAMES or self.session is None):
            return
        if self.session is not None and self.session.run_id is not None:
            changed = sorted(updated & SESSION_OPTION_NAMES)
            raise exceptions.OptionsError(f"{', '.join(changed)} cannot change while a run "
                                          "is open")
        try:
            self.session = RunSession(self._settings())
        except SessionError as exc:
            raise exceptions.OptionsError(f"diagscope_{exc.setting}: {exc}") from None

    def _settings(self) -> SessionSettings:
        o = ctx.options
        proxyauth = getattr(o, "proxyauth", None) or ""
        secret = credential_secret(proxyauth)
        return SessionSettings(
            policy=o.diagscope_policy, db=o.diagscope_db, label=o.diagscope_label,
            canaries=list(o.diagscope_canary), canary_files=list(o.diagscope_canary_file),
            scenario=o.diagscope_scenario or None, settings_zip=o.diagscope_settings or None,
            argv=list(sys.argv), source_kind="replay" if getattr(o, "rfile", None) else "proxy",
            extra_secrets=[secret] if secret else [],
        )

    def running(self) -> None:
        self._remember_loop()
        self._ensure_run()

    def _remember_loop(self) -> None:
        """The event loop marks are set on: mitmproxy's flows belong to it."""
        if self._loop is None:
            # Not on a loop (a test calling hooks directly): marks are then set at once.
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()

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
        session = self.session
        if session is None or session.run_id is not None:
            return
        session.start(self._captures())
        judges = (session.worker_pool(1, background=True)
                  if ctx.options.diagscope_judge_process else None)
        self.recorder = Recorder(session, judges=judges, on_stored=self._stored)
        for notice in session.notices():
            log.warning("diagscope: %s", notice)
        log.info("diagscope: recording run %s", session.run_id)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._forget_password(flow)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._forget_password(flow)

    @staticmethod
    def _forget_password(flow: http.HTTPFlow) -> None:
        """mitmproxy's proxyauth keeps (user, password) in the flow's metadata, and the
        session's capture file would store it; by the time this addon runs (after proxyauth)
        the password has done its work and is replaced."""
        credentials = flow.metadata.get("proxyauth")
        if isinstance(credentials, tuple) and len(credentials) == 2:
            flow.metadata["proxyauth"] = (credentials[0], HIDDEN)

    async def request(self, flow: http.HTTPFlow) -> None:
        # Remembered so that a flow that never completes is still recorded at shutdown.
        if flow.id in self._handled:
            return
        self._pending[flow.id] = flow
        self._remember_loop()
        session = self.session
        if session is None:
            return
        if not flow.live:
            await self._judge_read_flow(flow, session)
        elif ctx.options.diagscope_block and not flow.response:
            await self._block_if_violating(flow, session)

    async def _judge_read_flow(self, flow: http.HTTPFlow, session: RunSession) -> None:
        """A flow read from a file is judged now, and marked before the response hook in
        which mitmproxy's `save` addon writes it (`-w`); recording keeps this judgement."""
        try:
            request = self._request(flow)
            if not session.inspector.is_telemetry(request):
                return
            judged = await asyncio.to_thread(judge, session.inspector, request)
            if judged is None:
                return
            self._early[flow.id] = judged[0]
            self._mark(flow, judged[0].findings)
        except Exception:
            log.exception("diagscope: could not judge flow %s as it was read; it is judged "
                          "when recorded", flow.id)

    async def _block_if_violating(self, flow: http.HTTPFlow, session: RunSession) -> None:
        try:
            request = self._request(flow)
            if not session.inspector.is_telemetry(request):
                return
            inspection = await asyncio.to_thread(session.inspector.inspect, request)
            if inspection and any(f.severity is Severity.VIOLATION for f in inspection.findings):
                flow.response = http.Response.make(BLOCKED_STATUS)
                flow.metadata["diagscope_blocked"] = True
                inspection.request.action = "blocked"
                self._early[flow.id] = inspection
                self._mark(flow, inspection.findings)
        except Exception:
            log.exception("diagscope: could not judge flow %s before forwarding; forwarded",
                          flow.id)

    @staticmethod
    def _request(flow: http.HTTPFlow) -> Request:
        return request_from_flow(flow, source=getattr(ctx.options, "rfile", None) or None)

    def response(self, flow: http.HTTPFlow) -> None:
        self._handle(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._handle(flow)

    def _remember(self, flow_id: str) -> bool:
        """True the first time a flow is seen; the memory of flows is bounded."""
        if flow_id in self._handled:
            return False
        self._handled[flow_id] = None
        if len(self._handled) > HANDLED_LIMIT:
            self._handled.popitem(last=False)
        return True

    def _handle(self, flow: http.HTTPFlow) -> None:
        self._pending.pop(flow.id, None)
        if not self._remember(flow.id):
            return
        try:
            self._ensure_run()
            if self.recorder is None:
                return
            early = self._early.pop(flow.id, None)
            request = early.request if early else self._request(flow)
            if early is not None:
                # The response is known only now; the judgement made before stays.
                request.response_status = flow.response.status_code if flow.response else None
            elif self.session is not None and self.session.inspector.is_telemetry(request):
                self._await_judgement(flow)
            self.recorder.submit(request, early)
        except Exception:
            log.exception("diagscope: could not record flow %s; the proxy carries on", flow.id)

    # -- marks and comments ----------------------------------------------------------------

    def _await_judgement(self, flow: http.HTTPFlow) -> None:
        with self._awaiting_lock:
            self._awaiting[flow.id] = flow
            if len(self._awaiting) > AWAITING_LIMIT:
                self._awaiting.popitem(last=False)

    def _stored(self, inspection: Inspection) -> None:
        """On the recorder thread, once a judgement is stored: mark its flow on the event
        loop, then tell whoever else asked (`diagscope proxy`'s console)."""
        try:
            with self._awaiting_lock:
                flow = self._awaiting.pop(inspection.request.flow_id, None)
            if flow is not None:
                self._on_loop(self._mark, flow, inspection.findings)
        except Exception:
            log.exception("diagscope: could not mark flow %s", inspection.request.flow_id)
        if self.on_stored is not None:
            self.on_stored(inspection)

    def _on_loop(self, action: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(action, *args)
                return
            except RuntimeError:
                pass  # closed meanwhile: mitmproxy is shutting down, nobody else is running
        action(*args)

    def _mark(self, flow: http.HTTPFlow, findings: list[Finding]) -> None:
        try:
            if mark_flow(flow, findings):
                # As mitmproxy's own `flow.mark` command does: the update hook is what
                # mitmweb's and the console's views listen to.
                master = getattr(ctx, "master", None)
                if master is not None:
                    master.addons.trigger(hooks.UpdateHook([flow]))
        except Exception:
            log.exception("diagscope: could not mark flow %s", flow.id)

    @command.command("diagscope.step")
    def step(self, *number: str) -> None:
        """Move the run on to the next scenario step, or to step NUMBER: requests made from
        now on belong to it."""
        self._ensure_run()
        session = self.session
        if session is None or session.run_id is None:
            raise exceptions.CommandError("diagscope: no run is being recorded")
        try:
            wanted = int(number[0]) if number else None
            reached = session.advance(wanted)
        except ValueError as exc:
            raise exceptions.CommandError(f"diagscope.step: {exc}") from None
        title = session.step_title(reached)
        log.warning("diagscope: step %d%s", reached, f": {title}" if title else "")
        if self.on_step is not None:
            self.on_step(reached, title)

    def done(self) -> None:
        for flow in list(self._pending.values()):
            self._handle(flow)
        self._pending.clear()
        if self.recorder is not None:
            self.recorder.close()
        session = self.session
        if session is not None and session.run_id is not None and session.status is None:
            try:
                session.finish(COMPLETE, captures=self._captures() or None)
            except Exception:
                log.exception("diagscope: could not close run %s", session.run_id)
        if self._views is not None:
            try:
                self._views.remove()
            except Exception:
                log.exception("diagscope: could not remove its contentview")
            self._views = None
