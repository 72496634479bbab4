"""Verify an evidence bundle: not only that its files match SHA256SUMS, but that what they
say follows from the run's hash chain.

In order: the signature (with a trusted key), every hash in SHA256SUMS, the chain in
`rows/` recomputed entry by entry to the manifest's head and length, the manifest, policy
files and enclosed captures against what the chain recorded, the report and the events and
findings exports rebuilt from the rows and compared byte for byte, and, in a bundle with
raw telemetry, every finding re-derived from `flows.mitm` with the enclosed policy.

What no check of a bundle alone can catch is a bundle rewritten as a whole, chain and all:
a signature (`--trusted-key`) or a chain head recorded elsewhere (`--expect-head`) can.
"""

from __future__ import annotations

import heapq
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from diagscope import __version__
from diagscope.pii.canary import CanarySet
from diagscope.report.build import BuiltReport
from diagscope.report.bundle import (
    BUNDLE_FORMAT,
    POLICY_FILE,
    REDACTED_NOTE,
    RESOLVED_POLICY_FILE,
    RUN_ENTRIES_FILE,
    SUMS_FILE,
    BundleError,
    first_difference,
    iter_jsonl,
    manifest_facts,
    member_sha256,
    policy_files,
    read_jsonl,
    row_file,
    sha256_hex,
)
from diagscope.report.model import EnvelopeIdentifier
from diagscope.report.rebuild import rebuilt_run, report_files
from diagscope.signing import (
    SIGNATURE_FILE,
    KeyFileError,
    fingerprint,
    load_public_key,
    signature_is_valid,
)
from diagscope.store.chain import ROWS_ONLY_FORMAT, entry_digest
from diagscope.store.entries import UNCHAINED
from diagscope.store.portable import ROW_TABLES, portable_digest, redacted_columns
from diagscope.store.queries import iter_events, iter_findings
from diagscope.store.verify import OLDER_FORMAT_NOTE, ChainItem, ChainReport, check_chain

WHOLE_REWRITE_NOTE = (
    "no --trusted-key or --expect-head was given: these checks show the bundle is "
    "consistent, not that it is the one exported. A bundle rewritten as a whole cannot be "
    "told from the original (anyone can recompute rows, chain, report and hashes alike); a "
    "signature checked with --trusted-key, or the chain head recorded in the test log "
    "checked with --expect-head, is what prevents that."
)


@dataclass
class BundleCheck:
    ok: bool
    checked_files: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    redacted: bool = False
    chain_length: int = 0
    chain_head: str | None = None
    signed_by: str | None = None  # the trusted key's fingerprint, when its signature holds
    reproduced: bool = False  # findings re-derived from the raw telemetry


def _names(zf: zipfile.ZipFile) -> set[str]:
    # Directory entries carry no data; `zip -r` adds them when a bundle is re-zipped.
    return {name for name in zf.namelist() if not name.endswith("/")}


def _listed(sums: bytes) -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in sums.decode("utf-8").splitlines():
        digest, sep, name = line.partition("  ")
        if not sep:  # sha256sum's binary mode marks names with `*`
            digest, sep, name = line.partition(" *")
        if sep:
            listed[name] = digest
    return listed


def _check_signature(zf: zipfile.ZipFile, names: set[str], sums: bytes,
                     trusted_key: str | None, check: BundleCheck) -> None:
    if trusted_key is None:
        if SIGNATURE_FILE in names:
            check.notes.append(f"the bundle is signed ({SIGNATURE_FILE}); pass the signer's "
                               "public key with --trusted-key to check the signature")
        return
    try:
        key = load_public_key(trusted_key)
    except KeyFileError as exc:
        raise BundleError(str(exc)) from None
    trusted = fingerprint(key)
    if SIGNATURE_FILE not in names:
        check.problems.append(f"the bundle is not signed (no {SIGNATURE_FILE}), but a trusted "
                              "key was given")
    elif not signature_is_valid(sums, zf.read(SIGNATURE_FILE), key):
        claimed = _claimed_signer(zf)
        check.problems.append(f"{SIGNATURE_FILE} is not a signature of {SUMS_FILE} by the "
                              f"trusted key {trusted}"
                              + (f" (manifest.json names {claimed})"
                                 if claimed and claimed != trusted else ""))
    else:
        check.signed_by = trusted


