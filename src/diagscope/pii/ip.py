"""`ip-address`: public and private IPv4/IPv6 addresses, not version numbers.

Loopback, link-local, unspecified, multicast, reserved (which for IPv6 includes the space IANA
has not handed out), "this network" (0.0.0.0/8) and documentation ranges identify no one and
are skipped. An IPv6 address that carries an IPv4 address (`::ffff:10.0.0.1`, NAT64
`64:ff9b::…`) is judged by the IPv4 address.

Version numbers are dotted quads too. These are versions, not addresses:
- anything in a field named like a version or build (`ver`, `AppVersion`, `OsBuild`);
- a quad after `-`, `v` or `V` (`No-3.7.62.1`, `v1.2.3.4`), or followed by `.digit` (part of
  a longer dotted number such as `10.0.19041.1.2`);
- a quad right after a product name and `/` (`Chrome/141.0.0.0`), in any field;
- in a field named like a user agent (`userAgent`, `ua`, `agent`), also a quad after a product
  or platform name and a space (`Windows NT 10.0.0.1`). An address in an agent string that
  does not follow a name (at the start, in brackets, after `;`, `=` or `@`, in a URL) is
  reported.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from functools import lru_cache

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register

_V4 = re.compile(r"(?<![\w.])((?:\d{1,3}\.){3}\d{1,3})(?![\w]|\.\d)")
# A full stop after an address ends a sentence; a full stop and a digit continue a number.
_V6 = re.compile(
    r"(?<![\w:.])((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3}))"
    r"(?![\w:]|\.\d)"
)
# `Server` and `Driver` end in "ver" but hold no versions: "ver" must be a word of its own.
_VERSION_KEY = re.compile(r"(?i:version|build|release)|(?:^|[._\-])(?i:vers?|v)$"
                          r"|(?<=[a-z0-9])Vers?$")
_AGENT_KEY = re.compile(r"(?i:agent)|(?:^|[._\-])(?i:ua)$|(?<=[a-z0-9])U[Aa]$")
_SPECIAL = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
# IPv6 ranges whose last 32 bits are an IPv4 address: NAT64, IPv4-translated, IPv4-compatible.
_CARRIES_V4 = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96")]
# Characters that may come before a product name in an agent string: the start, a space,
# an opening bracket or a list separator. A name after `/` or `:` is part of a URL or path.
_BEFORE_PRODUCT = " \t([;,"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _public_enough(address: Address) -> bool:
    if (address.is_loopback or address.is_link_local or address.is_unspecified
            or address.is_multicast or address.is_reserved):
        return False
    # 255.255.255.255 is covered by is_reserved; "this network" and documentation ranges
    # are not flagged by any of the above.
    return not any(address in net for net in _SPECIAL)


def _judged(address: ipaddress.IPv6Address, text: str) -> Address:
    """The address that decides: the IPv4 address an IPv6 address carries, or itself."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if "." in text and any(address in net for net in _CARRIES_V4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _after_product(value: str, start: int, separators: str) -> bool:
    """Does a product name and one of `separators` come right before value[start]?"""
    if start < 2 or value[start - 1] not in separators:
        return False
    end = begin = start - 1
    while begin > 0 and (value[begin - 1].isalnum() or value[begin - 1] in "._+-"):
        begin -= 1
    if begin == end or not value[begin].isalpha():
        return False
    return begin == 0 or value[begin - 1] in _BEFORE_PRODUCT


@lru_cache(maxsize=4096)
def _key_kind(key: str) -> str:
    """Is the field a version field, an agent field or neither ("")? Field names repeat, so
    the answer is kept."""
    if _VERSION_KEY.search(key) is not None:
        return "version"
    return "agent" if _AGENT_KEY.search(key) is not None else ""


@register
class IpAddressDetector(Detector):
    kind = "ip-address"
    order = 20

    def mask(self, value: str) -> str:
        return masking.ip_shape(value)

    def precheck(self, value: str) -> bool:
        return value.count(".") >= 3 or value.count(":") >= 2

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        key_kind = _key_kind(key)
        if key_kind == "version":
            return  # dotted quads in version fields are versions (EVT-...-3.7.62.1)
        version_separators = "/ " if key_kind == "agent" else "/"
        found: list[tuple[int, PiiHit]] = []
        v6_spans: list[tuple[int, int]] = []
        if value.count(":") >= 2:
            for match in _V6.finditer(value):
                text = match.group(1)
                try:
                    address6 = ipaddress.IPv6Address(text)
                except ValueError:
                    continue
                v6_spans.append(match.span(1))
                if _public_enough(_judged(address6, text)):
                    found.append((match.start(1), PiiHit(
                        self.kind, field, text, "An IPv6 address is sent in this field.")))
        for match in _V4.finditer(value):
            text = match.group(1)
            start = match.start(1)
            if any(s6 <= start < e6 for s6, e6 in v6_spans):
                continue  # the IPv4 part of an IPv6 address, judged with it
            if start and value[start - 1] in "-vV":
                continue  # "No-3.7.62.1", "v1.2.3.4": a version written after a name
            if _after_product(value, start, version_separators):
                continue  # "Chrome/141.0.0.0": a product's version
            try:
                address = ipaddress.IPv4Address(text)
            except ValueError:
                continue  # 16.0.17328.20162 and friends
            if _public_enough(address):
                found.append((start, PiiHit(self.kind, field, text,
                                            "An IPv4 address is sent in this field.")))
        for _start, hit in sorted(found, key=lambda pair: pair[0]):
            yield hit
