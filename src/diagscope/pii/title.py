"""`title`: page and window titles.

A title is free text the user did not choose to send: a browser tab's page title names the
article, the search or the patient portal visited; a window title names the document
(`Ontslagbrief J. Jansen.docx - Word`) or the mail being written. Found in fields whose name
ends in "title" (`PageTitle`, `WindowTitle`, `DocumentTitle`, `TabTitle`, `Title`) or is a
window caption, when the value is free text: not empty, not "#", not a bare app name
("Microsoft Edge", "Word"), not a blank page ("New Tab") or a default document name
("Document1 - Word"), not an id or a resource reference (`ms-resource:…`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from diagscope.pii.base import Detector, PiiHit, register

_TITLE_KEY = re.compile(r".*title|(?:window)?caption")
_NOT_CONTENT_KEYS = frozenset({"jobtitle"})
_APP_NAMES = frozenset({
    "word", "excel", "powerpoint", "outlook", "onenote", "teams", "visio", "project", "access",
    "publisher", "microsoft word", "microsoft excel", "microsoft powerpoint",
    "microsoft outlook", "microsoft onenote", "microsoft teams", "microsoft edge", "edge",
    "internet explorer", "google chrome", "chrome", "mozilla firefox", "firefox",
    "notepad", "paint", "calculator", "settings", "file explorer", "explorer",
    "task manager", "program manager", "search", "cortana", "start", "windows security",
    "microsoft store", "store", "photos", "mail", "calendar", "people", "skype", "onedrive",
    "command prompt", "windows powershell", "powershell", "terminal", "windows terminal",
    "control panel", "snipping tool", "task switching", "inprivate",
})
_BLANK = frozenset({"", "#", "none", "null", "untitled", "new tab", "new page", "blank",
                    "about:blank", "start page", "home", "loading", "loading..."})
# The names Office and Windows give new documents, with a number, identify no one.
_DEFAULT_NAME = re.compile(r"(?i)(?:document|book|presentation|drawing|publication|notebook|"
                           r"untitled|new text document|naamloos|map|boek|presentatie)"
                           r"\s*\d*(?:\.\w{1,5})?")
_SEPARATORS = re.compile(r"\s+[-\u2013\u2014|]\s+")
_ID_LIKE = re.compile(r"[0-9A-Fa-f\W_]+")


@lru_cache(maxsize=4096)
def is_title_key(key: str) -> bool:
    name = re.sub(r"[^0-9a-z]", "", key.lower())
    return name not in _NOT_CONTENT_KEYS and _TITLE_KEY.fullmatch(name) is not None


def is_free_text_title(value: str) -> bool:
    """Something besides app names, blank-page names and default document names."""
    text = value.strip()
    if text.lower() in _BLANK or text.startswith(("ms-resource:", "@{", "@")):
        return False
    if _ID_LIKE.fullmatch(text) and any(c.isdigit() for c in text):
        return False  # numbers, GUIDs, hex
    parts = [p.strip() for p in _SEPARATORS.split(text)]
    return any(p and p.lower() not in _APP_NAMES and p.lower() not in _BLANK
               and not _DEFAULT_NAME.fullmatch(p) for p in parts)


@register
class TitleDetector(Detector):
    kind = "title"
    order = 130

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        if is_title_key(key) and is_free_text_title(value):
            yield PiiHit(self.kind, field, value.strip(),
                         "A page or window title is sent in this field: free text that can "
                         "name a person, a document, a search or a site.")
