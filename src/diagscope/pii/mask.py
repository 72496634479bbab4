"""Show personal data without passing it on: enough to recognise, not to reuse.

Each detector masks what it finds (`Detector.mask`), with these shapes:

- e-mail: first character of the local part (then a fixed eight stars, so its length is
  not given away), first character of the domain, the top-level domain:
  `jan.jansen@minjenv.nl` -> `j********@m******.nl`
- BSN: the last four digits: `*****2333`; IBAN: country, check digits and last four;
  payment card: the last four; phone: the last two
- IP address: the first group (`145.*.*.*`)
- URL: the scheme, the first character of each host label and the top-level domain; a path,
  query or fragment as a fixed `/***`, user names and passwords as `***@`:
  `https://www.msn.com/nl-nl/nieuws?id=1` -> `https://w**.m**.com/***`
- identifier: a 1DS prefix (`s:`, `x:`) in clear, the rest as anything else
- typed or dictated text (`customer-content`): a fixed `********`, nothing of the words and
  not their length
- anything else (titles too): first character and last two, never more than a third of the
  value
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache

STAR = "*"
#: Typed text is shown as this, whatever its length.
HIDDEN_TEXT = STAR * 8
_URL_PARTS = re.compile(r"(?s)(?:([A-Za-z][A-Za-z0-9+.-]*):)?(//)?([^/?#]*)(.*)")
_ID_PREFIX = re.compile(r"([A-Za-z]:)(.+)")


def email_shape(value: str) -> str:
    local, _, domain = value.rpartition("@")
    head, dot, tld = domain.rpartition(".")
    if not local or not head:
        return generic(value)
    return local[0] + STAR * 8 + "@" + head[0] + STAR * (len(head) - 1) + dot + tld


def last_digits(value: str, keep: int, width: int | None = None) -> str:
    digits = re.sub(r"\s", "", value)
    stars = STAR * (width if width is not None else max(0, len(digits) - keep))
    return stars + digits[-keep:] if len(digits) > keep else STAR * len(digits)


def ip_shape(value: str) -> str:
    if ":" in value:
        return value.split(":", 1)[0] + ":" + ":".join(STAR for _ in range(3))
    return value.split(".", 1)[0] + ".*.*.*"


def _host(host: str) -> str:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return ip_shape(host.strip("[]"))
    labels = host.split(".")
    if len(labels) == 1:
        return host[:1] + STAR * (len(host) - 1)
    return ".".join(label[:1] + STAR * (len(label) - 1) for label in labels[:-1]) \
        + "." + labels[-1]


def url_shape(value: str) -> str:
    match = _URL_PARTS.fullmatch(value.strip())
    if match is None:  # pragma: no cover - the pattern matches any text
        return generic(value)
    scheme, slashes, authority, rest = match.groups()
    if scheme and not slashes:  # `www.msn.com:8080/x` read as scheme `www.msn.com`
        scheme, authority, rest = None, *_split_authority(value.strip())
    _credentials, at, hostport = authority.rpartition("@")
    host = hostport if hostport.startswith("[") else hostport.split(":", 1)[0]
    out = f"{scheme}://" if scheme else ("//" if slashes else "")
    out += ("***@" if at else "") + _host(host)
    return out + ("/***" if rest.strip("/") else rest)


def _split_authority(value: str) -> tuple[str, str]:
    end = min((i for i in (value.find(c) for c in "/?#") if i >= 0), default=len(value))
    return value[:end], value[end:]


def prefixed(value: str) -> str:
    prefixed = _ID_PREFIX.fullmatch(value)
    if prefixed is not None:
        return prefixed.group(1) + generic(prefixed.group(2))
    return generic(value)


def generic(value: str) -> str:
    n = len(value)
    if n <= 4:
        return STAR * n
    keep_tail = 2 if n >= 9 else 1 if n >= 6 else 0  # never more than a third in clear
    return value[0] + STAR * (n - 1 - keep_tail) + value[n - keep_tail:]


def iban_shape(value: str) -> str:
    compact = value.replace(" ", "")
    return compact[:4] + STAR * max(0, len(compact) - 8) + compact[-4:]


@lru_cache(maxsize=64)
def _masker(kind: str) -> Callable[[str], str] | None:
    from diagscope.pii.base import detector_of  # the detectors use the shapes above

    detector = detector_of(kind)
    return detector().mask if detector is not None else None


def mask(value: str | None, kind: str | None = None) -> str | None:
    """A value masked the way the detector of `kind` masks it (generic for kinds no detector
    finds, such as values the client itself declared as personal data)."""
    if value is None:
        return None
    masker = _masker(kind) if kind else None
    if masker is not None:
        return masker(value)
    if kind is None and "@" in value:
        return email_shape(value)
    return generic(value)
