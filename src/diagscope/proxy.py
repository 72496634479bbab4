"""`diagscope proxy`: mitmproxy in-process with the diagscope addon and a console view."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from mitmproxy import ctx, exceptions, options
from mitmproxy.addons.errorcheck import ErrorCheck
from mitmproxy.master import Master
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.tools.dump import DumpMaster

from diagscope.addon import DiagscopeAddon
from diagscope.model import LEVEL_RANK, Severity
from diagscope.pipeline import Inspection
from diagscope.redact import hide_url_password
from diagscope.store.engine import DEFAULT_DB, database_url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProxyError(RuntimeError):
    """The proxy cannot start: an option mitmproxy or the addon refuses, or a port that
    cannot be listened on. The message is one line."""


@dataclass(frozen=True, slots=True)
class MitmFlag:
    """A mitmproxy option `diagscope proxy` offers as a flag; its help is mitmproxy's own."""

    name: str
    flag: str
    default: Any
    note: str = ""


#: mitmproxy's options a lab needs on the command line, with the defaults a lab wants.
MITM_FLAGS: tuple[MitmFlag, ...] = (
    MitmFlag("listen_host", "--listen-host", "127.0.0.1",
             "Loopback by default; another address needs --allow-remote and --proxyauth."),
    MitmFlag("listen_port", "--listen-port", 8080, "0 picks a free port (printed at start)."),
    MitmFlag("proxyauth", "--proxyauth", None,
             "Require proxy authentication, USER:PASS (mitmproxy's proxyauth). Never stored "
             "in clear."),
    MitmFlag("confdir", "--confdir", "~/.mitmproxy"),
    MitmFlag("save_stream_file", "--capture", None,
             "Where to write the session's .mitm capture (mitmproxy's save_stream_file). "
             "Default: a new file next to the database."),
    MitmFlag("ssl_verify_upstream_trusted_ca", "--upstream-ca", None),
    MitmFlag("connection_strategy", "--connection-strategy", "lazy",
             "When to connect to the server (mitmproxy's connection_strategy). lazy: after "
             "the client's request is read, so a lab with no route to Microsoft still "
             "records what the client sent; eager (mitmproxy's default): before the TLS "
             "handshake with the client."),
)


@lru_cache(maxsize=1)
def _core_options() -> options.Options:
    return options.Options()


def mitm_option_help(name: str) -> str:
    """mitmproxy's own help text of one of its core options (addons' options, such as
    proxyauth, are not known before their addon loads: their flags carry a note instead)."""
    known = _core_options()._options
    return str(known[name].help) if name in known else ""


def session_capture_path(db: str, now: datetime | None = None) -> str:
    """The session's capture file, next to a SQLite database (or in the working directory)."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    url = database_url(db)
    folder = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") \
        else Path.cwd()
    return str(folder / f"diagscope-proxy-{stamp}.mitm")


class ConsoleView:
    """One line per stored telemetry request, printed once it is safely committed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, inspection: Inspection) -> None:
        req = inspection.request
        severities = {f.severity for f in inspection.findings}
        worst = ("VIOLATION" if Severity.VIOLATION in severities
                 else "review" if Severity.REVIEW in severities else "ok")
        levels = [e.level for e in inspection.decoded.events if e.level in LEVEL_RANK]
        top = max(levels, key=LEVEL_RANK.__getitem__).value if levels else "-"
        action = " BLOCKED" if req.action == "blocked" else ""
        if req.response_status is None and req.error:
            action += f", not answered by the server: {upstream_problem(req.error)}"
        self.out.write(
            f"{req.time:%H:%M:%S} {req.scheme}://{req.host} "
            f"{len(inspection.decoded.events)} events, highest level {top}, {worst}"
            f"{action} [{req.flow_id[:8]}]\n"
        )
        self.out.flush()


