"""Evidence bundles: everything an auditor needs to check a run without trusting diagscope.

A bundle is a zip holding:

- `rows/`: the run's hash chain in full: `run.jsonl` (the run's header, settings and
  closing entries, as the canonical JSON text that was hashed), `requests.jsonl` (without
  raw bodies, with body_sha256), `events.jsonl` and `findings.jsonl`, every row in the form
  the chain digests it (`store/portable.py`). A redacted bundle replaces the columns that
  can hold personal data by the SHA-256 the chain already uses for them.
- `flows.mitm`: the raw requests (not in a redacted bundle), and `captures/`: the original
  capture files when they are still on disk and unchanged.
- `events.jsonl` and `findings.jsonl` as `diagscope events/findings --format jsonl` print
  them, and the report (`report.html`, `report.json`), all made from the enclosed rows.
- `policy/`: the exact policy file and its resolved form, as the run's header recorded.
- `manifest.json`: provenance, the chain head and length, the verdict.
- `SHA256SUMS` in the format `sha256sum -c` reads, and, when signed, `SHA256SUMS.sig`.

`bundle_check.py` verifies one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mitmproxy import http
from mitmproxy.io import FlowWriter
from sqlalchemy import Engine

from diagscope import __version__
from diagscope.decode import DECODER_VERSIONS
from diagscope.files import PRIVATE_MODE, private_file
from diagscope.report.model import Report
from diagscope.report.rebuild import rebuilt_run, report_files
from diagscope.signing import ALGORITHM, SIGNATURE_FILE, fingerprint, sign
from diagscope.sources.synthetic import make_flow
from diagscope.store.chain import ROWS_ONLY_FORMAT
from diagscope.store.entries import UNCHAINED, content_text, run_state, unchained_state
from diagscope.store.portable import ROW_TABLES, portable_row, redact_row, redacted_columns
from diagscope.store.queries import (
    iter_chained_rows,
    iter_events,
    iter_findings,
    iter_request_rows,
    run_entry_rows,
    run_record,
)
from diagscope.store.verify import verify_run
from diagscope.store.writer import mitmproxy_version

BUNDLE_FORMAT = "2"
SUMS_FILE = "SHA256SUMS"
RUN_ENTRIES_FILE = "rows/run.jsonl"
POLICY_FILE = "policy/policy.yaml"
RESOLVED_POLICY_FILE = "policy/policy.resolved.json"


def row_file(table_name: str) -> str:
    return f"rows/{table_name}.jsonl"


PERSONAL_DATA_WARNING = (
    "This bundle contains raw telemetry captured from a test machine. Telemetry can hold "
    "personal data (names, e-mail addresses, document titles, IP addresses). Store it "
    "securely, share it only with those who need it, and delete it when the retention period "
    "ends. Use --redact for a bundle without raw bodies for wider sharing."
)
REDACTED_NOTE = (
    "Redacted bundle: no raw request bodies or capture files; the columns that can hold "
    "personal data (event JSON, field marks and, for runs stored since run metadata is "
    "chained, request headers: see redacted_columns) are replaced by their SHA-256, values "
    "masked. The hash chain, the manifest and the report are checked; findings cannot be "
    "re-derived from the raw telemetry."
)


class BundleError(Exception):
    pass


@dataclass(slots=True)
class Exported:
    manifest: dict[str, Any]
    #: One line each: capture files that could not be enclosed, and why.
    warnings: list[str] = field(default_factory=list)


def jsonl(rows: Iterable[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def iter_jsonl(zf: zipfile.ZipFile, name: str) -> Iterator[Any]:
    """A JSON-lines file of a bundle, one value a line, read as a stream. A line ends at a
    line feed only: JSON escapes line feeds within strings, but not the other characters
    that can end a line in text (U+2028 in an event's value stays as it is)."""
    with zf.open(name) as fo:
        for line in fo:
            if line.strip(b"\r\n"):
                yield json.loads(line)


def read_jsonl(zf: zipfile.ZipFile, name: str) -> list[Any]:
    """A JSON-lines file of a bundle, one value a line."""
    return list(iter_jsonl(zf, name))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member_sha256(zf: zipfile.ZipFile, name: str) -> str:
    """The SHA-256 of a file in a bundle, read as a stream (a capture can be large)."""
    digest = hashlib.sha256()
    with zf.open(name) as fo:
        while chunk := fo.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(slots=True)
class Difference:
    """Where two streams of rows first differ, and how many rows each held."""

    index: int  # 0-based
    left: int
    right: int
    left_row: Any  # the first stream's row there, or None past its end


_END = object()


def first_difference(left: Iterable[Any], right: Iterable[Any]) -> Difference | None:
    """None when both streams hold equal rows in the same order; otherwise where they first
    differ (both are read to the end, to count them)."""
    a, b = iter(left), iter(right)
    index = 0
    while True:
        x, y = next(a, _END), next(b, _END)
        if x is _END and y is _END:
            return None
        if x != y:
            break
        index += 1
    left_count = index + (x is not _END) + sum(1 for _ in a)
    right_count = index + (y is not _END) + sum(1 for _ in b)
    return Difference(index, left_count, right_count, None if x is _END else x)


def manifest_facts(run_id: int, state: dict[str, Any], report: Report, head: str | None,
                   length: int, chain_format: int, counts: dict[str, int]) -> dict[str, Any]:
    """What a manifest states that follows from the enclosed rows: `verify` recomputes it
    and compares. The rest (export time and host, decoder versions, which captures were
    enclosed, the signing key) is provenance that nothing in the rows can confirm."""
    policy_text = state.get("policy_text") or ""
    return {
        "run": {
            "id": run_id, "label": state.get("label"), "source_kind": state.get("source_kind"),
            "status": state.get("status"),
            "started_at": report.run.started_at, "ended_at": report.run.ended_at,
            "command": state.get("command"), "chain_head": head, "chain_length": length,
            "chain_format": chain_format, "rows": counts,
        },
        "tool": {"diagscope": state.get("tool_version"),
                 "mitmproxy": state.get("mitmproxy_version")},
        "policy": {"name": state.get("policy_name"), "version": state.get("policy_version"),
                   "sha256": state.get("policy_sha256"),
                   "file_sha256": sha256_hex(policy_text.encode("utf-8"))},
        "captures": [dict(c) for c in state.get("captures") or []],
        # Labels and salted hashes only: whoever holds the canary values can re-derive the
        # canary findings with `diagscope verify bundle.zip --canary ...`.
        "canaries": state.get("canaries"),
        "verdict": report.verdict.model_dump(),
    }


def policy_files(state: dict[str, Any]) -> dict[str, bytes]:
    return {
        POLICY_FILE: (state.get("policy_text") or "").encode("utf-8"),
        RESOLVED_POLICY_FILE: (json.dumps(state.get("policy_resolved"), indent=2,
                                          ensure_ascii=False) + "\n").encode("utf-8"),
    }


def _flow_from_row(row: dict[str, Any]) -> http.HTTPFlow:
    flow = make_flow(
        row["flow_id"], time=row["time"].timestamp(), host=row["host"], path=row["path"],
        method=row["method"], scheme=row["scheme"], port=row["port"],
        headers=[tuple(h) for h in row["headers"]], body=row["body"],
        status=row["response_status"], response_body=b"", error=row["error"],
    )
    flow.id = row["flow_id"]
    return flow


def _run_entries(engine: Engine, run: dict[str, Any], length: int
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The run entries as `rows/run.jsonl` holds them, and the run's chained columns."""
    if (run["chain_format"] or ROWS_ONLY_FORMAT) == ROWS_ONLY_FORMAT:
        state = unchained_state(run)
        return [{"kind": UNCHAINED, "content": content_text(state)}], state
    entries = run_entry_rows(engine, run["id"], length)
    state = run_state((e["kind"], json.loads(e["content"])) for e in entries)
    return [{"chain_seq": e["chain_seq"], "kind": e["kind"], "chain_hash": e["chain_hash"],
             "content": e["content"]} for e in entries], state


def _enclose_captures(state: dict[str, Any], out: _ZipOut, redact: bool
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    captures: list[dict[str, Any]] = []
    warnings: list[str] = []
    for capture in state.get("captures") or []:
        entry = {**capture, "included": False}
        captures.append(entry)
        if redact:
            continue
        path = Path(capture["path"])
        why = None
        if not path.is_file():
            why = ("it no longer exists" if path.is_absolute() else
                   f"the run stored a relative path, not found from {os.getcwd()}")
        else:
            # Checked first, then copied: a capture can be larger than memory.
            found = _file_sha256(path)
            if found != capture["sha256"]:
                why = (f"it changed since the run (SHA-256 {found}, the run stored "
                       f"{capture['sha256'] or 'none'})")
            else:
                name = f"captures/{len(captures) - 1}-{path.name}"
                with path.open("rb") as source, out.stream(name) as fo:
                    shutil.copyfileobj(source, fo, _COPY_CHUNK)
                if out.sums[name] != capture["sha256"]:
                    raise BundleError(f"capture {capture['path']} changed while it was "
                                      "being enclosed; export again")
                entry["included"] = name
        if why:
            warnings.append(f"capture {capture['path']} not included: {why}")
    return captures, warnings


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fo:
        while chunk := fo.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_COPY_CHUNK = 1 << 20


class _Hashing:
    """A writable file that hashes what passes through it."""

    def __init__(self, fo: IO[bytes], digest: Any) -> None:
        self._fo, self._digest = fo, digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._fo.write(data)


class _ZipOut:
    """The bundle's zip, written file by file as each is made (a large run's rows never
    sit in memory whole), with every file's SHA-256 taken on the way for SHA256SUMS."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.sums: dict[str, str] = {}

    @contextmanager
    def stream(self, name: str) -> Iterator[_Hashing]:
        info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = PRIVATE_MODE << 16  # unzipped, the files stay private too
        digest = hashlib.sha256()
        with self.zf.open(info, "w", force_zip64=True) as fo:
            yield _Hashing(fo, digest)
        self.sums[name] = digest.hexdigest()

    def put(self, name: str, data: bytes) -> None:
        with self.stream(name) as fo:
            fo.write(data)

    def lines(self, name: str, rows: Iterable[Any]) -> int:
        """Write `rows` as a JSON-lines file (as `jsonl` spells them); returns how many."""
        count = 0
        with self.stream(name) as fo:
            for row in rows:
                fo.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
                count += 1
        return count


def export_bundle(
    engine: Engine, run_id: int, out: str, *, redact: bool = False,
    sign_key: Ed25519PrivateKey | None = None, progress: Callable[[str], None] | None = None,
) -> Exported:
    """Write the run's bundle to `out`. A run whose chain does not verify is refused:
    evidence that was altered is not passed on as evidence."""
    step = progress or (lambda _msg: None)
    step("checking the run's hash chain")
    checked = verify_run(engine, run_id)
    if not checked.ok:
        raise BundleError(f"run {run_id} does not verify, so it is not exported: "
                          f"{checked.problem}")
    with private_file(out) as fo, zipfile.ZipFile(fo, "w", zipfile.ZIP_DEFLATED) as zf:
        return _write_bundle(engine, run_id, _ZipOut(zf), redact, sign_key, step)


def _write_bundle(engine: Engine, run_id: int, out: _ZipOut, redact: bool,
                  sign_key: Ed25519PrivateKey | None, step: Callable[[str], None]
                  ) -> Exported:
    run = run_record(engine, run_id)
    chain_format = run["chain_format"] or ROWS_ONLY_FORMAT
    head, length = run["chain_head"], run["chain_length"] or 0
    step("rows")
    entries, state = _run_entries(engine, run, length)
    hidden = redacted_columns(chain_format) if redact else {}
    out.put(RUN_ENTRIES_FILE, jsonl(entries))

    def portable_rows(name: str) -> Iterator[dict[str, Any]]:
        return (portable_row(name, r) for r in iter_chained_rows(engine, name, run_id, length))

    counts = {}
    for name in ROW_TABLES:
        redact_here = hidden.get(name, frozenset())
        rows = portable_rows(name)
        counts[name] = out.lines(row_file(name), (redact_row(r, redact_here) for r in rows)
                                 if redact_here else rows)
    if not redact:
        step("flows")
        with out.stream("flows.mitm") as flows:
            writer = FlowWriter(flows)
            for row in iter_request_rows(engine, run_id, below=length):
                writer.add(_flow_from_row(row))
    step("report")
    exported_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    run_columns = {**state, "chain_head": head, "chain_length": length,
                   "chain_format": chain_format}
    # Made from the rows as the bundle holds them (read again, not kept from above), as
    # verify will make it again from the bundle.
    with rebuilt_run(run_id, run_columns, {name: portable_rows(name) for name in ROW_TABLES},
                     {}, exported_at) as (built, scratch):
        out.lines("events.jsonl", iter_events(scratch, run_id))
        out.lines("findings.jsonl", iter_findings(scratch, run_id))
    for name, data in {**report_files(built), **policy_files(state)}.items():
        out.put(name, data)
    captures, warnings = _enclose_captures(state, out, redact)
    facts = manifest_facts(run_id, state, built.report, head, length, chain_format, counts)
    manifest: dict[str, Any] = {
        "bundle_format": BUNDLE_FORMAT,
        "warning": REDACTED_NOTE if redact else PERSONAL_DATA_WARNING,
        "redacted": redact,
        "redacted_columns": {k: sorted(v) for k, v in hidden.items() if v},
        **facts,
        "tool": {**facts["tool"], "decoders": DECODER_VERSIONS},
        "captures": captures,
        "exported": {
            "at": exported_at,
            "by": {"diagscope": __version__, "mitmproxy": mitmproxy_version(),
                   "python": sys.version.split()[0]},
            "host": f"{socket.gethostname()} ({platform.system()} {platform.release()})",
        },
    }
    if sign_key is not None:
        manifest["signature"] = {"algorithm": ALGORITHM, "file": SIGNATURE_FILE,
                                 "public_key": fingerprint(sign_key.public_key())}
    step("writing")
    out.put("manifest.json",
            (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    sums = "".join(f"{digest}  {name}\n" for name, digest in sorted(out.sums.items()))
    out.put(SUMS_FILE, sums.encode())
    if sign_key is not None:
        out.put(SIGNATURE_FILE, sign(sums.encode(), sign_key))
    return Exported(manifest, warnings)
