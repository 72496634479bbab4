"""Scenarios: what a tester sets up, does and plants, written down so a test can be repeated.

A scenario file names the build under test, the diagnostic settings to apply, the steps to
perform and the canaries those steps plant. Runs store the scenario (with its sha256, never
the canary values) and reports show it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from diagscope.yamlfile import YamlFileError, describe_errors, read_yaml

OfficeLevel = Literal["required", "optional", "neither"]
WindowsLevel = Literal["security", "required", "enhanced", "optional"]

#: Registry values the levels stand for (wire-format.md §4.3 and §5.1).
OFFICE_SENDTELEMETRY = {"required": 1, "optional": 2, "neither": 3}
WINDOWS_ALLOWTELEMETRY = {"security": 0, "required": 1, "enhanced": 2, "optional": 3}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Build(_Strict):
    office_version: str | None = None
    windows_version: str | None = None
    channel: str | None = None
    notes: str = ""


class ConnectedExperiences(_Strict):
    """True allows the experience; the policy values written are 1 (enabled) or 2."""

    all: bool = True
    analyze_content: bool = True
    download_content: bool = True
    optional_connected: bool = True


class Settings(_Strict):
    office_level: OfficeLevel
    windows_level: WindowsLevel
    connected_experiences: ConnectedExperiences = Field(default_factory=ConnectedExperiences)


class Canary(_Strict):
    label: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    value: str = Field(min_length=4)
    kind: Literal["document-title", "mail-subject", "typed-sentence", "account-name",
                  "account-email", "file-name", "other"] = "other"


class Step(_Strict):
    text: str = Field(min_length=1)
    plants: list[str] = Field(default_factory=list, description="canary labels this step uses")


class Scenario(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    title: str = Field(min_length=1)
    description: str = ""
    products: list[Literal["office", "windows"]] = Field(min_length=1)
    build: Build = Field(default_factory=Build)
    settings: Settings
    steps: list[Step] = Field(min_length=1)
    canaries: list[Canary] = Field(default_factory=list)
    duration_minutes: int = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _canaries_are_defined(self) -> Scenario:
        labels = [c.label for c in self.canaries]
        if len(set(labels)) != len(labels):
            raise ValueError("canary labels must be unique")
        unknown = {p for step in self.steps for p in step.plants} - set(labels)
        if unknown:
            raise ValueError(f"steps plant canaries that are not defined: {sorted(unknown)}")
        return self


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    scenario: Scenario
    path: str
    sha256: str

    def canary_pairs(self) -> list[tuple[str, str]]:
        return [(c.label, c.value) for c in self.scenario.canaries]

    def record(self) -> dict[str, Any]:
        """What a run stores: everything but the canary values."""
        s = self.scenario
        return {
            "id": s.id, "title": s.title, "sha256": self.sha256, "file": self.path,
            "description": s.description, "products": s.products,
            "build": s.build.model_dump(exclude_none=True),
            "settings": s.settings.model_dump(),
            "steps": [step.text for step in s.steps],
            "canaries": [{"label": c.label, "kind": c.kind} for c in s.canaries],
            "duration_minutes": s.duration_minutes,
        }


class ScenarioError(YamlFileError):
    pass


def load_scenario(path: str | Path) -> LoadedScenario:
    path = Path(path)
    try:
        data, text, lines = read_yaml(path, "scenario")
    except YamlFileError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(describe_errors(exc, path, lines, "scenario")) from None
    return LoadedScenario(scenario, str(path), hashlib.sha256(text.encode("utf-8")).hexdigest())


def checklist(loaded: LoadedScenario) -> str:
    """The scenario as a Markdown checklist for the tester at the test machine."""
    s = loaded.scenario
    settings = s.settings
    ce = settings.connected_experiences
    lines = [f"# {s.title}", "", f"Scenario `{s.id}` (sha256 `{loaded.sha256[:16]}…`), about "
             f"{s.duration_minutes} minutes.", ""]
    if s.description:
        lines += [s.description, ""]
    build = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in
                      s.build.model_dump(exclude_none=True).items() if v)
    if build:
        lines += [f"Build under test: {build}.", ""]
    lines += ["## Before you start", "",
              f"- [ ] Office diagnostic level is **{settings.office_level}** "
              f"(`sendtelemetry` = {OFFICE_SENDTELEMETRY[settings.office_level]})",
              f"- [ ] Windows diagnostic level is **{settings.windows_level}** "
              f"(`AllowTelemetry` = {WINDOWS_ALLOWTELEMETRY[settings.windows_level]})",
              f"- [ ] Connected experiences: all {'on' if ce.all else 'off'}, analysing content "
              f"{'on' if ce.analyze_content else 'off'}, downloading content "
              f"{'on' if ce.download_content else 'off'}, optional "
              f"{'on' if ce.optional_connected else 'off'}",
              "- [ ] The test machine trusts the proxy's CA and routes through the proxy",
              "- [ ] `diagscope proxy --scenario <this file>` is running", ""]
    lines += ["## Steps", ""]
    by_label = {c.label: c for c in s.canaries}
    for number, step in enumerate(s.steps, 1):
        text = step.text
        for label in step.plants:
            text = text.replace(f"{{{label}}}", f"`{by_label[label].value}`")
        lines.append(f"- [ ] {number}. {text}")
    if s.canaries:
        lines += ["", "## Canaries planted", ""]
        lines += [f"- `{c.label}` ({c.kind}): `{c.value}`" for c in s.canaries]
    lines += ["", "## Afterwards", "", "- [ ] Stop the proxy (Ctrl-C) and note the run number",
              "- [ ] Run `collect.ps1` on the test machine and attach the zip with "
              "`diagscope attach`"]
    return "\n".join(lines) + "\n"