def upstream_problem(error: str | None) -> str:
    """A connection error as a few words: `connection refused` rather than `[Errno 111]
    Connect call failed ('127.0.0.1', 443)` or several of those, one per address tried."""
    message = (error or "").strip()
    found = re.search(r"\[Errno (-?\d+)\]\s*([^,\n(]*)", message)
    if found is None:
        return (message.splitlines() or ["unknown error"])[0][:120]
    code = int(found.group(1))
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code < 0:  # getaddrinfo's codes: the message is the resolver's own
        return f"name not resolved ({found.group(2).strip() or code})"
    return os.strerror(code).lower()


class UpstreamView:
    """One line the first time a server cannot be reached (and again once it could be
    reached in between): in an isolated lab every request fails upstream, and the tester
    sees which servers and why, without one line per request."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failing: set[tuple[str, int]] = set()

    def server_connect_error(self, data: ServerConnectionHookData) -> None:
        address = data.server.address
        if address is None or address in self.failing:
            return
        self.failing.add(address)
        recorded = ("telemetry sent to it is still recorded"
                    if ctx.options.connection_strategy == "lazy" else
                    "with connection_strategy eager nothing sent to it is recorded")
        self.out.write(f"upstream {address[0]}:{address[1]} cannot be reached "
                       f"({upstream_problem(data.server.error)}): clients get 502; "
                       f"{recorded}\n")
        self.out.flush()

    def server_connected(self, data: ServerConnectionHookData) -> None:
        if data.server.address is not None:
            self.failing.discard(data.server.address)


class StartupFailed(Exception):
    """mitmproxy logged an error while starting; the message is one line."""


class StartupCheck(ErrorCheck):
    """mitmproxy's startup check, failing with an exception that names the problem in one
    line instead of printing "Error logged during startup, exiting..." and exiting."""

    name = "errorcheck"  # the name mitmproxy's master asks for

    def __init__(self, master: Master) -> None:
        super().__init__()
        self.master = master

    async def shutdown_if_errored(self) -> None:
        await asyncio.sleep(0)  # as mitmproxy's: let the log records of the moment arrive
        if self.logger.has_errored:
            raise StartupFailed(startup_problem(self.master, self.logger.has_errored))


def startup_problem(master: Master, records: Sequence[logging.LogRecord]) -> str:
    """What stopped the proxy from starting: a port it could not listen on, named with the
    flag that changes it, or else the first line of the first error mitmproxy logged."""
    proxyserver = master.addons.get("proxyserver")
    for server in (proxyserver.servers if proxyserver else []):
        failure = server.last_exception
        if isinstance(failure, OSError) and failure.errno is not None:
            host = server.mode.listen_host(master.options.listen_host) or "*"
            port = server.mode.listen_port(master.options.listen_port)
            where = f"cannot listen on {host}:{port}"
            if failure.errno == errno.EADDRINUSE:
                return (f"{where}: the port is already in use; choose another with "
                        "--listen-port (0 picks a free one)")
            if failure.errno == errno.EADDRNOTAVAIL:
                return f"{where}: this machine has no such address (--listen-host)"
            return f"{where}: {os.strerror(failure.errno).lower()}"
    first = records[0].getMessage().strip().splitlines() if records else []
    return first[0] if first else "mitmproxy could not start"


def ca_text(confdir: str) -> str:
    folder = Path(confdir).expanduser()
    return (
        f"CA certificate to trust on the test machine: {folder / 'mitmproxy-ca-cert.cer'} "
        f"(PEM: {folder / 'mitmproxy-ca-cert.pem'}).\n"
        "  Windows: certutil -addstore root mitmproxy-ca-cert.cer (as administrator), or use "
        "the lab script.\n"
        f"  The CA private key is {folder / 'mitmproxy-ca.pem'}: anyone holding it can "
        "intercept the test machine's TLS traffic. Keep it private (mode 0600) and delete it "
        "when the lab is dismantled."
    )


def _master(opts: options.Options, web: bool) -> Master:
    if web:
        from mitmproxy.tools.web.master import WebMaster

        return WebMaster(opts, with_termlog=False)
    return DumpMaster(opts, with_termlog=False, with_dumper=False)


def _step_keys(addon: DiagscopeAddon, out: TextIO) -> None:
    """Enter moves the run on to the next scenario step; a number and Enter to that step."""
    line = sys.stdin.readline()
    if not line:  # end of input: no more keys
        asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
        return
    text = line.strip()
    if text and not text.isdigit():
        out.write("press Enter for the next scenario step, or type a step number and Enter\n")
        out.flush()
        return
    try:
        addon.step(*([text] if text else []))
    except exceptions.CommandError as exc:
        out.write(f"{exc}\n")
        out.flush()


def _step_view(out: TextIO) -> Callable[[int, str | None], None]:
    def show(step: int, title: str | None) -> None:
        out.write(f"step {step}" + (f": {title}" if title else "") + "\n")
        out.flush()

    return show


async def _serve(updates: dict[str, Any], extra_sets: Sequence[str], out: TextIO,
                 web: bool = False) -> DiagscopeAddon:
    opts = options.Options()
    master = _master(opts, web)
    stock_check = master.addons.get("errorcheck")
    if stock_check is not None:
        stock_check.finish()
        master.addons.remove(stock_check)
    master.addons.add(StartupCheck(master))
    addon = DiagscopeAddon(on_stored=ConsoleView(out), on_step=_step_view(out))
    master.addons.add(addon, UpstreamView(out))
    try:
        master.options.update(**updates)
        if extra_sets:
            master.options.set(*extra_sets)
    except exceptions.OptionsError as exc:
        raise ProxyError(str(exc)) from None

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    keys = sys.stdin.isatty()
    if keys:
        loop.add_reader(sys.stdin.fileno(), _step_keys, addon, out)

    async def announce() -> None:
        proxyserver = master.addons.get("proxyserver")
        for _ in range(200):
            addrs = proxyserver.listen_addrs() if proxyserver else []
            if addrs:
                for addr in addrs:
                    out.write(f"diagscope proxy listening on {addr[0]}:{addr[1]}\n")
                out.write(f"recording run {addon.run_id} into "
                          f"{hide_url_password(master.options.diagscope_db)}; capture "
                          f"{master.options.save_stream_file}\n")
                out.write(ca_text(master.options.confdir) + "\n")
                if web:
                    out.write(f"mitmweb on http://{master.options.web_host}:"
                              f"{master.options.web_port}/\n")
                if keys:
                    out.write("scenario steps: press Enter for the next step, or type its "
                              "number and Enter\n")
                out.flush()
                return
            await asyncio.sleep(0.05)

    announcer = asyncio.create_task(announce())
    try:
        await master.run()
    finally:
        announcer.cancel()
        if keys:
            loop.remove_reader(sys.stdin.fileno())
    return addon


def run_proxy(updates: dict[str, Any], extra_sets: Sequence[str] = (),
              out: TextIO = sys.stdout, web: bool = False) -> int:
    """Serve until stopped. `updates` are mitmproxy option values by name (the addon's
    `diagscope_*` options among them); `extra_sets` are `name=value` as for `--set`. With
    `web`, mitmweb's interface is served too, on loopback unless `web_host` says otherwise."""
    # Everything this session writes (database, capture, mitmproxy's CA key) is the user's
    # alone: the capture holds raw telemetry, the key can intercept the lab machine's TLS.
    os.umask(0o077)
    updates = dict(updates)
    if web:
        updates.setdefault("web_host", "127.0.0.1")
        updates.setdefault("web_open_browser", False)
    own_capture = None
    if not updates.get("save_stream_file"):
        own_capture = updates["save_stream_file"] = session_capture_path(
            str(updates.get("diagscope_db", DEFAULT_DB)))
    try:
        addon = asyncio.run(_serve(updates, extra_sets, out, web))
    except StartupFailed as exc:
        # The capture file this session named is still empty: nothing to keep.
        if own_capture is not None and Path(own_capture).exists() \
                and Path(own_capture).stat().st_size == 0:
            Path(own_capture).unlink()
        raise ProxyError(str(exc)) from None
    session = addon.session
    if session is None or session.run_id is None:
        out.write("diagscope proxy stopped before recording anything\n")
        return 1
    for line in session.summary_lines():
        out.write(line + "\n")
    for line in session.notices():
        out.write(line + "\n")
    out.flush()
    return 0
