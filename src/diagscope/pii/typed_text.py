"""`customer-content`: text a user typed or dictated.

What someone types is the content of their work, not diagnostic data: Windows' text input
service sends it in `Microsoft.Windows.TextInput.LinguisticData.*` as `userText`, JSON inside
a string (`{"runs":[{"locale":"en-US","words":[{"word":"recently?"}]}]}`). Found:

- by the field's name: `userText`, `typedText`, `inputText`, `query`, `searchQuery`,
  `searchTerm(s)`, `searchString`, `searchText`, `utterance`, `dictation`, `transcript`, …;
- by its shape once decoded, in any field: the Windows runs/words/word JSON.

The value reported is the text itself, the words joined by spaces (masked before storing);
the detail quotes nothing of it. When the text is JSON (the Windows form, or another form in a
typed-text field), the hit says so in its layers and names where the words were.

A field called `query` is often a query of a program, not of a person: a SQL or WQL
statement or a URL's `a=1&b=2` is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register
from diagscope.pii.layers import json_document, json_leaves

_TYPED_KEY = re.compile(
    r"(?:user|typed|input|entered|inked?|recogni[sz]ed|spoken|dictated)text|"
    r"(?:user|search)?query|querytext|search(?:terms?|string|text|boxtext|keywords?)|"
    r"utterances?|dictation|transcript(?:ion)?|typedwords?"
)
# Strings inside typed-text JSON that describe the text rather than being it.
_METADATA_KEYS = frozenset({"locale", "language", "lang", "type", "kind", "id", "version",
                            "ver", "timestamp", "time", "source", "scope", "inputscope",
                            "confidence"})
_PROGRAM_QUERY = re.compile(
    r"(?is)\s*(?:select|insert|update|delete|with|exec|associators|references)\s.*"
    r"|[\w.\[\]-]+=[^\s&]*(?:&[\w.\[\]-]+=[^\s&]*)*|/.*"
)
_BLANK = frozenset({"", "#", "none", "null", "undefined"})
_DETAIL = "Text the user typed or dictated is sent in this field"


@lru_cache(maxsize=4096)
def is_typed_text_key(key: str) -> bool:
    return _TYPED_KEY.fullmatch(re.sub(r"[^0-9a-z]", "", key.lower())) is not None


def windows_runs(document: Any) -> list[tuple[str, str]]:
    """(path, word) of the words in Windows' `{"runs":[{"words":[{"word":…}]}]}` form."""
    runs = document.get("runs") if isinstance(document, dict) else None
    found: list[tuple[str, str]] = []
    if not isinstance(runs, list):
        return found
    for i, run in enumerate(runs):
        words = run.get("words") if isinstance(run, dict) else None
        for j, word in enumerate(words if isinstance(words, list) else []):
            text = word.get("word") if isinstance(word, dict) else None
            if isinstance(text, str) and text.strip():
                found.append((f"runs[{i}].words[{j}].word", text))
    return found


def _where(paths: list[str]) -> str:
    if len(paths) == 1:
        return f"inside JSON at {paths[0]}"
    return f"{len(paths)} words, inside JSON at {paths[0]} and after"


@register
class TypedTextDetector(Detector):
    kind = "customer-content"
    order = 140

    def mask(self, value: str) -> str:
        return masking.HIDDEN_TEXT

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        typed_field = is_typed_text_key(key)
        first = value.lstrip()[:1]
        if first in ("{", "["):
            if not typed_field and '"runs"' not in value:
                return
            document = json_document(value)
            if document is not None:
                yield from self._from_json(field, key, document, typed_field)
                return
        if not typed_field:
            return
        text = value.strip()
        if text.lower() in _BLANK or _PROGRAM_QUERY.fullmatch(text):
            return
        yield PiiHit(self.kind, field, text, _DETAIL + ".")

    def _from_json(self, field: str, key: str, document: Any, typed_field: bool
                   ) -> Iterator[PiiHit]:
        words = windows_runs(document)
        if not words and typed_field:
            words = [(path, leaf) for name, path, leaf in json_leaves(document, key)
                     if name.lower() not in _METADATA_KEYS]
        if words:
            text = " ".join(word.strip() for _, word in words)
            yield PiiHit(self.kind, field, text,
                         f"{_DETAIL} ({_where([path for path, _ in words])}).", ("json",))
