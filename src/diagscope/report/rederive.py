"""Re-derive a bundle's events and findings from its raw telemetry (`flows.mitm`) with its
policy: the classifier run again, by whoever verifies, must find exactly what was stored.

Canary findings need the canary values, which no bundle holds: those of canaries given to
`verify` are re-derived too, those of the others are left out of the comparison (with the
verdict of the events they were found in), and a note says which.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from diagscope.report.bundle import (
    POLICY_FILE,
    RESOLVED_POLICY_FILE,
    first_difference,
    iter_jsonl,
    sha256_hex,
)
from diagscope.store.queries import iter_events, iter_findings


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
    skipped_events: set[tuple[Any, Any]] = set()
    skipped = 0
    for finding in iter_jsonl(zf, "findings.jsonl"):
        if canary_label(finding) in unchecked:
            skipped += 1
            skipped_events.add((finding["flow_id"], finding["event_index"]))
    if skipped:
        notes.append(f"{skipped} canary findings were not re-derived: pass the canaries "
                     "with --canary to check them too")

    def comparable(name: str, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            if name == "findings.jsonl":
                if canary_label(row) in unchecked:
                    continue
            elif (row["flow_id"], row["event_index"]) in skipped_events:
                # The verdict of an event with a canary finding not re-derived may differ.
                row = {**row, "verdict": None}
            yield {k: v for k, v in row.items() if k != "run"}

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="diagscope-verify-") as tmp:
        flows = Path(tmp) / "flows.mitm"
        with zf.open("flows.mitm") as source, flows.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        engine = open_engine(str(Path(tmp) / "check.sqlite"))
        try:
            session = RunSession(SessionSettings(
                label="bundle check",
                canaries=[f"{label}={value}" for label, value in given]),
                engine=engine, loaded=loaded)
            replay([str(flows)], session)
            run_id = session.run_id or 0
            for name, again in (("events.jsonl", iter_events(engine, run_id)),
                                ("findings.jsonl", iter_findings(engine, run_id))):
                found = first_difference(comparable(name, iter_jsonl(zf, name)),
                                         comparable(name, again))
                if found is not None:
                    problems.append(
                        f"{name} does not reproduce: {found.left} enclosed, {found.right} "
                        f"re-derived rows; first difference at row {found.index + 1}"
                        + (f": enclosed {json.dumps(found.left_row)[:300]}"
                           if found.index < found.left else ""))
        finally:
            engine.dispose()
    return problems
