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


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    # Imported here: which Bond reader runs is worth knowing (a tester comparing timings,
    # an installation without a compiler) but not worth loading for every command.
    from diagscope.decode.bond import IMPLEMENTATION

    click.echo(f"diagscope {__version__} (Bond reader: {IMPLEMENTATION})")
    ctx.exit()


@click.group(cls=CommandsByModule)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version, help="Show the version and which Bond reader runs.")
def main() -> None:
    """Verify Office and Windows diagnostic telemetry against a processing agreement."""
