"""mitmweb with the diagscope addon, Microsoft's 1DS JavaScript SDK sending through it, and
a headless Chromium reading mitmweb's own UI.

mitmweb runs in reverse mode in front of a local HTTPS collector stub, on 127.0.0.1 only;
Node trusts mitmweb's CA through NODE_EXTRA_CA_CERTS. Chromium is driven through its
DevTools protocol, over a websocket opened with tornado's client (tornado comes with
mitmproxy: mitmweb is built on it). mitmweb 11.1 and later protect the UI with a token,
which mitmweb prints in the URL it announces (`Web server listening at http://…/?token=…`);
the test takes the URL as announced, so it works with and without one. Nothing leaves the
machine: Chromium's own background traffic is switched off and it opens nothing but mitmweb.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ROOT, unavailable
from e2e_support import CollectorStub, ConsoleProcess, require_sdk, send_with_sdk
from tornado.websocket import WebSocketClientConnection, websocket_connect

pytestmark = pytest.mark.e2e

MITMWEB = Path(sys.executable).with_name("mitmweb")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SDK_EVENTS = ["Office.Word.FileOpen", "Office.Outlook.Desktop.Compose.SendMail",
              "Office.Licensing.Heartbeat"]
VIOLATION = "\N{LARGE RED CIRCLE}"  # how mitmweb shows the `:red_circle:` marker
#: mitmweb's flow list with its Comment column, where diagscope sums up the findings.
COLUMNS = ("icon", "path", "method", "status", "size", "comment")


def free_port() -> int:
    # mitmweb does not say which port it got for web_port=0, so one is picked here.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mitmweb(ConsoleProcess):
    """`mitmweb -s addons/diagscope_addon.py` as a subprocess, its log lines collected."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.confdir = folder / "mitmproxy"
        self.start([str(MITMWEB), "-s", str(ROOT / "addons" / "diagscope_addon.py"),
                    "--listen-host", "127.0.0.1", "--listen-port", "0",
                    "--set", "web_host=127.0.0.1", "--set", f"web_port={free_port()}",
                    "--set", "web_open_browser=false", "--set", f"confdir={self.confdir}",
                    "--set", f"diagscope_db={folder / 'web.sqlite'}", *args], folder)
        proxy = self.wait_for(r"listening at 127\.0\.0\.1:(\d+)")
        self.proxy_port = int(proxy.group(1))
        self.url = self.wait_for(r"Web server listening at (http://\S+)").group(1)
        self.token = parse_qs(urlsplit(self.url).query).get("token", [""])[0]
        self.base = self.url.split("?", 1)[0].rstrip("/")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        def found(seen: list[str]) -> re.Match[str] | None:
            return next((m for line in seen if (m := re.search(pattern, line))), None)

        return self.await_lines(found, f"never {pattern!r}", timeout)

    def api(self, path: str) -> Any:
        """mitmweb's own JSON API (what its UI reads), with the token when there is one."""
        query = f"?token={self.token}" if self.token else ""
        with urllib.request.urlopen(f"{self.base}{path}{query}", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class DevTools:
    """A minimal client of Chromium's DevTools protocol: commands to one page, answers by id;
    the events Chromium sends meanwhile are not needed and skipped."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self.connection = connection
        self.last_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        ident = self.last_id
        await self.connection.write_message(json.dumps({"id": ident, "method": method,
                                                        "params": params}))
        while True:
            message = await asyncio.wait_for(self.connection.read_message(), 60)
            if message is None:
                raise ConnectionError("Chromium closed the DevTools connection")
            answer = json.loads(message)
            if answer.get("id") == ident:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = await self.evaluate(expression)
            except RuntimeError:
                # The page is still rendering (a row without its comment cell yet): the
                # expression throws now and holds in a moment.
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText : ''")
                raise AssertionError(f"the page never met {expression!r}; it shows:\n{text}")
            await asyncio.sleep(0.25)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[int]:
    """Headless Chromium with a fresh profile and nothing running in the background; yields
    the port of its DevTools endpoint (chosen by Chromium, written into the profile)."""
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-default-apps", "--disable-extensions",
         f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        announced = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (announced.exists() and announced.read_text().strip()):
            assert proc.poll() is None, "Chromium exited at start"
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        yield int(announced.read_text().split()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def open_page(port: int) -> DevTools:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.loads(response.read())
    page = next(t for t in targets if t["type"] == "page")
    connection = await websocket_connect(page["webSocketDebuggerUrl"],
                                         max_message_size=64 << 20)
    return DevTools(connection)


@pytest.fixture
def sdk() -> None:
    if CHROMIUM is None:
        unavailable("chromium is not installed")
    require_sdk()


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorStub]:
    stub = CollectorStub(tmp_path)
    yield stub
    stub.close()


@pytest.fixture
def mitmweb(tmp_path: Path, collector: CollectorStub) -> Iterator[Mitmweb]:
    columns = [arg for column in COLUMNS for arg in ("--set", f"web_columns={column}")]
    web = Mitmweb(tmp_path, "--mode", f"reverse:https://localhost:{collector.port}",
                  "--set", f"ssl_verify_upstream_trusted_ca={collector.ca}", *columns)
    yield web
    web.stop()


def send_with_the_sdk(web: Mitmweb) -> None:
    sent = send_with_sdk(f"https://localhost:{web.proxy_port}/OneCollector/1.0/",
                         web.confdir / "mitmproxy-ca-cert.pem")
    assert [e["name"] for e in sent] == SDK_EVENTS


def marked_upload(web: Mitmweb, timeout: float = 60) -> dict[str, Any]:
    """The SDK's upload once diagscope has judged, stored and marked it."""
    deadline = time.monotonic() + timeout
    while True:
        uploads = [f for f in web.api("/flows")
                   if f["type"] == "http" and "/OneCollector/1.0" in f["request"]["path"]]
        if uploads and all(f["marked"] for f in uploads):
            assert len(uploads) == 1, uploads
            return dict(uploads[0])
        assert time.monotonic() < deadline, f"never marked: {uploads}"
        time.sleep(0.25)


async def test_mitmweb_shows_marked_flows_and_decoded_events(sdk, mitmweb, tmp_path):
    send_with_the_sdk(mitmweb)
    upload = marked_upload(mitmweb)
    assert upload["marked"] == VIOLATION
    assert re.match(r"\d+ violations: .*level.*personal-data", upload["comment"])

    with chromium(tmp_path / "profile") as port:
        page = await open_page(port)
        await page.call("Page.enable")
        await page.call("Page.navigate", url=mitmweb.url)
        # The flow list: diagscope's marker and its summary on the upload's row.
        row = await page.wait_for(
            "[...document.querySelectorAll('tr')].filter(r => r.innerText.includes("
            "'/OneCollector/1.0') && r.querySelector('.marker')).map(r => "
            "({marker: r.querySelector('.marker').innerText, "
            "comment: r.querySelector('.col-comment').innerText}))[0]")
        assert row == {"marker": VIOLATION, "comment": upload["comment"]}
        # Open the upload: mitmweb shows the request with the view it chose itself.
        await page.evaluate("[...document.querySelectorAll('tr')].find(r => "
                            "r.innerText.includes('/OneCollector/1.0')).click()")
        await page.wait_for("document.body.innerText.includes('# 1DS upload: 3 events')")
        for _ in range(20):  # long bodies are shown in parts: open them all
            more = await page.evaluate(
                "(() => { const b = [...document.querySelectorAll('button')].find(b => "
                "b.innerText.includes('Show more')); if (b) b.click(); return !!b; })()")
            if not more:
                break
            await asyncio.sleep(0.2)
        text = await page.evaluate("document.body.innerText")
        await page.screenshot(tmp_path / "mitmweb.png")
    for name in SDK_EVENTS:
        assert re.search(rf"# event \d: {re.escape(name)}", text), name
    assert "verdict violation" in text and "personal data masked" in text
    assert "jan.jansen@minjenv.nl" not in text  # masked by default
    shot = (tmp_path / "mitmweb.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
