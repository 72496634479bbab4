"""`mac-address`: hardware addresses, which identify a device for its whole life."""

from __future__ import annotations

import re
from collections.abc import Iterator

from diagscope.pii.base import Detector, PiiHit, register

_MAC = re.compile(
    r"(?<![0-9A-Fa-f:.-])((?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![0-9A-Fa-f:.-])"
)
_NOT_DEVICES = {"000000000000", "ffffffffffff"}


@register
class MacAddressDetector(Detector):
    kind = "mac-address"
    order = 90

    def precheck(self, value: str) -> bool:
        return len(value) >= 14 and (value.count(":") >= 5 or value.count("-") >= 5
                                     or value.count(".") >= 2)

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        for match in _MAC.finditer(value):
            text = match.group(1)
            digits = re.sub(r"[^0-9A-Fa-f]", "", text).lower()
            if digits in _NOT_DEVICES:
                continue
            yield PiiHit(self.kind, field, text, "A network hardware (MAC) address is sent.")
