"""The `diagscope` command line: one module per command group, each command a thin call
into the library (parse the options, call one function, print what it returns)."""

from diagscope.cli import (  # noqa: F401 - importing a module registers its commands
    catalogue,
    evidence,
    keys,
    lab,
    policy,
    proxy,
    query,
    replay,
    reports,
    scenario,
    steps,
)
from diagscope.cli.main import main

__all__ = ["main"]
