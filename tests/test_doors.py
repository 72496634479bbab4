"""Three doors, one run session: `diagscope proxy`, `mitmdump -s` and `replay`.

The same traffic and scenario through each door must give the same rows, and no door may
store a secret: not a canary value (from `--canary` or the scenario), not the proxy's
password, not a database password, neither in the database file's bytes nor in an evidence
bundle, redacted or not.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from e2e_support import CollectorStub, ProxyProcess

from diagscope.cli import main
from diagscope.sources.synthetic import json_stream

pytestmark = pytest.mark.e2e

MITMDUMP = Path(sys.executable).with_name("mitmdump")
SCENARIO = ROOT / "scenarios" / "word-neither.yaml"
PASSWORD = "Pr0xy-Secret-Word"
CANARY = "Handtekening-Canary-5e21"  # given with --canary
SCENARIO_CANARIES = ["jan.jansen@minjenv.nl", "Ontslagbrief-Canary-7f3a",
                     "De vergadering over Canary-Reorganisatie-42 is verplaatst",
                     "Vertrouwelijk Canary-Mail-9b1c"]
SECRETS = [PASSWORD, CANARY, *SCENARIO_CANARIES]

EVENTS = [
    {"ver": "4.0", "name": "Office.Word.FileOpen", "time": "2026-11-02T09:00:00.000Z",
     "iKey": "o:4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e",
     "data": {"EventInfo.Level": 1, "Document.Extension": "docx"}},
    {"ver": "4.0", "name": "Office.Licensing.Heartbeat", "time": "2026-11-02T09:00:01.000Z",
     "data": {"EventInfo.Level": 110, "Client.Mail": "someone.else@example.org"}},
]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def rows(db: Path, what: str) -> list[dict]:
    result = run(what, "--db", str(db), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [{k: v for k, v in json.loads(line).items() if k != "run"}
            for line in result.output.splitlines()]


def assert_no_secret(path: Path) -> None:
    data = path.read_bytes()
    for secret in SECRETS:
        for form in (secret.encode(), secret.encode("utf-16-le")):
            assert form not in data, f"{secret!r} is in {path.name}"


def assert_bundles_hold_no_secret(db: Path, folder: Path) -> None:
    for redact in (False, True):
        out = folder / f"{db.stem}-{'redacted' if redact else 'full'}.zip"
        result = run("export", "--db", str(db), "--out", str(out),
                     *(["--redact"] if redact else []))
        assert result.exit_code == 0, result.output
        with zipfile.ZipFile(out) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                for secret in SECRETS:
                    assert secret.encode() not in data, f"{secret!r} in {out.name}:{name}"


def send_through(proxy: ProxyProcess, url: str) -> None:
    proxy_url = f"http://tester:{PASSWORD}@127.0.0.1:{proxy.port}"
    import ssl

    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": proxy_url}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context(
            cafile=str(proxy.ca_cert))),
    )
    for body in (json_stream(EVENTS), gzip.compress(json_stream(EVENTS[:1]))):
        headers = {"Content-Type": "application/x-json-stream"}
        if body[:2] == b"\x1f\x8b":
            headers["Content-Encoding"] = "gzip"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with opener.open(request, timeout=30) as response:
            assert response.status == 200


def test_three_doors_store_the_same_rows_and_no_secret(tmp_path):
    collector = CollectorStub(tmp_path)
    live_db = tmp_path / "proxy.sqlite"
    proxy = ProxyProcess(tmp_path, "--scenario", str(SCENARIO), "--canary", f"sig={CANARY}",
                         "--proxyauth", f"tester:{PASSWORD}", upstream_ca=collector.ca,
                         db=str(live_db))
    try:
        send_through(proxy, collector.url)
        proxy.wait_for("events", count=2, timeout=60)
    finally:
        assert proxy.stop() == 0
        collector.close()
    capture = tmp_path / "session.mitm"
    assert capture.exists()

    addon_db = tmp_path / "mitmdump.sqlite"
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(MITMDUMP), "-q", "-nr", str(capture),
         "-s", str(ROOT / "addons" / "diagscope_addon.py"),
         "--set", f"diagscope_db={addon_db}", "--set", f"diagscope_scenario={SCENARIO}",
         "--set", f"diagscope_canary=sig={CANARY}", "--set", f"proxyauth=tester:{PASSWORD}"],
        capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr

    replay_db = tmp_path / "replay.sqlite"
    result = run("replay", str(capture), "--db", str(replay_db), "--scenario", str(SCENARIO),
                 "--canary", f"sig={CANARY}")
    assert result.exit_code == 0, result.output

    dbs = (live_db, addon_db, replay_db)
    for what in ("events", "findings"):
        found = [rows(db, what) for db in dbs]
        assert found[0], what
        assert found[0] == found[1] == found[2], what
    stored = [run("runs", "--db", str(db), "--format", "jsonl").output for db in dbs]
    assert all('"requests": 2' in s for s in stored), stored

    for db in dbs:
        for path in db.parent.glob(db.name + "*"):  # the file and its -wal, -shm
            assert_no_secret(path)
        assert_bundles_hold_no_secret(db, tmp_path)
    commands = [run("runs", "--db", str(db), "--format", "jsonl") for db in dbs]
    assert all(c.exit_code == 0 for c in commands)
