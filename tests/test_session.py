"""The run session: secrets out of the stored command, honest final status."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import telemetry_flow

from diagscope.cli import main
from diagscope.redact import HIDDEN, hide_url_password, redact_argv
from diagscope.sources.synthetic import json_stream
from diagscope.store.writer import RunWriter

EVENT = {"ver": "4.0", "name": "Office.Word.FileOpen", "data": {"EventInfo.Level": 1}}


@pytest.mark.parametrize(("argv", "secret"), [
    (["diagscope", "replay", "a.mitm", "--canary", "mail=jan.jansen@example.nl"],
     "jan.jansen@example.nl"),
    (["diagscope", "replay", "a.mitm", "--canary=Ontslagbrief-7f3a"], "Ontslagbrief-7f3a"),
    (["diagscope", "proxy", "--proxyauth", "tester:PASS-word"], "PASS-word"),
    (["diagscope", "proxy", "--proxyauth=tester:PASS-word"], "PASS-word"),
    (["mitmdump", "--set", "proxyauth=tester:PASS-word"], "PASS-word"),
    (["mitmdump", "--set", "diagscope_canary=doc=Geheim-Canary"], "Geheim-Canary"),
    (["mitmdump", "--set=upstream_auth=u:Upstream-Secret"], "Upstream-Secret"),
    (["diagscope", "replay", "x", "--db", "postgresql+psycopg://lab:Db-Secret@db/ev"],
     "Db-Secret"),
    (["mitmdump", "--set", "diagscope_db=postgresql://lab:Db-Secret@db/ev"], "Db-Secret"),
    # A secret repeated elsewhere on the line is caught too.
    (["diagscope", "replay", "--canary", "Herhaald-Canary", "--label", "Herhaald-Canary x"],
     "Herhaald-Canary"),
])
def test_secrets_never_reach_the_stored_command(argv, secret):
    stored = redact_argv(argv)
    assert secret not in stored
    assert HIDDEN in stored or "***" in stored


def test_known_secrets_are_hidden_wherever_they_occur():
    stored = redact_argv(["diagscope", "replay", "--label", "run for Canary-From-File"],
                         secrets=["Canary-From-File"])
    assert "Canary-From-File" not in stored and "run for" in stored


def test_other_arguments_are_kept_as_typed():
    argv = ["diagscope", "replay", "cap ture.mitm", "--label", "build 16.0", "--jobs", "2"]
    assert redact_argv(argv) == "diagscope replay 'cap ture.mitm' --label 'build 16.0' --jobs 2"
    assert hide_url_password("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def runs(db: str) -> list[dict]:
    out = CliRunner().invoke(main, ["runs", "--db", db, "--format", "jsonl"]).output
    return [json.loads(line) for line in out.splitlines()]


def test_a_run_whose_writes_fail_is_incomplete_not_complete(capture, db_path, monkeypatch):
    path = capture([telemetry_flow(f"f{i}", json_stream([EVENT]),
                                   [("Content-Type", "application/x-json-stream")])
                    for i in range(3)])
    real_flush = RunWriter.flush

    def refuse(self: RunWriter) -> None:
        if self.pending:
            raise OSError("disk full")
        real_flush(self)

    monkeypatch.setattr(RunWriter, "flush", refuse)
    monkeypatch.setattr("diagscope.session.time.sleep", lambda _s: None)
    result = CliRunner().invoke(main, ["replay", path, "--db", db_path])
    assert result.exit_code == 2, result.output
    assert "not stored:          3" in result.output
    assert "INCOMPLETE" in result.output
    (run,) = runs(db_path)
    assert run["status"] == "incomplete"
