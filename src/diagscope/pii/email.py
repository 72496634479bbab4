"""`email`: e-mail addresses, also inside longer strings and URL-encoded in URLs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from diagscope.pii.base import Detector, PiiHit

# Local part and a domain with at least one dot and a TLD of letters.
_EMAIL = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24})"
    r"(?![\w-])"
)


class EmailDetector(Detector):
    kind = "email"

    def precheck(self, value: str) -> bool:
        return "@" in value or "%40" in value

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        text = unquote(value) if "%40" in value else value
        seen = set()
        for match in _EMAIL.finditer(text):
            address = match.group(1)
            if address.lower() in seen:
                continue
            seen.add(address.lower())
            yield PiiHit(self.kind, field, address, "An e-mail address is sent in this field.")
