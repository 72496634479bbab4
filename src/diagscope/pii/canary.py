"""Canaries: values a tester planted, searched for in every encoding a client might use.

A canary is found in plain text, case-folded, URL-encoded, base64 (standard and URL-safe),
UTF-16 (as text and as hex), hex, and as MD5/SHA-1/SHA-256 digests of the value and of its
lower-cased form (the e-mail hashing seen in tracking studies). All forms of all canaries
are compiled into one expression, so each value is searched once.

Canary values are test personal data: only labels and salted hashes leave this object.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus


@dataclass(slots=True, frozen=True)
class CanaryHit:
    label: str
    encoding: str


@dataclass(slots=True, frozen=True)
class CanaryRecord:
    """What may be stored about a canary: its label and a salted hash of its value."""

    label: str
    salted_sha256: str


def _forms(value: str) -> list[tuple[str, str]]:
    raw = value.encode("utf-8")
    lower = value.lower()
    forms = [
        (value, "plain text"),
        (value.casefold(), "case-folded text"),
        (quote(value, safe=""), "URL-encoded"),
        (quote_plus(value, safe=""), "URL-encoded (form)"),
        (base64.b64encode(raw).decode().rstrip("="), "base64"),
        (base64.urlsafe_b64encode(raw).decode().rstrip("="), "URL-safe base64"),
        (base64.b64encode(lower.encode()).decode().rstrip("="), "base64 of lower-cased value"),
        (value.encode("utf-16-le").decode("latin-1"), "UTF-16 text"),
        (value.encode("utf-16-le").hex(), "UTF-16 hex"),
        (raw.hex(), "hex"),
    ]
    for name in ("md5", "sha1", "sha256"):
        forms.append((hashlib.new(name, raw).hexdigest(), f"{name} of the value"))
        forms.append((hashlib.new(name, lower.encode()).hexdigest(),
                      f"{name} of the lower-cased value"))
    return forms


class CanarySet:
    def __init__(self, canaries: Iterable[tuple[str, str]], salt: str | None = None) -> None:
        """`canaries` are (label, value) pairs; values shorter than 4 characters are refused,
        because they would match everywhere."""
        self.salt = salt or secrets.token_hex(16)
        self._by_form: dict[str, tuple[str, str]] = {}
        records = []
        for label, value in canaries:
            if len(value) < 4:
                raise ValueError(f"canary {label!r} is too short to search for (min. 4)")
            records.append(CanaryRecord(label, self._salted(value)))
            for form, encoding in _forms(value):
                self._by_form.setdefault(form.casefold(), (label, encoding))
        self.records = tuple(records)
        alternatives = sorted(self._by_form, key=len, reverse=True)
        self._pattern = (re.compile("|".join(re.escape(a) for a in alternatives), re.IGNORECASE)
                         if alternatives else None)

    def __repr__(self) -> str:
        return f"CanarySet({[r.label for r in self.records]})"

    def __bool__(self) -> bool:
        return bool(self.records)

    def _salted(self, value: str) -> str:
        return hashlib.sha256((self.salt + value).encode("utf-8")).hexdigest()

    def matches(self, value: str) -> bool:
        """Whether `value` is one of the canaries (checked against the salted hashes)."""
        salted = self._salted(value)
        return any(r.salted_sha256 == salted for r in self.records)

    def find(self, text: str) -> list[CanaryHit]:
        if self._pattern is None:
            return []
        hits = []
        seen = set()
        for match in self._pattern.finditer(text):
            label, encoding = self._by_form[match.group(0).casefold()]
            if (label, encoding) not in seen:
                seen.add((label, encoding))
                hits.append(CanaryHit(label, encoding))
        return hits


def parse_canary(text: str, number: int) -> tuple[str, str]:
    """`label=value`, or a bare value that gets a numbered label."""
    label, sep, value = text.partition("=")
    if not sep or not label.strip():
        return f"canary-{number}", text.strip()
    return label.strip(), value.strip()


def canary_set(texts: Iterable[str], files: Iterable[str | Path] = ()) -> CanarySet | None:
    """The canaries given on a command line and in canary files, or None when there are none."""
    pairs = [parse_canary(t, i) for i, t in enumerate(texts, 1)]
    for path in files:
        pairs.extend(read_canary_file(path))
    return CanarySet(pairs) if pairs else None


def read_canary_file(path: str | Path) -> list[tuple[str, str]]:
    """One canary per line, optionally `label=value`; `#` starts a comment line."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        out.append(parse_canary(text, number))
    return out
