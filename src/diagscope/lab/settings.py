"""The test machine's own account of its settings (collect.ps1's zip), kept with the run.

A test of the wrong setting is no test: the configured levels are compared with what the
scenario meant to test, and a difference is recorded and shown prominently in the report.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from diagscope.scenario import OFFICE_SENDTELEMETRY, WINDOWS_ALLOWTELEMETRY

_OFFICE_LEVELS = {v: k for k, v in OFFICE_SENDTELEMETRY.items()}
_WINDOWS_LEVELS = {v: k for k, v in WINDOWS_ALLOWTELEMETRY.items()}


class SettingsError(ValueError):
    pass


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def read_settings(path: str | Path) -> tuple[dict[str, Any], bool]:
    """(settings record, whether the zip holds a Diagnostic Data Viewer export)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n.lower(): n for n in zf.namelist()}
            if "settings.json" not in names:
                raise SettingsError(f"{path} has no settings.json (was it made by collect.ps1?)")
            data = json.loads(zf.read(names["settings.json"]).decode("utf-8-sig"))
            has_ddv = "diagnostic-data.json" in names
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read the collected settings: {exc}") from None
    office = data.get("office") or {}
    windows = data.get("windows") or {}
    send, allow = _int(office.get("sendtelemetry")), _int(windows.get("allowtelemetry"))
    record = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "collected_at": data.get("collected_at"),
        "computer": data.get("computer"),
        "office": office,
        "windows": windows,
        "configured": {
            # Not configured means Microsoft's default: Office sends Optional data too.
            "office_level": _OFFICE_LEVELS.get(send, "not configured (optional)")
            if send is not None else "not configured (optional)",
            "sendtelemetry": send,
            "windows_level": _WINDOWS_LEVELS.get(allow, "not configured")
            if allow is not None else "not configured",
            "allowtelemetry": allow,
        },
    }
    return record, has_ddv


def compare(record: dict[str, Any], scenario: dict[str, Any] | None) -> list[str]:
    """Differences between what the scenario meant to test and what the machine had."""
    if not scenario:
        return []
    intended = scenario.get("settings") or {}
    configured = record["configured"]
    problems = []
    for key, name in (("office_level", "Office"), ("windows_level", "Windows")):
        if intended.get(key) and intended[key] != configured[key]:
            problems.append(f"{name} was set to {configured[key]}, the scenario tests "
                            f"{intended[key]}")
    return problems


def describe(record: dict[str, Any]) -> str:
    c = record["configured"]
    return (f"Office {c['office_level']} (sendtelemetry={c['sendtelemetry']}), "
            f"Windows {c['windows_level']} (AllowTelemetry={c['allowtelemetry']})")


def attach_to_run(engine: Engine, run_id: int, path: str | Path) -> tuple[dict[str, Any], bool]:
    """Read collect.ps1's zip, compare it with the run's scenario and store it with the run.
    Returns (the stored record, whether the zip also holds a viewer export)."""
    from diagscope.store.settings import attach_settings, run_scenario

    record, has_ddv = read_settings(path)
    record["mismatches"] = compare(record, run_scenario(engine, run_id))
    attach_settings(engine, run_id, record)
    return record, has_ddv
