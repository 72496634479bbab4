"""`ip-address`: public and private IPv4/IPv6 addresses, not version numbers.

Loopback, link-local, unspecified, multicast, reserved and documentation ranges identify
no one and are skipped. A dotted quad in a field named like a version or build
(`ver`, `version`, `build`) is a version number, not an address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from diagscope.pii.base import Detector, PiiHit, words

_V4 = re.compile(r"(?<![\w.])((?:\d{1,3}\.){3}\d{1,3})(?![\w]|\.\d)")
_V6 = re.compile(
    r"(?<![\w:.])((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3}))"
    r"(?![\w:.])"
)
_VERSION_KEY = words(r"ver(sion)?s?$", r"version", r"build", r"^v$", r"release")
_DOCUMENTATION = [ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


def _public_enough(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if (address.is_loopback or address.is_link_local or address.is_unspecified
            or address.is_multicast or address.is_reserved):
        return False
    # 255.255.255.255 is covered by is_reserved; documentation ranges are not flagged by it.
    return not any(address in net for net in _DOCUMENTATION)


class IpAddressDetector(Detector):
    kind = "ip-address"

    def precheck(self, value: str) -> bool:
        return value.count(".") >= 3 or value.count(":") >= 2

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        if _VERSION_KEY.search(key) is not None:
            return  # dotted quads in version fields are versions (EVT-...-3.7.62.1)
        for match in _V4.finditer(value):
            text = match.group(1)
            start = match.start(1)
            if start and value[start - 1] in "-vV":
                continue  # "No-3.7.62.1", "v1.2.3.4": a version written after a name
            try:
                address = ipaddress.IPv4Address(text)
            except ValueError:
                continue  # 16.0.17328.20162 and friends
            if _public_enough(address):
                yield PiiHit(self.kind, field, text, "An IPv4 address is sent in this field.")
        if value.count(":") >= 2:
            for match in _V6.finditer(value):
                text = match.group(1)
                try:
                    address6 = ipaddress.IPv6Address(text)
                except ValueError:
                    continue
                if _public_enough(address6):
                    yield PiiHit(self.kind, field, text, "An IPv6 address is sent in this field.")
