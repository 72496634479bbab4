"""Every command is found by name, and a command loads only what it needs."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import diagscope.cli
from diagscope.cli.main import COMMAND_MODULES, main


def test_every_command_is_mapped_to_the_module_that_declares_it():
    for info in pkgutil.iter_modules(diagscope.cli.__path__):
        importlib.import_module(f"diagscope.cli.{info.name}")
    declared = {name: sys.modules[command.callback.__module__].__name__.rsplit(".", 1)[-1]
                for name, command in main.commands.items() if command.callback}
    assert declared == COMMAND_MODULES


def test_replay_does_not_load_the_proxy_server():
    probe = ("import sys\n"
             "from click.testing import CliRunner\n"
             "from diagscope.cli import main\n"
             "CliRunner().invoke(main, ['replay', '--help'], catch_exceptions=False)\n"
             "print('diagscope.proxy' in sys.modules, 'diagscope.cli.replay' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
