"""Re-derive a bundle's events and findings from its raw telemetry (`flows.mitm`) with its
policy: the classifier run again, by whoever verifies, must find exactly what was stored.

Canary findings need the canary values, which no bundle holds: those of canaries given to
`verify` are re-derived too, those of the others are left out of the comparison (with the
verdict of the events they were found in), and a note says which.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from diagscope.report.bundle import POLICY_FILE, RESOLVED_POLICY_FILE, read_jsonl, sha256_hex
from diagscope.store.queries import iter_events, iter_findings


def _without_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "run"} for r in rows]


def canary_label(finding: dict[str, Any]) -> str | None:
    """The label of a canary finding (its masked value is `[canary LABEL]`)."""
    value = finding.get("value") or ""
    if finding.get("pii_kind") != "canary" or not value.startswith("[canary "):
        return None
    return value[len("[canary "):-1]


def rederive(zf: zipfile.ZipFile, state: dict[str, Any], given: list[tuple[str, str]],
             notes: list[str]) -> list[str]:
    from diagscope.policy.load import LoadedPolicy
    from diagscope.policy.model import Policy
    from diagscope.replay import replay
    from diagscope.session import RunSession, SessionSettings
    from diagscope.store.engine import open_engine

    stored_labels = {c["label"] for c in (state.get("canaries") or {}).get("canaries", [])}
    unchecked = stored_labels - {label for label, _ in given}
    policy = Policy.model_validate(json.loads(zf.read(RESOLVED_POLICY_FILE)))
    text = zf.read(POLICY_FILE).decode("utf-8")
    loaded = LoadedPolicy(policy=policy, path=POLICY_FILE, text=text,
                          sha256=sha256_hex(text.encode()))
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="diagscope-verify-") as tmp:
        flows = Path(tmp) / "flows.mitm"
        flows.write_bytes(zf.read("flows.mitm"))
        engine = open_engine(str(Path(tmp) / "check.sqlite"))
        try:
            session = RunSession(SessionSettings(
                label="bundle check",
                canaries=[f"{label}={value}" for label, value in given]),
                engine=engine, loaded=loaded)
            replay([str(flows)], session)
            run_id = session.run_id or 0
            again = {"events.jsonl": list(iter_events(engine, run_id)),
                     "findings.jsonl": list(iter_findings(engine, run_id))}
        finally:
            engine.dispose()
    enclosed_findings = read_jsonl(zf, "findings.jsonl")
    skipped = [f for f in enclosed_findings if canary_label(f) in unchecked]
    skipped_events = {(f["flow_id"], f["event_index"]) for f in skipped}
    if skipped:
        notes.append(f"{len(skipped)} canary findings were not re-derived: pass the canaries "
                     "with --canary to check them too")
    for name, rows in again.items():
        a, b = _without_run(read_jsonl(zf, name)), _without_run(rows)
        if name == "findings.jsonl":
            a = [f for f in a if canary_label(f) not in unchecked]
        else:
            # The verdict of an event with a canary finding not re-derived may differ.
            for row in (*a, *b):
                if (row["flow_id"], row["event_index"]) in skipped_events:
                    row["verdict"] = None
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                         min(len(a), len(b)))
            problems.append(
                f"{name} does not reproduce: {len(a)} enclosed, {len(b)} re-derived rows; "
                f"first difference at row {first + 1}"
                + (f": enclosed {json.dumps(a[first])[:300]}" if first < len(a) else ""))
    return problems
