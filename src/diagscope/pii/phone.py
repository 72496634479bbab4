"""`phone`: telephone numbers (libphonenumber; Dutch numbering unless told otherwise).

Counters and timestamps are long digit runs too, so a number counts when the field is
named like a phone number, or when it is written the way people write numbers (with a
`+` or `00`, a leading 0 and separators, or an area code in brackets: `(020) 123 4567`) and
libphonenumber says it is a valid number.

Numbers without a country code are read in `region`. In a field named like a phone number the
number is known to be one, so the `fallback_regions` are tried as well, in order, and a
number valid in one of them is reported; in free text a national number of another country
(`(415) 555-0132` read in the Netherlands) stays unread, because any digit run is a valid
number somewhere. Digits inside an account number (IBAN) are never a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, DetectorSettings, PiiHit, register
from diagscope.pii.iban import iban_shaped_spans

# "tel" but not "telemetry" or "hotel"; "cell" as in cell phone, not a spreadsheet's cell.
_PHONE_WORDS = re.compile(
    r"(?i:phone|mobile|mobiel|gsm|telefoon|msisdn|cellular|cell[ _.-]?(?:phone|no|nr|num))"
    r"|(?:^|[^A-Za-z])(?i:tel|fax)(?!(?i:emetry))|(?<=[a-z])(?:Tel|TEL|Fax|FAX)(?!emetry)"
    r"|^(?i:cell)$"
)
# International prefix, trunk prefix 0 and a separator, or an area code in brackets.
_WRITTEN = re.compile(r"^(\+|00)\d|^0\d{1,3}[ -]\d|^\(\d{2,5}\) ?\d")
# Where a number is written the way people write phone numbers; libphonenumber is slow, so
# without a phone-like field name it only looks at text that has such a number. The bracketed
# form is a pattern of its own, searched only in text with a "(": most text has none.
_WRITTEN_ANYWHERE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9][\d \-().]{6,}\d|(?<![\w.])0\d{1,3}[ -]\d[\d \-]{5,}\d"
)
_WRITTEN_BRACKETED = re.compile(r"(?<![\w(])\(\d{2,5}\) ?\d[\d \-]{4,}\d")
_DIGIT_RUN = re.compile(r"\d[\d \-().]{7,}\d")

#: Tried after `region` in phone-named fields, in this order (the first region a number is
#: valid in gives its country code): the Netherlands, its neighbours, and the countries whose
#: numbers turn up most in Dutch organisations' data.
DEFAULT_FALLBACK_REGIONS = ("NL", "BE", "DE", "FR", "GB", "US")


@lru_cache(maxsize=4096)
def is_phone_key(key: str) -> bool:
    """Is the field named like a phone number? (Field names repeat: the answer is kept.)"""
    return _PHONE_WORDS.search(key) is not None


@register
class PhoneDetector(Detector):
    kind = "phone"
    order = 60

    def __init__(self, region: str = "NL",
                 fallback_regions: tuple[str, ...] = DEFAULT_FALLBACK_REGIONS) -> None:
        self.region = region
        self.fallback_regions = tuple(r for r in fallback_regions if r != region)

    @classmethod
    def configured(cls, settings: DetectorSettings) -> Detector:
        return cls(region=settings.phone_region)

    def mask(self, value: str) -> str:
        return masking.last_digits(value, 2)

    def precheck(self, value: str) -> bool:
        return 8 <= len(value) <= 2000 and _DIGIT_RUN.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        by_key = is_phone_key(key)
        if not (by_key or _WRITTEN_ANYWHERE.search(value) is not None
                or ("(" in value and _WRITTEN_BRACKETED.search(value) is not None)):
            return
        regions = (self.region, *self.fallback_regions) if by_key else (self.region,)
        # Digits of an account number are no phone number: `NL61 ABNA 0222 7592 83` holds a
        # valid Dutch number, and `GB93 NWBK 0052 8172…` one dialled with 00.
        taken: list[tuple[int, int]] = iban_shaped_spans(value)
        for region in regions:
            matcher = phonenumbers.PhoneNumberMatcher(value, region,
                                                      leniency=phonenumbers.Leniency.VALID)
            for match in matcher:
                start, end = match.start, match.end
                if any(s < end and start < e for s, e in taken):
                    continue  # in an account number, or read in an earlier region
                if not (by_key or _WRITTEN.search(match.raw_string.strip())):
                    continue
                taken.append((start, end))
                formatted = phonenumbers.format_number(match.number,
                                                       phonenumbers.PhoneNumberFormat.E164)
                yield PiiHit(self.kind, field, formatted,
                             "A telephone number is sent in this field.")
