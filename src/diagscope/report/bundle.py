"""Evidence bundles: everything an auditor needs to check a run without trusting diagscope.

A bundle is a zip with the run's flows as a `.mitm` file (the raw requests), the original
capture files when they are still on disk and unchanged, events and findings as JSON
lines, the report (HTML and JSON), the exact policy file and its resolved form, a
`manifest.json` with provenance, and `SHA256SUMS` in the format `sha256sum -c` reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import socket
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mitmproxy import http
from mitmproxy.io import FlowWriter
from sqlalchemy import Engine

from diagscope import __version__
from diagscope.decode import DECODER_VERSIONS
from diagscope.files import PRIVATE_MODE, private_file
from diagscope.pii.canary import CanarySet
from diagscope.report.build import build_for_run
from diagscope.report.render import render_html, render_json
from diagscope.sources.synthetic import make_flow
from diagscope.store.queries import iter_events, iter_findings, iter_request_rows, run_record
from diagscope.store.writer import mitmproxy_version

PERSONAL_DATA_WARNING = (
    "This bundle contains raw telemetry captured from a test machine. Telemetry can hold "
    "personal data (names, e-mail addresses, document titles, IP addresses). Store it "
    "securely, share it only with those who need it, and delete it when the retention period "
    "ends. Use --redact for a bundle without raw bodies for wider sharing."
)
REDACTED_NOTE = (
    "Redacted bundle: no raw request bodies or capture files, values masked. Integrity can be "
    "checked; findings cannot be re-derived from the raw telemetry."
)


class BundleError(Exception):
    pass


def _flow_from_row(row: dict[str, Any]) -> http.HTTPFlow:
    flow = make_flow(
        row["flow_id"], time=row["time"].timestamp(), host=row["host"], path=row["path"],
        method=row["method"], scheme=row["scheme"], port=row["port"],
        headers=[tuple(h) for h in row["headers"]], body=row["body"],
        status=row["response_status"], response_body=b"", error=row["error"],
    )
    flow.id = row["flow_id"]
    return flow


def _jsonl(rows: Any) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(
    engine: Engine, run_id: int, out: str, *, redact: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    step = progress or (lambda _msg: None)
    files: dict[str, bytes] = {}
    run = run_record(engine, run_id)
    if not redact:
        step("flows")
        buffer = io.BytesIO()
        writer = FlowWriter(buffer)
        for row in iter_request_rows(engine, run_id):
            writer.add(_flow_from_row(row))
        files["flows.mitm"] = buffer.getvalue()
    step("events and findings")
    files["events.jsonl"] = _jsonl(iter_events(engine, run_id))
    files["findings.jsonl"] = _jsonl(iter_findings(engine, run_id))
    step("report")
    built = build_for_run(engine, run_id)
    files["report.html"] = render_html(built.report, "en", built.forbidden_purposes).encode()
    files["report.json"] = render_json(built.report).encode()
    files["policy/policy.yaml"] = run["policy_text"].encode("utf-8")
    files["policy/policy.resolved.json"] = (
        json.dumps(run["policy_resolved"], indent=2, ensure_ascii=False) + "\n"
    ).encode()
    captures: list[dict[str, Any]] = []
    for capture in run["captures"] or []:
        entry = dict(capture)
        path = Path(capture["path"])
        entry["included"] = False
        if not redact and path.is_file():
            data = path.read_bytes()
            if _sha256(data) == capture["sha256"]:
                name = f"captures/{len(captures)}-{path.name}"
                files[name] = data
                entry["included"] = name
        captures.append(entry)
    manifest = {
        "bundle_format": "1",
        "warning": REDACTED_NOTE if redact else PERSONAL_DATA_WARNING,
        "redacted": redact,
        "run": {
            "id": run["id"], "label": run["label"], "source_kind": run["source_kind"],
            "status": run["status"],
            "started_at": built.report.run.started_at, "ended_at": built.report.run.ended_at,
            "command": run["command"], "chain_head": run["chain_head"],
            "chain_length": run["chain_length"],
        },
        "tool": {"diagscope": run["tool_version"], "mitmproxy": run["mitmproxy_version"],
                 "decoders": DECODER_VERSIONS},
        "exported": {
            "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "by": {"diagscope": __version__, "mitmproxy": mitmproxy_version(),
                   "python": sys.version.split()[0]},
            "host": f"{socket.gethostname()} ({platform.system()} {platform.release()})",
        },
        "policy": {"name": run["policy_name"], "version": run["policy_version"],
                   "sha256": run["policy_sha256"],
                   "file_sha256": _sha256(files["policy/policy.yaml"])},
        "captures": captures,
        # Labels and salted hashes only: whoever holds the canary values can re-derive the
        # canary findings with `diagscope verify bundle.zip --canary ...`.
        "canaries": run["canaries"],
        "verdict": built.report.verdict.model_dump(),
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    sums = "".join(f"{_sha256(data)}  {name}\n" for name, data in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()
    step("writing")
    _write_zip(out, files)
    return manifest


def _write_zip(out: str, files: dict[str, bytes]) -> None:
    with private_file(out) as fo, zipfile.ZipFile(fo, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = PRIVATE_MODE << 16  # unzipped, the files stay private too
            zf.writestr(info, data)


@dataclass
class BundleCheck:
    ok: bool
    checked_files: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _jsonl_rows(zf: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in zf.read(name).decode().splitlines() if line]


def _without_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "run"} for r in rows]


def verify_bundle(path: str, canaries: list[tuple[str, str]] | None = None) -> BundleCheck:
    """Check every hash, then re-classify the enclosed flows with the enclosed policy."""
    check = BundleCheck(ok=False)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path} is not a readable zip file: {exc}") from None
    with zf:
        names = set(zf.namelist())
        if "SHA256SUMS" not in names:
            raise BundleError(f"{path} has no SHA256SUMS; it is not a diagscope bundle")
        listed: dict[str, str] = {}
        for line in zf.read("SHA256SUMS").decode("utf-8").splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
        for name, digest in sorted(listed.items()):
            if name not in names:
                check.problems.append(f"{name} is listed in SHA256SUMS but missing")
            elif _sha256(zf.read(name)) != digest:
                check.problems.append(f"{name} was modified: its SHA-256 does not match")
            else:
                check.checked_files += 1
        for extra in sorted(names - set(listed) - {"SHA256SUMS"}):
            check.problems.append(f"{extra} is not listed in SHA256SUMS (added later?)")
        if check.problems:
            return check
        manifest = json.loads(zf.read("manifest.json"))
        if manifest.get("redacted"):
            check.notes.append(REDACTED_NOTE)
            check.ok = True
            return check
        check.problems.extend(_reclassify(zf, manifest, canaries or [], check.notes))
    check.ok = not check.problems
    return check


def _canaries_for(manifest: dict[str, Any], given: list[tuple[str, str]],
                  problems: list[str]) -> CanarySet | None:
    stored = manifest.get("canaries") or {}
    if not given:
        return None
    salt = stored.get("salt")
    canaries = CanarySet(given, salt=salt)
    expected = {c["label"]: c["salted_sha256"] for c in stored.get("canaries", [])}
    for record in canaries.records:
        if expected.get(record.label) != record.salted_sha256:
            problems.append(f"canary {record.label!r} does not match the run's salted hash")
    return canaries


def _reclassify(zf: zipfile.ZipFile, manifest: dict[str, Any],
                given: list[tuple[str, str]], notes: list[str]) -> list[str]:
    from diagscope.policy.load import LoadedPolicy
    from diagscope.policy.model import Policy
    from diagscope.replay import replay
    from diagscope.session import RunSession, SessionSettings
    from diagscope.store.engine import open_engine

    problems: list[str] = []
    canaries = _canaries_for(manifest, given, problems)
    if problems:
        return problems
    policy = Policy.model_validate(json.loads(zf.read("policy/policy.resolved.json")))
    text = zf.read("policy/policy.yaml").decode("utf-8")
    loaded = LoadedPolicy(policy=policy, path="policy/policy.yaml", text=text,
                          sha256=_sha256(text.encode()))
    with tempfile.TemporaryDirectory(prefix="diagscope-verify-") as tmp:
        flows = Path(tmp) / "flows.mitm"
        flows.write_bytes(zf.read("flows.mitm"))
        engine = open_engine(str(Path(tmp) / "check.sqlite"))
        session = RunSession(SessionSettings(
            label="bundle check", canaries=[f"{label}={value}" for label, value in given]
            if canaries is not None else []), engine=engine, loaded=loaded)
        replay([str(flows)], session)
        enclosed_findings = _jsonl_rows(zf, "findings.jsonl")
        without_canaries = canaries is None and bool(manifest.get("canaries"))
        canary_events = {(f["flow_id"], f["event_index"]) for f in enclosed_findings
                         if f["pii_kind"] == "canary"} if without_canaries else set()
        for name, produce in (("events.jsonl", iter_events), ("findings.jsonl", iter_findings)):
            enclosed = _jsonl_rows(zf, name)
            again = list(produce(engine, session.run_id or 0))
            a, b = _without_run(enclosed), _without_run(again)
            if without_canaries and name == "findings.jsonl":
                # Canary findings need the canary values, which the bundle does not hold.
                a = [f for f in a if f["pii_kind"] != "canary"]
                notes.append(f"{len(enclosed) - len(a)} canary findings were not re-derived: "
                             "pass the canaries with --canary to check them too")
            elif canary_events:
                # ... and so the verdict of an event with a canary finding may differ.
                for row in (*a, *b):
                    if (row["flow_id"], row["event_index"]) in canary_events:
                        row["verdict"] = None
            if a != b:
                first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                             min(len(a), len(b)))
                problems.append(
                    f"{name} does not reproduce: {len(a)} enclosed, {len(b)} re-derived rows; "
                    f"first difference at row {first + 1}"
                    + (f": enclosed {json.dumps(a[first])[:300]}" if first < len(a) else "")
                )
        engine.dispose()
    return problems


def verify_bundle_cli(path: str, canaries: list[tuple[str, str]] | None = None) -> None:
    import click

    try:
        check = verify_bundle(path, canaries)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    for note in check.notes:
        click.echo(f"note: {note}")
    if not check.ok:
        for problem in check.problems:
            click.echo(f"FAILED: {problem}", err=True)
        raise click.ClickException(f"bundle {path} failed verification")
    reproduced = not any(n.startswith("Redacted") for n in check.notes)
    click.echo(f"bundle {path}: {check.checked_files} files match SHA256SUMS"
               + ("; findings and events reproduce exactly" if reproduced else ""))
