"""`diagscope replay`: capture files through the classifier into a new run."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from diagscope.cli.common import db_option, open_session
from diagscope.cli.main import main
from diagscope.policy.load import DEFAULT_POLICY
from diagscope.replay import replay as replay_captures
from diagscope.session import INTERRUPTED, SessionSettings
from diagscope.sources.registry import expand_inputs
from diagscope.steps import StepFileError, read_step_times


@main.command()
@click.argument("captures", nargs=-1, required=True, type=click.Path())
@click.option("--policy", default=DEFAULT_POLICY, show_default=True,
              help="Bundled policy name or path to a policy YAML file.")
@db_option
@click.option("--label", default="", help="Label for this run, e.g. the build under test.")
@click.option("--fail-on-violation", is_flag=True,
              help="Exit with status 1 when any violation is found.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes for decoding and judging (results are identical).")
@click.option("--canary", "canaries", multiple=True, metavar="[LABEL=]VALUE",
              help="A value planted by the tester, searched in every encoding (repeatable).")
@click.option("--canary-file", "canary_files", multiple=True,
              type=click.Path(dir_okay=False, exists=True),
              help="A file of canaries, one [label=]value a line (repeatable).")
@click.option("--scenario", type=click.Path(dir_okay=False, exists=True),
              help="The scenario played: stored with the run, its canaries searched for.")
@click.option("--settings", "settings_zip", type=click.Path(dir_okay=False, exists=True),
              help="The zip collect.ps1 wrote on the test machine, stored with the run.")
@click.option("--steps", "steps_file", type=click.Path(dir_okay=False, exists=True),
              help="When each scenario step began: one `STEP TIME` a line (ISO 8601).")
def replay(captures: tuple[str, ...], policy: str, db: str, label: str,
           fail_on_violation: bool, jobs: int, canaries: tuple[str, ...],
           canary_files: tuple[str, ...], scenario: str | None,
           settings_zip: str | None, steps_file: str | None) -> None:
    """Replay capture files through the classifier into a new run."""
    missing = [p for p in captures if not Path(p).exists()]
    if missing:
        raise click.ClickException(f"no such capture file: {', '.join(missing)}")
    paths = expand_inputs(list(captures))
    if not paths:
        raise click.ClickException("the given directories hold no capture files")
    try:
        step_times = read_step_times(steps_file) if steps_file else []
    except StepFileError as exc:
        raise click.ClickException(str(exc)) from None
    session = open_session(SessionSettings(
        policy=policy, db=db, label=label, canaries=canaries, canary_files=canary_files,
        scenario=scenario, settings_zip=settings_zip, argv=sys.argv, source_kind="replay"))
    total = max(1, sum(Path(p).stat().st_size for p in paths))
    # Ctrl-C: the session closes the run as interrupted; the summary below says so.
    with click.progressbar(length=total, label="Replaying", file=sys.stderr,
                           hidden=not sys.stderr.isatty()) as bar, \
            contextlib.suppress(KeyboardInterrupt):
        replay_captures(paths, session, jobs=jobs, step_times=step_times,
                        on_flow=lambda done: bar.update(done - bar.pos))
    click.echo("\n".join(session.summary_lines()))
    for notice in session.notices():
        click.echo(notice, err=True)
    if session.status == INTERRUPTED:
        click.echo(f"interrupted: run {session.run_id} is incomplete", err=True)
        sys.exit(130)
    if session.stats.damage or session.stats.write_errors:
        sys.exit(2)
    if fail_on_violation and session.stats.violations:
        sys.exit(1)
