"""Write the PowerShell scripts that prepare, read out and restore a lab machine."""

from __future__ import annotations

import os
import re
import shutil
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from diagscope import __version__
from diagscope.lab.powershell import FILTERS, require_filtered
from diagscope.scenario import OFFICE_SENDTELEMETRY, WINDOWS_ALLOWTELEMETRY, LoadedScenario

SCRIPTS = ("setup.ps1", "collect.ps1", "teardown.ps1")
STATE_FILE = "diagscope-lab-state.json"
CA_FILE = "diagscope-ca.cer"
# Also checked by the command line; render() is the last stop before netsh sees the value.
PROXY = re.compile(r"[A-Za-z0-9.\-]+:\d{1,5}")


def _policy(allowed: bool) -> int:
    return 1 if allowed else 2  # Office privacy policies: 1 = enabled, 2 = disabled


@cache
def environment() -> Environment:
    """The templates' environment: values reach a script only through lab.powershell."""
    env = Environment(
        loader=PackageLoader("diagscope", "lab/templates"), autoescape=False,
        undefined=StrictUndefined, finalize=require_filtered, keep_trailing_newline=True,
        # PowerShell scripts travel to Windows: CRLF line ends. Only the template's own lines
        # get them, so a line break inside a quoted value stays what the value holds.
        newline_sequence="\r\n")
    env.filters.update(FILTERS)
    return env


def render(loaded: LoadedScenario, proxy: str) -> dict[str, str]:
    if not PROXY.fullmatch(proxy):
        raise ValueError(f"proxy must be HOST:PORT, not {proxy!r:.60}")
    env = environment()
    s = loaded.scenario
    ce = s.settings.connected_experiences
    context = {
        "s": s, "version": __version__, "scenario_file": Path(loaded.path).name,
        "sha256": loaded.sha256, "proxy": proxy, "state_file": STATE_FILE, "ca_file": CA_FILE,
        "sendtelemetry": OFFICE_SENDTELEMETRY[s.settings.office_level],
        "allowtelemetry": WINDOWS_ALLOWTELEMETRY[s.settings.windows_level],
        # Policy names say "disabled" for analyze/download content: 2 switches them off.
        "ce": {"all": _policy(ce.all), "analyze_content": _policy(ce.analyze_content),
               "download_content": _policy(ce.download_content),
               "optional_connected": _policy(ce.optional_connected)},
    }
    return {name: env.get_template(f"{name}.j2").render(**context) for name in SCRIPTS}


def write_scripts(loaded: LoadedScenario, proxy: str, out: Path, ca: Path | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(loaded, proxy).items():
        path = out / name
        # With a byte order mark: Windows PowerShell 5.1 reads a script without one in the
        # ANSI code page, where UTF-8 bytes of a letter such as "Ē" (C4 92) read as "Ä’", and
        # that typographic quote would end a quoted value early.
        path.write_bytes(text.encode("utf-8-sig"))
        written.append(path)
    if ca is not None:
        target = out / CA_FILE
        shutil.copyfile(ca, target)
        os.chmod(target, 0o644)  # a certificate, not a key: the test machine must read it
        written.append(target)
    return written
