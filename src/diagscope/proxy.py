"""`diagscope proxy`: mitmproxy in-process with the diagscope addon and a console view."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from diagscope.addon import DiagscopeAddon
from diagscope.model import LEVEL_RANK, Severity
from diagscope.pipeline import Inspection
from diagscope.store.engine import database_url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class ProxySettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    policy: str = "slm-rijk-2019"
    db: str = "diagscope.sqlite"
    label: str = ""
    block: bool = False
    proxyauth: str | None = None
    confdir: str = "~/.mitmproxy"
    capture: str | None = None  # where the session's .mitm capture goes
    upstream_ca: str | None = None  # extra CA for upstream (a lab collector stub)
    mitm_options: list[str] = field(default_factory=list)  # OPTION=VALUE, as mitmdump --set
    canaries: list[str] = field(default_factory=list)  # label=value
    scenario_file: str | None = None


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
        self.out.write(
            f"{req.time:%H:%M:%S} {req.scheme}://{req.host} "
            f"{len(inspection.decoded.events)} events, highest level {top}, {worst}"
            f"{action} [{req.flow_id[:8]}]\n"
        )
        self.out.flush()


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


async def _serve(settings: ProxySettings, out: TextIO) -> DiagscopeAddon:
    opts = options.Options(
        listen_host=settings.listen_host,
        listen_port=settings.listen_port,
        confdir=settings.confdir,
    )
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    addon = DiagscopeAddon(on_stored=ConsoleView(out))
    master.addons.add(addon)
    updates: dict[str, object] = {
        "diagscope_policy": settings.policy,
        "diagscope_db": settings.db,
        "diagscope_label": settings.label,
        "diagscope_block": settings.block,
        "diagscope_canary": settings.canaries,
        "diagscope_scenario": settings.scenario_file or "",
        "save_stream_file": settings.capture or session_capture_path(settings.db),
    }
    if settings.proxyauth:
        updates["proxyauth"] = settings.proxyauth
    if settings.upstream_ca:
        updates["ssl_verify_upstream_trusted_ca"] = settings.upstream_ca
    master.options.update(**updates)
    if settings.mitm_options:
        master.options.set(*settings.mitm_options)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)

    async def announce() -> None:
        proxyserver = master.addons.get("proxyserver")
        for _ in range(200):
            addrs = proxyserver.listen_addrs() if proxyserver else []
            if addrs:
                for addr in addrs:
                    out.write(f"diagscope proxy listening on {addr[0]}:{addr[1]}\n")
                out.write(f"recording run {addon.run_id} into {settings.db}; capture "
                          f"{updates['save_stream_file']}\n")
                out.write(ca_text(settings.confdir) + "\n")
                out.flush()
                return
            await asyncio.sleep(0.05)

    announcer = asyncio.create_task(announce())
    await master.run()
    announcer.cancel()
    return addon


def run_proxy(settings: ProxySettings, out: TextIO = sys.stdout) -> int:
    # Everything this session writes (database, capture, mitmproxy's CA key) is the user's
    # alone: the capture holds raw telemetry, the key can intercept the lab machine's TLS.
    os.umask(0o077)
    addon = asyncio.run(_serve(settings, out))
    stats = addon.recorder.stats if addon.recorder else None
    if stats is None:
        out.write("diagscope proxy stopped before recording anything\n")
        return 1
    out.write(
        f"run {addon.run_id}: {stats.telemetry_requests} telemetry requests, {stats.events} "
        f"events, {stats.violations} violations, {stats.reviews} to review"
        + (f", {stats.blocked} blocked" if stats.blocked else "")
        + (f", {stats.write_errors} database write errors" if stats.write_errors else "")
        + "\n"
    )
    out.flush()
    return 0
