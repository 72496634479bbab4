"""The `diagscope` command group; each command lives in the module of its group."""

from __future__ import annotations

import click

from diagscope import __version__


@click.group()
@click.version_option(__version__, prog_name="diagscope")
def main() -> None:
    """Verify Office and Windows diagnostic telemetry against a processing agreement."""
