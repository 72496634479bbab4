"""The command line as a run stores it: every secret value removed.

A run keeps the command that made it, as evidence of how the test was run. Some arguments
are secrets: canary values (test personal data, stored elsewhere only as salted hashes),
proxy credentials (`--proxyauth user:PASS`, mitmproxy's `proxyauth`, `upstream_auth`,
`web_password`), and passwords inside database URLs. They are replaced wherever they
appear: as an option's value, inside `--set name=value`, and, as a last line of defence,
anywhere else a known secret value occurs in an argument.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

HIDDEN = "<redacted>"

#: Options whose whole value is a secret (CLI flag spellings and mitmproxy option names).
SECRET_OPTIONS = frozenset({"--canary", "diagscope_canary", "web_password"})
#: Options whose value is `user:secret`: the user name is kept, what follows hidden.
CREDENTIAL_OPTIONS = frozenset({"--proxyauth", "proxyauth", "--upstream-auth", "upstream_auth"})
#: Options whose value is a database URL, which may carry a password.
URL_OPTIONS = frozenset({"--db", "diagscope_db"})


def hide_url_password(url: str) -> str:
    """`postgresql://tester:secret@db/x` -> `postgresql://tester:***@db/x`; other text as is."""
    if "://" not in url or "@" not in url:
        return url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        user, at, rest = url.partition("@")
        scheme, sep, credentials = user.partition("://")
        name = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{name}:***{at}{rest}" if ":" in credentials else url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def credential_secret(value: str) -> str | None:
    """The secret part of `user:secret` (mitmproxy's proxyauth also takes `any`, an
    `@htpasswd` file, or an `ldap:...` spec, whose last field is the bind password)."""
    if value in ("any", "") or value.startswith("@"):
        return None
    if value.startswith(("ldap:", "ldaps:")):
        parts = value.split(":")
        return parts[-2] if len(parts) >= 5 else None
    _, colon, secret = value.partition(":")
    return secret if colon and secret else None


def _redact_value(option: str, value: str) -> str:
    if option in SECRET_OPTIONS:
        return HIDDEN
    if option in CREDENTIAL_OPTIONS:
        secret = credential_secret(value)
        return value.replace(secret, HIDDEN) if secret else value
    if option in URL_OPTIONS:
        return hide_url_password(value)
    return value


def _set_argument(argument: str) -> str:
    """`name=value` of mitmproxy's `--set`."""
    name, equals, value = argument.partition("=")
    return f"{name}={_redact_value(name, value)}" if equals else argument


def _secret_values(option: str, value: str) -> list[str]:
    if option in SECRET_OPTIONS:
        # A canary is `label=value` or a bare value: the value is the secret either way.
        _, equals, bare = value.partition("=")
        return [value, bare] if equals and option != "web_password" else [value]
    if option in CREDENTIAL_OPTIONS:
        secret = credential_secret(value)
        return [secret] if secret else []
    return []


def secrets_in(argv: Sequence[str]) -> list[str]:
    """Secret values an argument list names, so they can also be hidden elsewhere."""
    found: list[str] = []
    options = SECRET_OPTIONS | CREDENTIAL_OPTIONS
    for i, arg in enumerate(argv):
        option, equals, value = arg.partition("=")
        if arg in ("--set", "-s") or not arg.startswith("-"):
            continue
        if not equals:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        if option in ("--set",):
            continue
        if option in options:
            found.extend(_secret_values(option, value))
    for i, arg in enumerate(argv):
        setting = None
        if arg == "--set" and i + 1 < len(argv):
            setting = argv[i + 1]
        elif arg.startswith("--set="):
            setting = arg[len("--set="):]
        if setting:
            name, _, value = setting.partition("=")
            found.extend(_secret_values(name, value))
    return [s for s in found if s]


def redact_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """The command line with every secret hidden, as one shell-quoted string."""
    known = sorted({s for s in (*secrets, *secrets_in(argv)) if len(s) >= 2},
                   key=len, reverse=True)
    out: list[str] = []
    pending: str | None = None  # the option whose value comes next
    for arg in argv:
        if pending is not None:
            out.append(_set_argument(arg) if pending == "--set" else
                       _redact_value(pending, arg))
            pending = None
            continue
        option, equals, value = arg.partition("=")
        if arg.startswith("-") and equals:
            out.append(f"{option}=" + (_set_argument(value) if option == "--set"
                                        else _redact_value(option, value)))
        elif arg.startswith("-") and (arg in SECRET_OPTIONS | CREDENTIAL_OPTIONS | URL_OPTIONS
                                      or arg == "--set"):
            out.append(arg)
            pending = arg
        else:
            out.append(arg)
    cleaned = []
    for arg in out:
        for secret in known:
            if secret in arg:
                arg = arg.replace(secret, HIDDEN)
        cleaned.append(hide_url_password(arg) if "://" in arg else arg)
    return shlex.join(cleaned)
