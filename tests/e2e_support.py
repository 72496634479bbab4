"""A local HTTPS collector stub and a `diagscope proxy` subprocess, for end-to-end tests.

Everything listens on 127.0.0.1 with port 0; nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

T = TypeVar("T")

DIAGSCOPE = Path(sys.executable).with_name("diagscope")


def make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for localhost/127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "diagscope test collector CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ca_path, cert_path, key_path


@dataclass
class Received:
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class CollectorStub:
    """A 1DS collector on 127.0.0.1 that records what reaches it.

    `?stub=reset` closes the connection without answering, `?stub=hang` never answers.
    """

    folder: Path
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.ca, cert, key = make_ca_and_server_cert(self.folder)
        stub = self
        self._release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                body = self._body()
                stub.received.append(Received(self.path, list(self.headers.items()), body))
                mode = parse_qs(urlsplit(self.path).query).get("stub", [""])[0]
                if mode == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                if mode == "hang":
                    stub._release.wait(60)
                    return
                answer = b'{"acc":1}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_OPTIONS(self) -> None:
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "*")
                self.send_header("Content-Length", "0")
                self.end_headers()

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/OneCollector/1.0/"

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


NODE_DIR = Path(__file__).resolve().parent / "node"


def require_sdk() -> None:
    """Skip (or fail under CI) unless Node and Microsoft's 1DS SDK are installed."""
    from conftest import unavailable

    if shutil.which("node") is None:
        unavailable("node is not installed")
    if not (NODE_DIR / "node_modules" / "@microsoft" / "1ds-post-js").exists():
        unavailable("the 1DS SDK is not installed (cd tests/node && npm ci)")


def send_with_sdk(url: str, ca_cert: Path) -> list[dict]:
    """Microsoft's 1DS JavaScript SDK posts its events to `url` (trusting `ca_cert`);
    returns the events it says it sent."""
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_cert)}
    result = subprocess.run(["node", str(NODE_DIR / "send_events.mjs"), url],
                            capture_output=True, text=True, env=env, timeout=120,
                            cwd=NODE_DIR)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class ConsoleProcess:
    """A subprocess whose console lines are collected as it runs, to wait for."""

    name = "the process"

    def start(self, command: list[str], folder: Path) -> None:
        env = {**os.environ, "HOME": str(folder), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def await_lines(self, found: Callable[[list[str]], T | None], what: str,
                    timeout: float) -> T:
        """The first non-None `found(lines so far)`; fails when the process ends or the
        time is up without it."""
        deadline = time.monotonic() + timeout
        while True:
            result = found(self.seen)
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise AssertionError(f"{what} from {self.name}; it said:\n"
                                     + "\n".join(self.seen))
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=min(remaining, 0.5)))


class ProxyProcess(ConsoleProcess):
    """`diagscope proxy` on 127.0.0.1:0 as a subprocess, its console lines collected."""

    name = "the proxy"

    def __init__(self, folder: Path, *args: str, upstream_ca: Path | None = None,
                 db: str | None = None) -> None:
        self.folder = folder
        self.db = db or folder / "live.sqlite"
        self.confdir = folder / "mitmproxy"
        command = [str(DIAGSCOPE), "proxy", "--listen-port", "0", "--db", str(self.db),
                   "--confdir", str(self.confdir), "--capture", str(folder / "session.mitm"),
                   *args]
        if upstream_ca is not None:
            command += ["--upstream-ca", str(upstream_ca)]
        self.start(command, folder)
        line = self.wait_for("listening on", timeout=60)
        self.port = int(line.rsplit(":", 1)[1])

    def wait_for(self, text: str, timeout: float = 30, count: int = 1) -> str:
        def found(seen: list[str]) -> str | None:
            hits = [line for line in seen if text in line]
            return hits[count - 1] if len(hits) >= count else None

        return self.await_lines(found, f"no {count}x {text!r}", timeout)

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout)
        time.sleep(0.1)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
