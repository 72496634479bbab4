"""`diagscope proxy`: the addon inside mitmproxy, flags made from the addon's own options.

As mitmproxy's own tools build their parsers from option declarations (`make_parser`),
this command's flags come from the addon's `OPTIONS` and from the mitmproxy options a lab
needs (`MITM_FLAGS`), with mitmproxy's help texts: there is one declaration of each.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from diagscope.addon import OPTIONS
from diagscope.cli.main import main
from diagscope.proxy import MITM_FLAGS, ProxyError, is_loopback, mitm_option_help, run_proxy

F = TypeVar("F", bound=Callable[..., Any])


def option_flags(function: F) -> F:
    """Click options for every addon option and every mitmproxy option in `MITM_FLAGS`."""
    decorators = []
    for o in OPTIONS:
        if o.typespec is bool:
            decorators.append(click.option(f"{o.flag}/--no-{o.flag[2:]}", o.name,
                                           default=o.default, show_default=True, help=o.help))
        elif o.typespec == Sequence[str]:
            decorators.append(click.option(o.flag, o.name, multiple=True, help=o.help))
        else:
            decorators.append(click.option(o.flag, o.name, default=o.default,
                                           show_default=bool(o.default), help=o.help))
    for m in MITM_FLAGS:
        kind = int if isinstance(m.default, int) else str
        text = " ".join(t for t in (mitm_option_help(m.name), m.note) if t)
        decorators.append(click.option(m.flag, m.name, type=kind, default=m.default,
                                       show_default=m.default is not None, help=text))
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@main.command()
@option_flags
@click.option("--allow-remote", is_flag=True,
              help="Allow listening on a non-loopback address (requires --proxyauth).")
@click.option("--set", "extra_sets", multiple=True, metavar="OPTION=VALUE",
              help="Set any mitmproxy option, as with mitmdump --set (repeatable).")
@click.option("--web", is_flag=True,
              help="Also serve mitmweb's interface (on 127.0.0.1; --set web_port=N to choose "
                   "its port): decoded events, marked violations, the diagscope.step command.")
def proxy(allow_remote: bool, extra_sets: tuple[str, ...], web: bool, **options: Any) -> None:
    """Intercept telemetry live: judge, store and (by default) forward every byte unchanged."""
    host = options["listen_host"]
    if not is_loopback(host):
        if not allow_remote:
            raise click.UsageError(
                f"{host} is not a loopback address; an open proxy on a lab network lets "
                "anyone through. Pass --allow-remote together with --proxyauth USER:PASS.")
        if not options["proxyauth"]:
            raise click.UsageError("--allow-remote requires --proxyauth USER:PASS")
    updates = {name: list(value) if isinstance(value, tuple) else value
               for name, value in options.items() if value is not None}
    try:
        sys.exit(run_proxy(updates, extra_sets, web=web))
    except ProxyError as exc:
        raise click.ClickException(str(exc)) from None
