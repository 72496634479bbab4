"""Load policies from YAML: bundled names or paths, inheritance, errors with file and line."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from diagscope.policy.model import Policy
from diagscope.yamlfile import YamlFileError, describe_errors, read_yaml

DEFAULT_POLICY = "slm-rijk-2019"
_MAX_EXTENDS_DEPTH = 8


class PolicyError(YamlFileError):
    """A policy file that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    policy: Policy
    path: str
    text: str  # the exact file as read, kept as evidence
    sha256: str  # of the file and, in order, every file it extends


def bundled_dir() -> Path:
    return Path(str(resources.files("diagscope") / "policies"))


def bundled_names() -> list[str]:
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


def _resolve(ref: str, relative_to: Path | None) -> Path:
    candidate = Path(ref)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_absolute() and relative_to is not None:
            beside = relative_to.parent / candidate
            if beside.exists():
                return beside
        if candidate.exists():
            return candidate
        raise PolicyError(f"policy file {ref} does not exist")
    bundled = bundled_dir() / f"{ref}.yaml"
    if bundled.exists():
        return bundled
    names = ", ".join(bundled_names())
    raise PolicyError(f"no policy named {ref!r}; bundled policies: {names}")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_policy(ref: str = DEFAULT_POLICY) -> LoadedPolicy:
    """Load a bundled policy by name or a policy file by path, following `extends`."""
    path = _resolve(ref, None)
    chain: list[tuple[Path, dict[str, Any], str]] = []
    lines: dict[tuple[Any, ...], int] = {}
    current: Path | None = path
    while current is not None:
        if len(chain) >= _MAX_EXTENDS_DEPTH or any(p == current for p, _, _ in chain):
            raise PolicyError(f"{current}: 'extends' forms a loop or is nested too deeply")
        try:
            data, text, file_lines = read_yaml(current, "policy")
        except YamlFileError as exc:
            raise PolicyError(str(exc)) from None
        if not chain:
            lines = file_lines
        chain.append((current, data, text))
        parent = data.get("extends")
        if parent is not None and not isinstance(parent, str):
            raise PolicyError(f"{current}: extends must be a policy name or file path")
        current = _resolve(parent, current) if parent else None
    merged: dict[str, Any] = {}
    digest = hashlib.sha256()
    for _, data, _text in reversed(chain):
        merged = _merge(merged, {k: v for k, v in data.items() if k != "extends"})
    for _, _, text in chain:
        digest.update(text.encode("utf-8"))
    try:
        policy = Policy.model_validate(merged)
    except ValidationError as exc:
        raise PolicyError(describe_errors(exc, path, lines, "policy")) from None
    return LoadedPolicy(policy=policy, path=str(path), text=chain[0][2], sha256=digest.hexdigest())
