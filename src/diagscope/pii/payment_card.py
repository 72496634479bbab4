"""`payment-card`: card numbers: issuer range, length and Luhn check, in card-like form.

Any 16 digits pass the Luhn check one time in ten, so bare digit runs count only in a
field named like a card number; otherwise the number must be written the way card
numbers are (groups of four, or Amex's 4-6-5 and UATP's 4-5-6, split by spaces or dashes).
Digits inside an account number (`RS35 2600 0560 1001 6113 79`) are never a card.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import luhn

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register, words
from diagscope.pii.iban import iban_shaped_spans

_GROUPED = re.compile(r"(?<![\d-])(\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5}"
                      r"|\d{4}[ -]\d{5}[ -]\d{6})(?![\d-])")
# Thirteen digits or more, grouped or not: every form above and every bare run of 13 or more.
_RUN = re.compile(r"\d{4}[ -]?\d{4,6}[ -]?\d{4}[ -]?\d")
_BARE = re.compile(r"(?<!\d)(\d{13,19})(?!\d)")
_CARD_WORDS = words(r"card", r"\bpan\b", r"^pan$", r"creditcard", r"cc.?num", r"kaart",
                    r"payment")


def issuer(number: str) -> str | None:
    """The card network for a number of valid length, or None."""
    n, length = number, len(number)
    two, four = int(n[:2]), int(n[:4])
    if n[0] == "1" and length == 15:
        return "UATP"  # airline cards: issuer prefix 1, always 15 digits
    if n[0] == "4" and length in (13, 16, 19):
        return "Visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and length == 16:
        return "Mastercard"
    if two in (34, 37) and length == 15:
        return "American Express"
    if (n.startswith("6011") or 644 <= int(n[:3]) <= 649 or two == 65) and 16 <= length <= 19:
        return "Discover"
    if 3528 <= four <= 3589 and 16 <= length <= 19:
        return "JCB"
    if two in (36, 38, 39) or 300 <= int(n[:3]) <= 305:
        return "Diners Club" if 14 <= length <= 19 else None
    if (two == 50 or 56 <= two <= 69) and 12 <= length <= 19:
        return "Maestro"
    return None


@register
class PaymentCardDetector(Detector):
    kind = "payment-card"
    order = 50

    def mask(self, value: str) -> str:
        return masking.last_digits(value, 4)

    def precheck(self, value: str) -> bool:
        return len(value) >= 13 and _RUN.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        candidates = [m.span(1) for m in _GROUPED.finditer(value)]
        if _CARD_WORDS.search(key):
            candidates += [m.span(1) for m in _BARE.finditer(value)]
        accounts = iban_shaped_spans(value) if candidates else []
        for start, end in candidates:
            if any(a_start < end and start < a_end for a_start, a_end in accounts):
                continue
            digits = re.sub(r"\D", "", value[start:end])
            network = issuer(digits)
            if network and luhn.is_valid(digits):
                yield PiiHit(self.kind, field, digits,
                             f"A {network} payment card number (issuer range, length and Luhn "
                             "check all match) is sent in this field.")
