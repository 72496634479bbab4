"""The `diagscope` command group; each command lives in the module of its group."""

from __future__ import annotations

import importlib

import click

from diagscope import __version__

#: The module of `diagscope.cli` that declares each command. A command's module is imported
#: when the command is called (or listed), so `diagscope replay` does not first load
#: mitmproxy's proxy server and `diagscope runs` does not load the judging pipeline.
COMMAND_MODULES = {
    "attach": "evidence", "export": "evidence", "purge": "evidence", "verify": "evidence",
    "catalogue": "catalogue",
    "diff": "reports", "reconcile": "reports", "report": "reports",
    "events": "query", "explain": "query", "findings": "query", "runs": "query",
    "show": "query",
    "key": "keys",
    "lab": "lab",
    "policy": "policy",
    "proxy": "proxy",
    "replay": "replay",
    "scenario": "scenario",
    "step": "steps",
}


class CommandsByModule(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            # Importing the module registers its commands on this group.
            importlib.import_module(f"diagscope.cli.{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=CommandsByModule)
@click.version_option(__version__, prog_name="diagscope")
def main() -> None:
    """Verify Office and Windows diagnostic telemetry against a processing agreement."""