def _claimed_signer(zf: zipfile.ZipFile) -> str | None:
    """The signing key the manifest names, if it can be read: said, not trusted."""
    try:
        signer = json.loads(zf.read("manifest.json"))["signature"]["public_key"]
    except (KeyError, TypeError, ValueError):
        return None
    return signer if isinstance(signer, str) else None


def _check_sums(zf: zipfile.ZipFile, names: set[str], listed: dict[str, str],
                check: BundleCheck) -> None:
    for name, digest in sorted(listed.items()):
        if name not in names:
            check.problems.append(f"{name} is listed in {SUMS_FILE} but missing")
        elif member_sha256(zf, name) != digest:
            check.problems.append(f"{name} was modified: its SHA-256 does not match")
        else:
            check.checked_files += 1
    for extra in sorted(names - set(listed) - {SUMS_FILE, SIGNATURE_FILE}):
        check.problems.append(f"{extra} is not listed in {SUMS_FILE} (added later?)")


class _Malformed(Exception):
    pass


class _OutOfOrder(Exception):
    pass


@dataclass(slots=True)
class _Chain:
    """The chain a bundle carries, read and recomputed."""

    zf: zipfile.ZipFile
    state: dict[str, Any]
    counts: dict[str, int]
    #: The rows sorted in memory, for a bundle whose row files are out of chain order
    #: (diagscope writes them in order, and then they are read as streams).
    sorted_rows: dict[str, list[dict[str, Any]]] | None = None

    def rows(self, name: str) -> Iterable[dict[str, Any]]:
        """A table's rows in chain order, read again from the bundle."""
        if self.sorted_rows is not None:
            return self.sorted_rows[name]
        return iter_jsonl(self.zf, row_file(name))


def _in_chain_order(rows: Iterable[Any]) -> Iterator[Any]:
    """The rows as they come, as long as their chain positions ascend."""
    last = None
    for row in rows:
        if isinstance(row, dict):
            position = row.get("chain_seq", -1)
            if last is not None and position < last:
                raise _OutOfOrder
            last = position
        yield row


def _ascending(rows: Iterable[Any]) -> bool:
    try:
        for _ in _in_chain_order(rows):
            pass
    except _OutOfOrder:
        return False
    return True


def _row_items(name: str, rows: Iterable[dict[str, Any]], chain_format: int,
               redacted: frozenset[str]) -> Iterator[ChainItem]:
    for number, row in enumerate(rows, 1):
        try:
            position = int(row["chain_seq"])
            label = (f"{name} row at chain position {position} (flow {row.get('flow_id')}, "
                     f"{row_file(name)} line {number})")
            yield ChainItem(name, position, row.get("seq") if name == "requests" else None,
                            str(row["chain_hash"]),
                            portable_digest(row, chain_format, redacted), label)
        except (KeyError, TypeError, ValueError) as exc:
            raise _Malformed(f"{row_file(name)} line {number} is malformed: {exc!r}") from None


