"""The verification report as data: the JSON report is this model, HTML and Markdown render it.

The JSON Schema of the report (`diagscope report --schema`) is generated from these models,
so the documentation cannot drift from what is written.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

REPORT_FORMAT_VERSION = "1.0"


class CaptureFile(BaseModel):
    path: str
    sha256: str
    size: int
    damage: str | None = None


class PolicyInfo(BaseModel):
    name: str
    version: str
    sha256: str = Field(description="SHA-256 of the policy file and every file it extends")
    source: str


class RunInfo(BaseModel):
    id: int
    label: str
    source_kind: str = Field(description="replay or proxy")
    status: str
    started_at: str | None
    ended_at: str | None
    tool_version: str
    mitmproxy_version: str
    command: str
    chain_head: str | None = Field(
        description="hash of the last entry of the run's hash chain: record it in the test "
                    "log, `diagscope verify BUNDLE --expect-head` checks it")
    chain_length: int
    scenario: dict | None = None
    settings: dict | None = Field(
        default=None, description="the test machine's collected settings (collect.ps1)")


class BuildInfo(BaseModel):
    office_versions: list[str] = Field(description="distinct ext.app.ver of Office events")
    windows_versions: list[str] = Field(description="distinct ext.os.ver seen")


class Verdict(BaseModel):
    result: str = Field(description="PASS: telemetry was seen, the run is complete and no "
                                    "violation was found; FAIL: a violation was found in a "
                                    "complete run; NO DATA: no telemetry was seen; "
                                    "INCOMPLETE: the run is not complete (interrupted, "
                                    "damaged, still recording or short of stored requests)")
    violations: int
    reviews: int
    by_rule: dict[str, dict[str, int]] = Field(description="rule -> severity -> count")


class EventName(BaseModel):
    name: str
    count: int
    product: str
    level: str
    purpose: str
    verdict: str = Field(description="the worst verdict over all events of this name")


class Endpoint(BaseModel):
    host: str
    scheme: str
    region: str | None
    allowed: bool | None = Field(description="null for rows that travelled nowhere (viewer "
                                             "exports)")
    requests: int
    events: int
    bytes: int = Field(description="request bytes on the wire (compressed)")


class EnvelopeIdentifier(BaseModel):
    """A pseudonymous envelope identifier the policy accepts, as sent in this run."""

    field: str
    description: str
    events: int = Field(description="events that carried an accepted value")
    distinct_values: int = Field(description="how many different values were sent")
    prefixes: dict[str, int] = Field(description="value prefix (`s:`) -> events")


class StepItem(BaseModel):
    """What was sent during one scenario step."""

    step: int | None = Field(description="the step number; null: before the first step")
    title: str | None = Field(description="the step's text in the scenario, when known")
    events: int
    violations: int
    reviews: int


class FindingItem(BaseModel):
    rule: str
    severity: str
    event_name: str | None
    product: str
    field: str | None
    pii_kind: str | None
    value: str | None = Field(description="the offending value, masked")
    detail: str
    clause: str
    flow_id: str
    event_index: int | None
    body_sha256: str = Field(description="SHA-256 of the raw request body: the evidence")
    occurrences: int = Field(default=1, description=(
        "how often the run found this rule, verdict, event name, field and kind of personal "
        "data; the value, detail and evidence shown are the first occurrence's"))
    flows: int = Field(default=1, description="in how many requests those occurrences were found")


class TimeBucket(BaseModel):
    start: str
    events: int
    violations: int


class Totals(BaseModel):
    telemetry_requests: int
    events: int
    undecodable_requests: int
    request_bytes: int


class DiffSection(BaseModel):
    baseline_run: int
    new_events: list[str]
    gone_events: list[str]
    changed_events: list[dict]
    new_findings: dict[str, int]
    resolved_findings: dict[str, int]
    new_endpoints: list[str]
    gone_endpoints: list[str]
    volume: dict[str, dict[str, int]]


class Report(BaseModel):
    format_version: str = REPORT_FORMAT_VERSION
    generated_at: str = Field(description="when the report was made; in an evidence bundle, "
                                          "the export time, so the report can be rebuilt "
                                          "from the bundle exactly")
    run: RunInfo
    build: BuildInfo
    policy: PolicyInfo
    captures: list[CaptureFile]
    time_window: dict[str, str | None] = Field(description="first and last event time (UTC)")
    totals: Totals
    verdict: Verdict
    events_by_level: dict[str, list[EventName]] = Field(
        description="overview of every event name, grouped by level as in the DPIA appendix"
    )
    levels: dict[str, int]
    purposes: dict[str, int]
    endpoints: list[Endpoint]
    steps: list[StepItem] = Field(
        default_factory=list, description="per scenario step, when the run recorded steps")
    envelope_identifiers: list[EnvelopeIdentifier] = Field(
        default_factory=list,
        description="the accepted pseudonymous identifiers sent (no findings; inventoried)")
    timeline: list[TimeBucket]
    findings: list[FindingItem]
    diff: DiffSection | None = None
    warnings: list[str] = Field(default_factory=list,
                                description="what makes this run less than a valid test")
