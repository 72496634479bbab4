"""Values as PowerShell source: the only way a value reaches a lab script.

The lab scripts run as administrator, so a scenario title or a file name must never become
code. Every `{{ }}` in the templates ends in one of three filters, and the environment's
finalize hook (`require_filtered`) refuses anything else, so a template edit that forgets
the filter fails when rendering instead of shipping a live value:

- `ps_string`: a single-quoted string literal, for every value used as data. Inside single
  quotes PowerShell expands nothing (`$`, backticks, `#`, `;` and line breaks are plain
  text); the only special characters are the quotes that end the string, and PowerShell's
  tokenizer counts the typographic single quotes U+2018 to U+201B as such quotes, so each
  of them is doubled too, which PowerShell reads back as that one character.
- `ps_comment`: text for the header comments, which tell the tester what the script is for.
  Values are kept there (rather than dropped) but cannot leave the comment line: line and
  paragraph breaks, control and invisible format characters are shown as escapes such as
  `\\n` and `\\u2028`, and `#>` (which would end a block comment) is split.
- `ps_dword`: a registry DWORD, written as decimal digits; only an int in range passes, so
  free text can never stand where a number is expected.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

#: Characters PowerShell's tokenizer treats as a single quote (ASCII and typographic).
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_QUOTE = re.compile(f"[{SINGLE_QUOTES}]")

# Categories that could end the line or hide text from the reader: controls (CR, LF, NEL,
# tab...), format characters (bidirectional overrides, zero-width joiners, BOM) and the
# Unicode line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_DWORD_MAX = 0xFFFFFFFF


class PsText(str):
    """Text a filter of this module produced: safe to place in a script as it stands."""

    __slots__ = ()


class UnfilteredValueError(TypeError):
    """A template printed a value without ps_string, ps_comment or ps_dword."""


def _text(value: object, filter_name: str) -> str:
    # bool is an int subclass; "True" in a script would be a guess at what was meant.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{filter_name} takes text or an integer, not {type(value).__name__}")
    return str(value)


def ps_string(value: object) -> PsText:
    """`value` as a PowerShell single-quoted string literal, e.g. `it's` -> `'it''s'`."""
    return PsText("'" + _QUOTE.sub(lambda m: m.group() * 2, _text(value, "ps_string")) + "'")


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def ps_comment(value: object) -> PsText:
    """`value` made safe for the rest of a `#` comment line (or a block comment)."""
    text = "".join(_escape(c) if unicodedata.category(c) in _HIDDEN else c
                   for c in _text(value, "ps_comment"))
    # Replacing "#>" with "# >" cannot form a new "#>": the "#" is now followed by a space.
    return PsText(text.replace("#>", "# >"))


def ps_dword(value: object) -> PsText:
    """A registry DWORD as decimal digits; anything but an int from 0 to 2**32-1 is refused."""
    if type(value) is not int or not 0 <= value <= _DWORD_MAX:
        raise ValueError(f"a DWORD must be an int from 0 to {_DWORD_MAX}, not {value!r:.40}")
    return PsText(str(value))


FILTERS: dict[str, Callable[[object], PsText]] = {
    "ps_string": ps_string, "ps_comment": ps_comment, "ps_dword": ps_dword,
}


def require_filtered(value: object) -> PsText:
    """Jinja2 finalize hook: every `{{ }}` must end in one of FILTERS."""
    if isinstance(value, PsText):
        return value
    # Cut the value short: it may be the hostile text this check exists to stop.
    raise UnfilteredValueError(
        f"{value!r:.40} reached a PowerShell script unquoted: end the expression in "
        f"one of {', '.join(f'|{name}' for name in FILTERS)}")