def _entry_items(entries: list[dict[str, Any]]) -> Iterator[ChainItem]:
    for number, entry in enumerate(entries, 1):
        try:
            content_text = entry["content"]
            content = json.loads(content_text)
            position = int(entry["chain_seq"])
            yield ChainItem(str(entry["kind"]), position, None, str(entry["chain_hash"]),
                            entry_digest(content_text),
                            f"{entry['kind']} entry at chain position {position} "
                            f"({RUN_ENTRIES_FILE} line {number})",
                            content if isinstance(content, dict) else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise _Malformed(f"{RUN_ENTRIES_FILE} line {number} is malformed: {exc!r}") \
                from None


def _read_chain(zf: zipfile.ZipFile, manifest: dict[str, Any], redacted: bool,
                check: BundleCheck) -> _Chain | None:
    run = manifest["run"]
    run_id, head, length = int(run["id"]), run["chain_head"], int(run["chain_length"])
    chain_format = int(run["chain_format"])
    hidden = redacted_columns(chain_format) if redacted else {}
    entries = read_jsonl(zf, RUN_ENTRIES_FILE)
    unchained = [e for e in entries if e.get("kind") == UNCHAINED]
    chained = sorted((e for e in entries if e.get("kind") != UNCHAINED),
                     key=lambda e: e.get("chain_seq", -1))

    def walk(rows: dict[str, Iterable[dict[str, Any]]]) -> ChainReport:
        items = heapq.merge(
            _entry_items(chained),
            *(_row_items(name, rows[name], chain_format, hidden.get(name, frozenset()))
              for name in ROW_TABLES),
            key=lambda item: item.chain_seq)
        return check_chain(run_id, items, head, length, chain_format)

    chain = _Chain(zf, {}, {})
    try:
        report = walk({name: _in_chain_order(iter_jsonl(zf, row_file(name)))
                       for name in ROW_TABLES})
        # A walk stops at the first broken link, which rows further down, out of order,
        # may have caused: then it is walked again in order.
        if not report.ok and not all(_ascending(iter_jsonl(zf, row_file(name)))
                                     for name in ROW_TABLES):
            raise _OutOfOrder
    except _OutOfOrder:
        chain.sorted_rows = {name: sorted(read_jsonl(zf, row_file(name)),
                                          key=lambda r: r.get("chain_seq", -1))
                             for name in ROW_TABLES}
        report = walk(dict(chain.sorted_rows))
    if not report.ok:
        check.problems.append(
            f"the chain in rows/ does not verify: {report.problem}"
            + (" (or manifest.json's chain head or length was altered)" if report.at_end
               else ""))
        return None
    check.chain_length, check.chain_head = report.rows, report.head
    state = report.state
    if chain_format == ROWS_ONLY_FORMAT:
        check.notes.append(f"{OLDER_FORMAT_NOTE}: the run's label, policy, scenario, settings "
                           "and status in this bundle are not covered by its hash chain")
        state = json.loads(unchained[0]["content"]) if unchained else {}
    chain.state, chain.counts = state, report.counts
    return chain


def verify_bundle(path: str, canaries: list[tuple[str, str]] | None = None, *,
                  trusted_key: str | None = None, expect_head: str | None = None
                  ) -> BundleCheck:
    """Check the bundle at `path`; BundleError when it is no bundle or an input is wrong
    (a key file, a canary that is not the run's)."""
    check = BundleCheck(ok=False)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path} is not a readable zip file: {exc}") from None
    with zf:
        names = _names(zf)
        if SUMS_FILE not in names:
            raise BundleError(f"{path} has no {SUMS_FILE}; it is not a diagscope bundle")
        sums = zf.read(SUMS_FILE)
        _check_signature(zf, names, sums, trusted_key, check)
        _check_sums(zf, names, _listed(sums), check)
        if check.problems:
            return check
        try:
            _check_contents(zf, names, canaries or [], expect_head, check)
        except _Malformed as exc:
            check.problems.append(str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            check.problems.append(f"the bundle is malformed: {exc!r}")
    if check.signed_by is None and expect_head is None:
        check.notes.append(WHOLE_REWRITE_NOTE)
    check.ok = not check.problems
    return check


def _check_contents(zf: zipfile.ZipFile, names: set[str], canaries: list[tuple[str, str]],
                    expect_head: str | None, check: BundleCheck) -> None:
    manifest = json.loads(zf.read("manifest.json"))
    if manifest.get("bundle_format") != BUNDLE_FORMAT:
        check.problems.append(
            f"bundle format {manifest.get('bundle_format')!r} cannot be verified by this "
            f"version (it checks format {BUNDLE_FORMAT}): export the run again")
        return
    redacted = bool(manifest.get("redacted"))
    check.redacted = redacted
    if redacted:
        check.notes.append(REDACTED_NOTE)
    chain = _read_chain(zf, manifest, redacted, check)
    if chain is None:
        return
    if expect_head is not None and expect_head.lower() != check.chain_head:
        check.problems.append(f"the chain head is {check.chain_head}, not the expected "
                              f"{expect_head}")
    given = _given_canaries(chain.state, canaries, check)
    run = manifest["run"]
    run_id, chain_format = int(run["id"]), int(run["chain_format"])
    run_columns = {**chain.state, "chain_head": check.chain_head,
                   "chain_length": check.chain_length, "chain_format": chain_format}
    hidden = redacted_columns(chain_format) if redacted else {}
    rows = {name: chain.rows(name) for name in ROW_TABLES}
    with rebuilt_run(run_id, run_columns, rows, hidden, manifest["exported"]["at"]
                     ) as (built, scratch):
        if redacted:
            _keep_enclosed_inventory(zf, built, check)
        facts = manifest_facts(run_id, chain.state, built.report, check.chain_head,
                               check.chain_length, chain_format, chain.counts)
        _compare_manifest(manifest, facts, check)
        _compare_policy(zf, chain.state, check)
        _compare_captures(zf, names, manifest, chain.state, check)
        what = "the report rebuilt from the enclosed rows"
        exported_by = ((manifest.get("exported") or {}).get("by") or {}).get("diagscope")
        if exported_by != __version__:
            # Rendering is compared byte for byte, so it must be the exporting version's.
            what += (f" (the bundle was exported by diagscope {exported_by}, this is "
                     f"{__version__}: verify it with diagscope {exported_by})")
        for name, data in report_files(built).items():
            _compare_file(zf, name, data, what, check)
        for name, again in (("events.jsonl", iter_events(scratch, run_id)),
                            ("findings.jsonl", iter_findings(scratch, run_id))):
            _compare_rows(name, iter_jsonl(zf, name), again, "the enclosed rows give", check)
    if check.problems or redacted:
        return
    _compare_flows(zf, chain.rows("requests"), check)
    if check.problems:
        return
    from diagscope.report.rederive import rederive

    check.problems.extend(rederive(zf, chain.state, given, check.notes))
    check.reproduced = not check.problems


def _given_canaries(state: dict[str, Any], given: list[tuple[str, str]], check: BundleCheck
                    ) -> list[tuple[str, str]]:
    """The canaries given that are the run's; a BundleError names one that is not. Notes
    name the run's canaries not given: their findings cannot be re-derived."""
    stored = state.get("canaries") or {}
    expected = {c["label"]: c["salted_sha256"] for c in stored.get("canaries", [])}
    for label, value in given:
        salted = _salted(stored.get("salt"), label, value)
        if label not in expected:
            known = ", ".join(sorted(expected)) or "none"
            raise BundleError(f"canary {label!r} is not one of the run's canaries ({known})")
        if salted != expected[label]:
            raise BundleError(f"canary {label!r} does not match the run's salted hash: that "
                              "is not the value planted")
    missing = sorted(set(expected) - {label for label, _ in given})
    if missing:
        check.notes.append(f"canaries not given: {', '.join(missing)}; their findings were "
                           "not re-derived (pass them with --canary LABEL=VALUE to check them "
                           "too)")
    return given


def _salted(salt: str | None, label: str, value: str) -> str | None:
    try:
        return CanarySet([(label, value)], salt=salt).records[0].salted_sha256
    except ValueError:  # too short to be a canary at all
        return None


def _keep_enclosed_inventory(zf: zipfile.ZipFile, built: BuiltReport, check: BundleCheck
                             ) -> None:
    # The envelope identifiers are counted from the event JSON, which a redacted bundle
    # does not hold: the enclosed counts are taken as they are, and said so.
    enclosed = json.loads(zf.read("report.json")).get("envelope_identifiers") or []
    built.report.envelope_identifiers = [EnvelopeIdentifier.model_validate(e)
                                                 for e in enclosed]
    if enclosed:
        check.notes.append("the report's envelope identifier counts come from event JSON a "
                           "redacted bundle does not hold: they were not rebuilt")


def _first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{where} is missing"
            if key not in expected:
                return f"{where} is not expected"
            found = _first_difference(expected[key], actual[key], where)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path} has {len(actual)} items, not {len(expected)}"
        for i, (a, b) in enumerate(zip(expected, actual, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected != actual:
        return f"{path} is {json.dumps(actual)[:200]}, the rows give {json.dumps(expected)[:200]}"
    return None


def _compare_manifest(manifest: dict[str, Any], facts: dict[str, Any], check: BundleCheck
                      ) -> None:
    stated = {key: manifest.get(key) for key in facts}
    # Provenance the rows cannot confirm: which decoders exported it, which captures it
    # encloses (each of those is checked against its stored hash).
    stated["tool"] = {k: v for k, v in (stated["tool"] or {}).items() if k != "decoders"}
    stated["captures"] = [{k: v for k, v in c.items() if k != "included"}
                          for c in stated["captures"] or []]
    found = _first_difference(facts, stated)
    if found:
        check.problems.append(f"manifest.json does not match the enclosed rows: {found}")


def _compare_policy(zf: zipfile.ZipFile, state: dict[str, Any], check: BundleCheck) -> None:
    expected = policy_files(state)
    enclosed = zf.read(POLICY_FILE)
    if enclosed != expected[POLICY_FILE]:
        check.problems.append(
            f"{POLICY_FILE} is not the policy the run recorded (SHA-256 "
            f"{sha256_hex(enclosed)}, the run's header has "
            f"{sha256_hex(expected[POLICY_FILE])}; policy sha256 {state.get('policy_sha256')})")
    if json.loads(zf.read(RESOLVED_POLICY_FILE)) != state.get("policy_resolved"):
        check.problems.append(f"{RESOLVED_POLICY_FILE} is not the resolved policy the run "
                              "recorded")


def _compare_captures(zf: zipfile.ZipFile, names: set[str], manifest: dict[str, Any],
                      state: dict[str, Any], check: BundleCheck) -> None:
    stored = state.get("captures") or []
    enclosed = {n for n in names if n.startswith("captures/")}
    named = set()
    for index, capture in enumerate(manifest.get("captures") or []):
        name = capture.get("included")
        if not name:
            continue
        named.add(name)
        if index >= len(stored) or name not in names:
            check.problems.append(f"{name} is named in manifest.json but not enclosed")
        elif member_sha256(zf, name) != stored[index]["sha256"]:
            check.problems.append(f"{name} does not match the SHA-256 the run stored for "
                                  f"capture {stored[index]['path']}")
    for extra in sorted(enclosed - named):
        check.problems.append(f"{extra} is enclosed but is none of the run's captures")


def _compare_file(zf: zipfile.ZipFile, name: str, expected: bytes, what: str,
                  check: BundleCheck) -> None:
    enclosed = zf.read(name)
    if enclosed == expected:
        return
    ours, theirs = expected.decode("utf-8").splitlines(), enclosed.decode("utf-8").splitlines()
    line = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
                min(len(ours), len(theirs)))
    shown = theirs[line].strip()[:160] if line < len(theirs) else "(end of file)"
    check.problems.append(f"{name} does not match {what}: first difference at line "
                          f"{line + 1}: {shown}")


def _compare_rows(name: str, enclosed: Iterable[dict[str, Any]],
                  expected: Iterable[dict[str, Any]], what: str, check: BundleCheck) -> None:
    found = first_difference(enclosed, expected)
    if found is None:
        return
    check.problems.append(
        f"{name} does not reproduce: {found.left} enclosed, {found.right} rows as {what};"
        f" first difference at row {found.index + 1}"
        + (f": enclosed {json.dumps(found.left_row)[:300]}" if found.index < found.left
           else ""))


def _compare_flows(zf: zipfile.ZipFile, requests: Iterable[dict[str, Any]],
                   check: BundleCheck) -> None:
    """flows.mitm must hold exactly the chained requests, each with the body it hashed."""
    from mitmproxy import http
    from mitmproxy.io import FlowReader

    expected = {r["flow_id"]: r["body_sha256"] for r in requests}
    seen: set[str] = set()
    with zf.open("flows.mitm") as fo:
        for flow in FlowReader(cast(BinaryIO, fo)).stream():
            if not isinstance(flow, http.HTTPFlow):
                continue
            if flow.id not in expected:
                check.problems.append(f"flows.mitm holds flow {flow.id}, which the chain "
                                      "does not")
            elif sha256_hex(flow.request.raw_content or b"") != expected[flow.id]:
                check.problems.append(f"flows.mitm: the body of flow {flow.id} is not the one "
                                      "the chain recorded (body_sha256)")
            seen.add(flow.id)
    missing = sorted(set(expected) - seen)
    if missing:
        check.problems.append(f"flows.mitm lacks {len(missing)} chained requests (first: "
                              f"{missing[0]})")
