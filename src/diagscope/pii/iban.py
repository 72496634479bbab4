"""`iban`: bank account numbers with a valid IBAN checksum."""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban

from diagscope.pii.base import Detector, PiiHit

_IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)"
                   r"(?![A-Za-z0-9])")


_START = re.compile(r"[A-Za-z]{2}\d{2} ?[A-Za-z0-9]{4}")


class IbanDetector(Detector):
    kind = "iban"

    def precheck(self, value: str) -> bool:
        return len(value) >= 15 and _START.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        for match in _IBAN.finditer(value.upper() if value.islower() else value):
            candidate = match.group(1)
            if iban.is_valid(candidate):
                yield PiiHit(self.kind, field, candidate.replace(" ", ""),
                             "A bank account number (valid IBAN) is sent in this field.")
