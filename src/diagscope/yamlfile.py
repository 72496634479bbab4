"""YAML input files (policies, scenarios): read them, and point at the line of a mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class YamlFileError(ValueError):
    """A file that cannot be used; the message names the file, line and field."""


def line_index(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            line_index(value, (*path, key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            line_index(item, (*path, i), out)


def read_yaml(path: Path, what: str) -> tuple[dict[str, Any], str, dict[tuple[Any, ...], int]]:
    """(data, exact text, line of every key path) of a YAML mapping file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise YamlFileError(f"{path}{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise YamlFileError(f"{path}: a {what} is a YAML mapping at the top level")
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        line_index(node, (), lines)
    return data, text, lines


def describe_errors(exc: ValidationError, path: Path, lines: dict[tuple[Any, ...], int],
                    what: str) -> str:
    """Every validation error as `file:line: field: message`."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        field = ".".join(str(p) for p in loc) or "(top level)"
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: {field}: {err['msg']}")
    return f"invalid {what}\n  " + "\n  ".join(problems)
