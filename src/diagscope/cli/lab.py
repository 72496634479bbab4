"""`diagscope lab`: the kit for the Windows test machine."""

from __future__ import annotations

import re
from pathlib import Path

import click

from diagscope.cli.main import main
from diagscope.cli.scenario import loaded_scenario


@main.group()
def lab() -> None:
    """Lab kit for the Windows test machine."""


@lab.command("script")
@click.option("--scenario", "scenario_file", required=True,
              type=click.Path(dir_okay=False, exists=True))
@click.option("--proxy", "proxy_address", required=True, metavar="HOST:PORT",
              help="The diagscope proxy as the test machine reaches it.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder to write setup.ps1, collect.ps1 and teardown.ps1 into.")
@click.option("--ca", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The proxy's CA certificate to ship (default: ~/.mitmproxy's, if there).")
def lab_script(scenario_file: str, proxy_address: str, out: str, ca: str | None) -> None:
    """Write the PowerShell scripts that prepare, read out and restore the test machine."""
    from diagscope.lab.scripts import write_scripts

    if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", proxy_address):
        raise click.BadParameter("use HOST:PORT, e.g. 192.0.2.1:8080", param_hint="--proxy")
    default_ca = Path("~/.mitmproxy/mitmproxy-ca-cert.cer").expanduser()
    ca_path = Path(ca) if ca else (default_ca if default_ca.exists() else None)
    for path in write_scripts(loaded_scenario(scenario_file), proxy_address, Path(out),
                              ca_path):
        click.echo(f"wrote {path}")
    if ca_path is None:
        click.echo("note: no CA certificate found; copy mitmproxy-ca-cert.cer next to the "
                   "scripts as diagscope-ca.cer (start `diagscope proxy` once to create it)")
