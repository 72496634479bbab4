"""Report formats by name, each with the file suffixes that ask for it.

Every module of this package registers one format with a line above its renderer:

    @report_format("md", "md", "markdown")
    def as_markdown(built: BuiltReport, lang: str) -> str: ...

`diagscope report --format` offers `report_formats()`, and `--out report.md` without a
format picks one with `format_for_suffix`. The package is imported whole before the first
lookup, so a new format is one new file here and nothing else.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diagscope.report.build import BuiltReport

#: The format of a report whose file name says nothing.
DEFAULT_FORMAT = "html"

Renderer = Callable[["BuiltReport", str], str]  # (built report, language) -> document


@dataclass(frozen=True, slots=True)
class ReportFormat:
    name: str
    render: Renderer
    suffixes: tuple[str, ...]  # lower case, without the dot


_FORMATS: dict[str, ReportFormat] = {}


def _suffix(text: str) -> str:
    return text.lower().lstrip(".")


def register_format(name: str, render: Renderer, suffixes: tuple[str, ...] = ()) -> None:
    existing = _FORMATS.get(name)
    if existing is not None and existing.render is not render:
        raise ValueError(f"a report format named {name!r} is already registered")
    _FORMATS[name] = ReportFormat(name, render, tuple(_suffix(s) for s in suffixes))


def unregister_format(name: str) -> None:
    _FORMATS.pop(name, None)


def report_format(name: str, *suffixes: str) -> Callable[[Renderer], Renderer]:
    """Decorator form of `register_format`."""

    def register(render: Renderer) -> Renderer:
        register_format(name, render, suffixes)
        return render

    return register


@functools.cache
def _import_formats() -> None:
    # A format registers itself when its module is imported; importing the whole package
    # once means adding a format needs no list to update.
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def report_formats() -> list[str]:
    """The names of every format, sorted."""
    _import_formats()
    return sorted(_FORMATS)


def format_for_suffix(suffix: str) -> str | None:
    """The format a file suffix asks for (`.md`, `json`, any case), or None."""
    _import_formats()
    wanted = _suffix(suffix)
    return next((f.name for f in _FORMATS.values() if wanted in f.suffixes), None)


def renderer(name: str) -> Renderer:
    """The renderer of the format called `name`; LookupError when there is none."""
    _import_formats()
    try:
        return _FORMATS[name].render
    except KeyError:
        raise LookupError(f"no report format {name!r}; there are "
                          f"{', '.join(sorted(_FORMATS))}") from None
