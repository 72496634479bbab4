"""A hash chain over everything a run stores, so any later edit can be detected.

A run's chain is one sequence, in the order things were written: the run header (what the
run was started with: label, policy, scenario, canaries, settings, tools, command,
captures), each request, then its events, then its findings, any collected settings
attached later, and the closing entry (status, end time, counts, captures as finally
read). Each entry carries `chain_seq` (its position) and `chain_hash` = SHA-256 over the
previous entry's hash, the table (or entry kind), the run, the position (and a request's
order in the run) and the SHA-256 of the entry's content. The run records the head (last
hash) and the length, so deleting the newest entries is caught as well as editing, moving
or inserting any.

The content digest of a row does not depend on the run, so it can be computed before the
row is numbered (in a worker process); linking is one small hash per row.

Chain formats (`runs.chain_format`):

1. rows only: runs stored before run metadata entered the chain. Their label, policy,
   scenario, settings and status are not covered; `verify` says so instead of failing.
2. the run header, settings and closing entries are chained too (`entries.py`), and a
   request's headers enter its digest as their SHA-256, so a redacted bundle can leave
   them out and the chain still recomputes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from diagscope.store.jsoncodec import canonical

GENESIS = "0" * 64

#: Runs stored before run metadata was chained.
ROWS_ONLY_FORMAT = 1
#: What every new run is written in.
CURRENT_FORMAT = 2

#: Columns outside a row's content digest: generated keys, the chain itself, and the
#: numbering (which `link` covers); a request's raw body is covered by its body_sha256.
EXCLUDED = frozenset({"id", "chain_hash", "chain_seq", "run_id", "seq", "body"})

#: Long text columns enter the canonical JSON as their own SHA-256: hashing is cheaper than
#: escaping them into JSON, and the digest covers them just the same.
DIGESTED = frozenset({"cs", "marks", "clause"})

#: From chain format 2, a request's headers enter as the SHA-256 of their canonical JSON:
#: they can carry sign-in tickets, which a redacted bundle must be able to leave out.
DIGESTED_FROM_FORMAT_2 = frozenset({"headers"})

#: What a redacted bundle replaces by the SHA-256 the digest already uses: the columns that
#: can hold personal data (per table, per chain format).
REDACTED = {
    ROWS_ONLY_FORMAT: {"events": frozenset({"cs", "marks"})},
    CURRENT_FORMAT: {"events": frozenset({"cs", "marks"}),
                     "requests": DIGESTED_FROM_FORMAT_2},
}

#: Clause texts and empty marks repeat on nearly every row; their digests are remembered,
#: bounded in number and length (event JSON is different every time and is never kept).
_TEXT_DIGESTS: dict[str, str] = {}
_TEXT_DIGESTS_LIMIT = 4_096
_REMEMBERED_LENGTH = 2_048


def _text_digest(value: str, remember: bool) -> str:
    remember = remember and len(value) <= _REMEMBERED_LENGTH
    digest = _TEXT_DIGESTS.get(value) if remember else None
    if digest is None:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
        if remember:
            if len(_TEXT_DIGESTS) >= _TEXT_DIGESTS_LIMIT:
                _TEXT_DIGESTS.clear()
            _TEXT_DIGESTS[value] = digest
    return digest


#: Columns added after rows were first chained: they enter the digest only when set, so
#: rows stored before a column existed (NULL in it) still verify.
ADDED_LATER = frozenset({"product_reason", "step"})


_DIGESTED_IN = {ROWS_ONLY_FORMAT: DIGESTED, CURRENT_FORMAT: DIGESTED | DIGESTED_FROM_FORMAT_2}


def digested_columns(chain_format: int) -> frozenset[str]:
    return _DIGESTED_IN[CURRENT_FORMAT if chain_format >= CURRENT_FORMAT else ROWS_ONLY_FORMAT]


def column_digest(value: Any) -> str:
    """What a digested column enters the content as: the SHA-256 of its text (or, for a
    structured value such as headers, of its canonical JSON)."""
    if isinstance(value, str):
        return _text_digest(value, remember=False)
    return hashlib.sha256(canonical(value)).hexdigest()


def content_digest(row: dict[str, Any], *, chain_format: int = CURRENT_FORMAT,
                   predigested: frozenset[str] = frozenset()) -> str:
    """SHA-256 of the row's canonical JSON: sorted keys, no whitespace, UTC times.

    `predigested` names columns that already hold their digest (a redacted bundle's rows):
    they enter as they are."""
    return hashlib.sha256(content_bytes(row, chain_format=chain_format,
                                        predigested=predigested)).hexdigest()


def content_bytes(row: dict[str, Any], *, chain_format: int = CURRENT_FORMAT,
                  predigested: frozenset[str] = frozenset()) -> bytes:
    """The canonical JSON that `content_digest` hashes."""
    digested = digested_columns(chain_format)
    content = {}
    # One pass over the row: this runs for every row a run stores.
    for key, value in row.items():
        if key in EXCLUDED or (value is None and key in ADDED_LATER):
            continue
        if value and key in digested and key not in predigested:
            value = (_text_digest(value, key != "cs") if isinstance(value, str)
                     else column_digest(value))
        content[key] = value
    return canonical(content)


def entry_digest(content: str) -> str:
    """The digest of a run entry (header, settings, close): its canonical JSON text as
    stored, hashed as it is."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def link(previous: str, table: str, run_id: int, chain_seq: int, seq: int | None,
         digest: str) -> str:
    data = f"{previous}|{table}|{run_id}|{chain_seq}|{'' if seq is None else seq}|{digest}"
    return hashlib.sha256(data.encode("ascii")).hexdigest()
