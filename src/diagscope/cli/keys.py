"""`diagscope key new`: an Ed25519 key pair for signing evidence bundles."""

from __future__ import annotations

import click

from diagscope.cli.main import main


@main.group()
def key() -> None:
    """Keys that sign evidence bundles (`export --sign-key`, `verify --trusted-key`)."""


@key.command("new")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Private key file to write (e.g. lab.key); the public key goes beside it "
                   "(lab.pub).")
def new(out: str) -> None:
    """Write a new private key (mode 0600) and its public key."""
    from diagscope.signing import KeyFileError, new_key

    try:
        written = new_key(out)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"private key {written.private} (keep it private), public key "
               f"{written.public} ({written.fingerprint}): hand the public key to whoever "
               "verifies your bundles")
