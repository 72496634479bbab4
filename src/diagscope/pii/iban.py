"""`iban`: bank account numbers with a valid IBAN checksum.

An IBAN starts a word with a country code and two check digits (`NL91`, or `NO 02` as some
national print formats put it) and goes on in groups of letters and digits split by single
spaces, dashes or dots. Each group boundary is a candidate end, longest first, so a word
written right after the number (`… 1332 EUR`) does not hide it. A candidate counts when it has
its country's IBAN length, one letter case throughout and passes python-stdnum's checksum,
structure and national checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from stdnum import iban, numdb
from stdnum.exceptions import InvalidComponent, ValidationError

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register

# Country code and check digits, then up to 30 more letters and digits (the longest IBAN
# has 34 characters in all), one separator at most between any two of them. The space
# between country code and check digits is only taken in capitals: `no 12` is a word.
_IBAN_SHAPE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Z]{2} ?|[a-z]{2})\d{2}(?:[ .-]?[A-Za-z0-9]){11,30}"
)
# The start of an account number glued together (`RS35 2600…`) or with the check digits as
# a group of their own (`NO 02 1503…`); `NL 4111 1111…` is a country and a card number.
_GLUED_START = re.compile(r"[A-Za-z]{2}\d{2}|[A-Z]{2} \d{2}[ .-]")
_SEPARATORS = " .-"
_BBAN_PART = re.compile(r"(\d+)!?[nac]")


@lru_cache(maxsize=512)
def iban_length(country: str) -> int | None:
    """How many characters an IBAN of this country has, from the IBAN registry."""
    info = numdb.get("iban").info(country.upper())
    structure = info[0][1].get("bban") if info else None
    if not structure:
        return None
    return 4 + sum(int(n) for n in _BBAN_PART.findall(structure))


def is_iban(candidate: str) -> bool:
    """Checksum, structure and national rules, as python-stdnum checks them.

    stdnum's Belgian rule also looks the bank code up in its list of banks and rejects a
    code it does not know (the registry's own example `BE68 5390 0754 7034` among them);
    an account at a bank missing from that list is still someone's account, so a number
    that only fails that look-up is kept.
    """
    try:
        iban.validate(candidate)
    except InvalidComponent:
        return iban.is_valid(candidate, check_country=False)
    except ValidationError:
        return False
    return True


def _ends(text: str, start: int, end: int) -> Iterator[int]:
    """Candidate ends within text[start:end], longest first: group boundaries only."""
    if end == len(text) or not text[end].isalnum():
        yield end
    for i in range(end - 1, start, -1):
        if text[i] in _SEPARATORS:
            yield i


def _compact(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def find_ibans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, compact IBAN) for every valid IBAN written in the text."""
    pos = 0
    while (match := _IBAN_SHAPE.search(text, pos)) is not None:
        start = match.start()
        length = iban_length(text[start:start + 2])
        found = None
        if length is not None:
            for end in _ends(text, start, match.end()):
                compact = _compact(text[start:end])
                if (len(compact) == length and (compact.isupper() or compact.islower())
                        and is_iban(compact)):
                    found = (start, end, compact.upper())
                    break
        if found is None:
            pos = start + 1  # an IBAN may still start inside this run, at a later word
            continue
        yield found
        pos = found[1]


def iban_shaped_spans(text: str) -> list[tuple[int, int]]:
    """Where the text holds an account number, valid or not: from a country code with check
    digits to that country's IBAN length. Other detectors skip digits in these spans (a
    mistyped IBAN still holds no card number)."""
    spans = []
    pos = 0
    while (match := _IBAN_SHAPE.search(text, pos)) is not None:
        start = pos = match.start()
        pos += 1
        length = iban_length(text[start:start + 2])
        if length is None or _GLUED_START.match(text, start) is None:
            continue
        seen, end = 0, match.end()
        for i in range(start, match.end()):
            if text[i].isalnum():
                seen += 1
                if seen == length:
                    end = i + 1
                    break
        spans.append((start, end))
    return spans + [(start, end) for start, end, _ in find_ibans(text)]


@register
class IbanDetector(Detector):
    kind = "iban"
    order = 40

    def mask(self, value: str) -> str:
        return masking.iban_shape(value)

    def precheck(self, value: str) -> bool:
        return len(value) >= 15 and _IBAN_SHAPE.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        for _start, _end, number in find_ibans(value):
            yield PiiHit(self.kind, field, number,
                         "A bank account number (valid IBAN) is sent in this field.")
