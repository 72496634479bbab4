"""`email`: e-mail addresses, also inside longer strings and URL-encoded in URLs.

Domains may be internationalised, written in Unicode (`jan@voorbeeld.рф`) or in their
ASCII form (`a@xn--d1acufc.xn--p1ai`); such labels must be valid IDNA (checked with the
standard library's `idna` and `punycode` codecs), so `xn--` followed by garbage is no domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register

# Local part (letters of any script, digits, `._%+-`) and a domain with at least one dot.
# The top-level domain is letters (of any script) or an IDNA A-label (`xn--p1ai`).
_EMAIL = re.compile(
    r"(?<![\w.%+-])([^\W_][\w.%+-]{0,63}@((?:[^\W_][\w-]{0,62}\.)+"
    r"(?:[^\W\d_]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})))"
    r"(?![\w-])"
)


def _valid_label(label: str) -> bool:
    """A DNS label: letters, digits and inner hyphens; a Unicode label must be valid IDNA and
    an ASCII-compatible `xn--` label must decode to one and encode back to itself."""
    if "_" in label or label.endswith("-"):
        return False
    if label[:4].lower() == "xn--":
        try:
            unicode_label = label[4:].encode("ascii").decode("punycode")
            return (not unicode_label.isascii()
                    and unicode_label.encode("idna").decode("ascii") == label.lower())
        except UnicodeError:
            return False
    if label.isascii():
        return True
    try:
        label.encode("idna")
    except UnicodeError:
        return False
    return True


def _valid_domain(domain: str) -> bool:
    """Every label a valid DNS label, Unicode ones valid IDNA."""
    return all(_valid_label(label) for label in domain.split("."))


@register
class EmailDetector(Detector):
    kind = "email"
    order = 10

    def mask(self, value: str) -> str:
        return masking.email_shape(value)

    def precheck(self, value: str) -> bool:
        return "@" in value or "%40" in value

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        text = unquote(value) if "%40" in value else value
        seen = set()
        for match in _EMAIL.finditer(text):
            address = match.group(1)
            if address.lower() in seen or not _valid_domain(match.group(2)):
                continue
            seen.add(address.lower())
            yield PiiHit(self.kind, field, address, "An e-mail address is sent in this field.")
