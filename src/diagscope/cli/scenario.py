"""`diagscope scenario`: what a tester sets up, does and plants."""

from __future__ import annotations

import click

from diagscope.cli.main import main
from diagscope.scenario import LoadedScenario, ScenarioError, checklist, load_scenario


def loaded_scenario(path: str) -> LoadedScenario:
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def scenario() -> None:
    """Scenario files: what a tester sets up, does and plants."""


@scenario.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def scenario_check(file: str) -> None:
    """Validate a scenario file."""
    loaded = loaded_scenario(file)
    s = loaded.scenario
    click.echo(f"valid scenario {s.id}: {s.title} ({len(s.steps)} steps, "
               f"{len(s.canaries)} canaries, sha256 {loaded.sha256})")


@scenario.command("checklist")
@click.argument("file", type=click.Path(dir_okay=False))
def scenario_checklist(file: str) -> None:
    """Print the scenario as a Markdown checklist for the tester."""
    click.echo(checklist(loaded_scenario(file)), nl=False)
