"""`phone`: telephone numbers (libphonenumber, Dutch numbering by default).

Counters and timestamps are long digit runs too, so a number counts when the field is
named like a phone number, or when it is written the way people write numbers (with a
`+`, or a leading 0 and separators) and libphonenumber says it is a valid number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from diagscope.pii.base import Detector, PiiHit, words

_PHONE_WORDS = words(r"phone", r"\btel", r"^tel", r"mobile", r"mobiel", r"gsm", r"\bfax",
                     r"telefoon", r"msisdn", r"cell")
_WRITTEN = re.compile(r"^(\+|00)\d|^0\d{1,3}[ -]\d")
# Where a number is written the way people write phone numbers; libphonenumber is slow, so
# without a phone-like field name it only looks at text that has such a number.
_WRITTEN_ANYWHERE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9][\d \-().]{6,}\d|(?<![\w.])0\d{1,3}[ -]\d[\d \-]{5,}\d"
)
_DIGIT_RUN = re.compile(r"\d[\d \-().]{7,}\d")


class PhoneDetector(Detector):
    kind = "phone"

    def __init__(self, region: str = "NL") -> None:
        self.region = region

    def precheck(self, value: str) -> bool:
        return 8 <= len(value) <= 2000 and _DIGIT_RUN.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        by_key = _PHONE_WORDS.search(key) is not None
        if not by_key and _WRITTEN_ANYWHERE.search(value) is None:
            return
        matcher = phonenumbers.PhoneNumberMatcher(value, self.region,
                                                  leniency=phonenumbers.Leniency.VALID)
        for match in matcher:
            raw = match.raw_string.strip()
            if not (by_key or _WRITTEN.search(raw)):
                continue
            formatted = phonenumbers.format_number(match.number,
                                                   phonenumbers.PhoneNumberFormat.E164)
            yield PiiHit(self.kind, field, formatted,
                         "A telephone number is sent in this field.")
