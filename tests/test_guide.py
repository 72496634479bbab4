"""Every command in docs/guide.md's console blocks runs, in order, and succeeds."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

GUIDE = ROOT / "docs" / "guide.md"
DIAGSCOPE = Path(sys.executable).with_name("diagscope")


def commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    return [line.strip()[2:] for block in blocks for line in block.splitlines()
            if line.strip().startswith("$ ")]


@pytest.fixture
def sandbox(tmp_path):
    for folder in ("captures", "scenarios", "policies"):
        shutil.copytree(ROOT / folder, tmp_path / folder, symlinks=False)
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    # `make demo` regenerates the samples, whose Bond records come from the tests' writer.
    (tmp_path / "tests").mkdir()
    shutil.copy2(ROOT / "tests" / "bondwriter.py", tmp_path / "tests" / "bondwriter.py")
    settings = {"computer": "LAB-VM-01", "collected_at": "2026-11-02T10:00:00Z",
                "office": {"sendtelemetry": 3}, "windows": {"allowtelemetry": 0}}
    with zipfile.ZipFile(tmp_path / "collect-LAB-VM-01.zip", "w") as zf:
        zf.writestr("settings.json", json.dumps(settings))
    return tmp_path


@pytest.mark.e2e
def test_every_guide_command_runs(sandbox):
    env = {**os.environ, "HOME": str(sandbox), "PATH": f"{DIAGSCOPE.parent}:{os.environ['PATH']}"}
    ran = []
    for command in commands():
        argv = shlex.split(command)
        if argv[0] == "make":
            # In the sandbox too (`make demo` writes out/ and the sample captures), with the
            # environment these tests run in, which make must not reinstall from here.
            venv = DIAGSCOPE.parent.parent
            argv = ["make", "-o", str(venv / ".installed"), f"VENV={venv}", *argv[1:]]
            result = subprocess.run(argv, cwd=sandbox, capture_output=True, text=True,
                                    timeout=600)
        elif argv[:2] == ["diagscope", "proxy"]:
            proc = subprocess.Popen(argv, cwd=sandbox, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert "listening on 127.0.0.1:" in first, first
            proc.terminate()
            out = proc.communicate(timeout=60)[0]
            result = subprocess.CompletedProcess(argv, proc.returncode, first + out, "")
        else:
            result = subprocess.run(argv, cwd=sandbox, env=env, capture_output=True, text=True,
                                    timeout=300)
        assert result.returncode == 0, f"$ {command}\n{result.stdout}\n{result.stderr}"
        ran.append(argv[1] if argv[0] == "diagscope" else argv[0])
    assert {"replay", "report", "proxy", "lab", "attach", "reconcile", "export", "verify",
            "purge", "diff", "explain", "show", "scenario", "policy", "make"} <= set(ran)
