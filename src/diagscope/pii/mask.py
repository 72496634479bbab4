"""Show personal data without passing it on: enough to recognise, not to reuse.

- e-mail: first character of the local part (then a fixed eight stars, so its length is
  not given away), first character of the domain, the top-level domain:
  `jan.jansen@minjenv.nl` -> `j********@m******.nl`
- BSN: the last four digits: `*****2333`; IBAN: country, check digits and last four;
  payment card: the last four; phone: the last two
- IP address: the first group (`145.*.*.*`)
- anything else: first character and last two, never more than a third of the value
"""

from __future__ import annotations

import re

STAR = "*"


def _email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    head, dot, tld = domain.rpartition(".")
    if not local or not head:
        return _generic(value)
    return local[0] + STAR * 8 + "@" + head[0] + STAR * (len(head) - 1) + dot + tld


def _last(value: str, keep: int, width: int | None = None) -> str:
    digits = re.sub(r"\s", "", value)
    stars = STAR * (width if width is not None else max(0, len(digits) - keep))
    return stars + digits[-keep:] if len(digits) > keep else STAR * len(digits)


def _ip(value: str) -> str:
    if ":" in value:
        return value.split(":", 1)[0] + ":" + ":".join(STAR for _ in range(3))
    return value.split(".", 1)[0] + ".*.*.*"


def _generic(value: str) -> str:
    n = len(value)
    if n <= 4:
        return STAR * n
    keep_tail = 2 if n >= 9 else 1 if n >= 6 else 0  # never more than a third in clear
    return value[0] + STAR * (n - 1 - keep_tail) + value[n - keep_tail:]


def mask(value: str | None, kind: str | None = None) -> str | None:
    if value is None:
        return None
    if kind == "email" or (kind is None and "@" in value):
        return _email(value)
    if kind == "bsn":
        return _last(value, 4, width=5)
    if kind == "iban":
        compact = value.replace(" ", "")
        return compact[:4] + STAR * max(0, len(compact) - 8) + compact[-4:]
    if kind == "payment-card":
        return _last(value, 4)
    if kind == "phone":
        return _last(value, 2)
    if kind == "ip-address":
        return _ip(value)
    return _generic(value)
