"""`diagscope policy`: validate and read policies."""

from __future__ import annotations

import click

from diagscope.cli.main import main
from diagscope.policy.load import DEFAULT_POLICY, LoadedPolicy, PolicyError, load_policy
from diagscope.policy.summary import summary_lines


def loaded_policy(ref: str) -> LoadedPolicy:
    try:
        return load_policy(ref)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def policy() -> None:
    """Validate and read policies."""


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_check(file: str) -> None:
    """Validate a policy file (and what it extends) and summarise it."""
    loaded = loaded_policy(file)
    click.echo("valid policy")
    click.echo("\n".join(summary_lines(loaded)))


@policy.command("show")
@click.argument("name", default=DEFAULT_POLICY)
@click.option("--resolved", is_flag=True, help="Print the policy with its base merged in.")
def policy_show(name: str, resolved: bool) -> None:
    """Print a bundled or local policy."""
    loaded = loaded_policy(name)
    if not resolved:
        click.echo(loaded.text.rstrip())
        return
    import yaml

    data = loaded.policy.model_dump(mode="json")
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
