"""`bsn`: Dutch citizen service numbers (burgerservicenummer).

About 1 in 11 random 9-digit numbers pass the elfproef, so a passing number alone is not
evidence: the field name or the text around the number must also speak of a BSN.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from stdnum.nl import bsn

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register

# Nine digits, bare or split 4-2-3 by spaces or dots (`1112.22.333`).
_NUMBER = re.compile(r"(?<![\d.])(\d{4}[ .]?\d{2}[ .]?\d{3})(?!\d)")
# "ssn" and "sofi" only as words of their own: not in "classname" or "Sofia".
_BSN_WORDS = re.compile(
    r"(?i:bsn|burgerservice|citizen.?(?:service|number|id)|social.?security|national.?id"
    r"|persoonsnummer|sofinummer|sofinr)"
    r"|(?i:sofi)(?![a-z])|(?:^|[^A-Za-z])(?i:ssn)|(?<=[a-z])(?:Ssn|SSN)"
)


@lru_cache(maxsize=4096)
def _bsn_key(key: str) -> bool:
    """Is the field named like a BSN? (Field names repeat: the answer is kept.)"""
    return _BSN_WORDS.search(key) is not None


@register
class BsnDetector(Detector):
    kind = "bsn"
    order = 30

    def mask(self, value: str) -> str:
        return masking.last_digits(value, 4, width=5)

    def precheck(self, value: str) -> bool:
        return len(value) >= 9 and _NUMBER.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        by_key = _bsn_key(key)
        by_text = not by_key and _BSN_WORDS.search(value) is not None
        if not (by_key or by_text):
            return
        for match in _NUMBER.finditer(value):
            number = re.sub(r"[ .]", "", match.group(1))
            if bsn.is_valid(number):
                why = f"the field name {key!r}" if by_key else "the text around it"
                yield PiiHit(
                    self.kind, field, number,
                    f"A 9-digit number passing the BSN elfproef, named a BSN by {why} "
                    "(about 1 in 11 random 9-digit numbers pass the check, so the context is "
                    "what makes this a finding).",
                )
