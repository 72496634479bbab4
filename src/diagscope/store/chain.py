"""A hash chain over everything a run stores, so any later edit can be detected.

Rows of a run (requests, events, findings) form one sequence, in the order they were
written: each request, then its events, then its findings. Each row carries
`chain_seq` (its position) and `chain_hash` = SHA-256 over the previous row's hash, the
table, the run, the row's position (and a request's order in the run) and the SHA-256 of
the row's canonical JSON (`jsoncodec.canonical`). The run records the head (last hash) and
the length, so deleting the newest rows is caught as well as editing, moving or inserting
any row.

The content digest does not depend on the run, so it can be computed before the row is
numbered (in a worker process); linking is one small hash per row.
"""

from __future__ import annotations

import hashlib
from typing import Any

from diagscope.store.jsoncodec import canonical

GENESIS = "0" * 64

#: Columns outside a row's content digest: generated keys, the chain itself, and the
#: numbering (which `link` covers); a request's raw body is covered by its body_sha256.
EXCLUDED = frozenset({"id", "chain_hash", "chain_seq", "run_id", "seq", "body"})

#: Long text columns enter the canonical JSON as their own SHA-256: hashing is cheaper than
#: escaping them into JSON, and the digest covers them just the same.
DIGESTED = frozenset({"cs", "marks", "clause"})


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
ADDED_LATER = frozenset({"product_reason"})


def content_digest(row: dict[str, Any]) -> str:
    """SHA-256 of the row's canonical JSON: sorted keys, no whitespace, UTC times."""
    content = row.copy()
    for key in EXCLUDED:
        content.pop(key, None)
    for key in ADDED_LATER:
        if content.get(key) is None:
            content.pop(key, None)
    for key in DIGESTED:
        value = content.get(key)
        if value:
            content[key] = _text_digest(value, key != "cs")
    return hashlib.sha256(canonical(content)).hexdigest()


def link(previous: str, table: str, run_id: int, chain_seq: int, seq: int | None,
         digest: str) -> str:
    data = f"{previous}|{table}|{run_id}|{chain_seq}|{'' if seq is None else seq}|{digest}"
    return hashlib.sha256(data.encode("ascii")).hexdigest()
