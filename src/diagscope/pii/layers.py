"""Decode what a telemetry string hides before the detectors read it.

Clients put structured or binary data into string fields: Windows sends the words a user
typed as JSON inside a string (`userText: "{\\"runs\\":[{\\"words\\":[{\\"word\\":…}]}]}"`),
Edge's browsing history as hex (`navigationUrlBytes: "0x6477…"`), other clients base64 or
percent-encoding. `decoded_layers` peels these layers off, nested in any order (hex of
percent-encoded text, base64 of JSON, …), and returns every decoded text with the layers it
went through, outermost first: ("hex", "utf-8"), ("json",), ("percent",),
("base64", "utf-16le"). Bytes are read as UTF-16LE when nearly every second byte is zero (how
Windows stores text) and as UTF-8 otherwise; `base64url` names the URL-safe alphabet. Hex is
`0x…`, or plain hex digits of even length: under a field name that speaks of bytes, hex or
an address (`navigationUrlBytes`), or else when the bytes are ASCII text.

A value inside decoded JSON keeps its own key (`word`) and the path it was found at
(`runs[0].words[0].word`), so detectors judge it by its own name.

It runs on every string of every event, so it is cheap when nothing is encoded (one length
check and a first-character test or one regular expression), and it is bounded: at most
`MAX_DEPTH` decoding steps, inputs and decoded texts of at most `MAX_TEXT` characters, and
at most `MAX_VARIANTS` decoded texts per value. Bytes count as text only when they decode
strictly and are mostly printable, mostly letters, digits and spaces: GUIDs, hashes and
random ids that merely use the hex or base64 alphabet decode to noise and are dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

#: Decoding steps one after another (hex, then JSON, then base64 of a JSON value, …).
MAX_DEPTH = 4
#: Neither an encoded input nor a decoded text is read beyond this many characters.
MAX_TEXT = 64 * 1024
#: Decoded texts per value; a JSON document gives one per string inside it.
MAX_VARIANTS = 64
#: JSON nesting walked inside a decoded document.
_MAX_JSON_DEPTH = 32
#: Integers inside JSON long enough to be a BSN, card or phone number are read as text too,
#: as the scanner does with integers of an event.
_MIN_DIGITS_AS_TEXT = 9

# A field name that says its value is bytes or an address allows shorter decoded text.
_BYTES_KEY = re.compile(r"(?i)bytes|hex|ur[il]|href|link")
_HEX_PREFIXED = re.compile(r"0[xX]((?:[0-9A-Fa-f]{2})+)")
_HEX_PLAIN = re.compile(r"(?:[0-9A-Fa-f]{2}){4,}")
# Hex of ASCII text: every byte below 0x80. Hashes and random ids fail within a few bytes.
_ASCII_HEX = re.compile(r"(?:[0-7][0-9A-Fa-f]){4,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
_BASE64_URL = re.compile(r"[A-Za-z0-9_-]{8,}={0,2}")
# What may start a JSON object or array after `{` or `[` (a braced GUID or "[(0,1)]" may not).
_JSON_OBJECT_NEXT = frozenset('"}')
_JSON_ARRAY_NEXT = frozenset('"{[]-0123456789tfn')
# One cheap test of whether a value might be hex or base64 at all.
_ENCODED_ALPHABET = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_WHITESPACE = str.maketrans("\t\r\n", "   ")


@dataclass(slots=True, frozen=True)
class Decoded:
    """One decoded text: what it is, how it was encoded, and under which key to judge it."""

    text: str
    layers: tuple[str, ...]
    key: str  # the outer field's key, or a JSON value's own key
    inner_path: str = ""  # where inside decoded JSON, e.g. runs[0].words[0].word


def may_be_encoded(value: str, key: str = "") -> bool:
    """The cheap test run on every string: could any decoder apply?"""
    n = len(value)
    if n < 4 or n > MAX_TEXT:
        return False
    first = value[0]
    if first == "{" or first == "[" or "%" in value:
        return True
    if _ENCODED_ALPHABET.fullmatch(value) is None:
        return False
    if first == "0" and value[1:2] in ("x", "X"):
        return True
    # Base64 of text mixes letter cases; hex is hex digits only. A GUID is neither, and GUIDs
    # are the commonest value that changes from event to event.
    if value.lower() != value and value.upper() != value:
        return True
    if len(value) % 2 or value.isdigit():
        return False
    if _ASCII_HEX.fullmatch(value) is not None:
        return True
    return _BYTES_KEY.search(key) is not None and _HEX_PLAIN.fullmatch(value) is not None


def decoded_layers(key: str, value: str) -> list[Decoded]:
    """Every text hidden in `value`, with its layers, outermost first; [] when in clear."""
    if not may_be_encoded(value, key):
        return []
    found: list[Decoded] = []
    _decode(value, key, (), "", 0, found)
    return found


def _decode(text: str, key: str, layers: tuple[str, ...], path: str, depth: int,
            found: list[Decoded]) -> None:
    if depth >= MAX_DEPTH or len(found) >= MAX_VARIANTS or not 4 <= len(text) <= MAX_TEXT:
        return
    first = text[0]
    if first == "{" or first == "[":
        document = json_document(text)
        if document is not None:
            inner_layers = (*layers, "json")
            for inner_key, inner_path, leaf in json_leaves(document, key):
                if len(found) >= MAX_VARIANTS:
                    return
                where = _join(path, inner_path)
                found.append(Decoded(leaf, inner_layers, inner_key, where))
                _decode(leaf, inner_key, inner_layers, where, depth + 1, found)
            return
    if "%" in text:
        unquoted = _percent(text)
        if unquoted is not None:
            _add(unquoted, key, (*layers, "percent"), path, depth, found)
            return
    hexed = _hex(text, key)
    if hexed is not None:
        _add(hexed[0], key, (*layers, "hex", hexed[1]), path, depth, found)
        return
    decoded = _base64(text)
    if decoded is not None:
        _add(decoded[0], key, layers + decoded[1], path, depth, found)


def _add(text: str, key: str, layers: tuple[str, ...], path: str, depth: int,
         found: list[Decoded]) -> None:
    if len(found) < MAX_VARIANTS:
        found.append(Decoded(text, layers, key, path))
        _decode(text, key, layers, path, depth + 1, found)


def _join(outer: str, inner: str) -> str:
    if not outer:
        return inner
    return outer + inner if inner.startswith("[") else f"{outer}.{inner}"


def json_document(text: str) -> dict[str, Any] | list[Any] | None:
    """A JSON object or array, or None. Cheap refusals first: a braced GUID is no JSON."""
    body = text.strip()
    if len(body) < 2 or body[-1] not in "}]":
        return None
    following = body[1:].lstrip()[:1]
    allowed = _JSON_OBJECT_NEXT if body[0] == "{" else _JSON_ARRAY_NEXT
    if not following or following not in allowed:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict | list) and document else None


def json_leaves(document: dict[str, Any] | list[Any], key: str
                ) -> Iterator[tuple[str, str, str]]:
    """(own key, path, text) of each string (and long integer) in a JSON document, in order.
    A list item keeps the key of its list, as the event walker does."""
    stack: list[tuple[Any, str, str, int]] = [(document, key, "", 0)]
    while stack:
        node, name, path, depth = stack.pop()
        if isinstance(node, dict):
            if depth < _MAX_JSON_DEPTH:
                stack.extend((v, str(k), f"{path}.{k}" if path else str(k), depth + 1)
                             for k, v in reversed(node.items()))
        elif isinstance(node, list):
            if depth < _MAX_JSON_DEPTH:
                stack.extend((v, name, f"{path}[{i}]", depth + 1)
                             for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, str):
            if node:
                yield name, path, node
        elif isinstance(node, int) and not isinstance(node, bool) \
                and abs(node) >= 10 ** (_MIN_DIGITS_AS_TEXT - 1):
            yield name, path, str(node)


def _percent(text: str) -> str | None:
    """Percent-decoded text (UTF-8, else Latin-1), or None when nothing was encoded."""
    try:
        unquoted = unquote(text, errors="strict")
    except UnicodeDecodeError:
        unquoted = unquote(text, encoding="latin-1")
    return unquoted if unquoted != text and looks_like_text(unquoted, 1) else None


def _hex(text: str, key: str) -> tuple[str, str] | None:
    """(text, charset) of `0x…` hex, or of plain even-length hex that decodes to text."""
    if text[:2] in ("0x", "0X"):
        prefixed = _HEX_PREFIXED.fullmatch(text)
        if prefixed is None:
            return None
        return bytes_as_text(bytes.fromhex(prefixed.group(1)), 3)
    if len(text) % 2 or _HEX_PLAIN.fullmatch(text) is None or text.isdigit():
        return None
    raw = bytes.fromhex(text)
    if _BYTES_KEY.search(key) is not None:
        return bytes_as_text(raw, 3)
    # Without a hint only ASCII text (or UTF-16 of it) counts: hashes and ids are random
    # bytes, which are almost never all below 0x80.
    return bytes_as_text(raw, 4) if raw.isascii() else None


def _base64(text: str) -> tuple[str, tuple[str, str]] | None:
    """(text, layers) of standard or URL-safe base64 that decodes to text.

    Short unpadded strings and strings in one letter case are words or ids, not base64:
    base64 of text mixes upper and lower case almost always."""
    body = text.rstrip("=")
    if len(body) < (8 if body != text else 12) or len(body) % 4 == 1:
        return None
    if body.lower() == body or body.upper() == body:
        return None
    if _BASE64.fullmatch(text) is not None:
        altchars, layer = None, "base64"
    elif _BASE64_URL.fullmatch(text) is not None:
        altchars, layer = b"-_", "base64url"
    else:
        return None
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None
    decoded = bytes_as_text(raw, 4)
    return None if decoded is None else (decoded[0], (layer, decoded[1]))


def bytes_as_text(raw: bytes, min_chars: int) -> tuple[str, str] | None:
    """(text, charset) when the bytes are text: UTF-16LE when every other byte is zero (as
    Windows stores text), UTF-8 otherwise, both strict; trailing NULs of C strings dropped."""
    if len(raw) > 4 * MAX_TEXT:
        return None
    half = len(raw) // 2
    if len(raw) >= 4 and len(raw) % 2 == 0 and raw[1::2].count(0) * 10 >= half * 9:
        charset, codec = "utf-16le", "utf-16-le"
    else:
        charset, codec = "utf-8", "utf-8"
    try:
        text = raw.decode(codec).rstrip("\x00")
    except UnicodeDecodeError:
        return None
    return (text, charset) if looks_like_text(text, min_chars) else None


def looks_like_text(text: str, min_chars: int) -> bool:
    """Mostly printable (95 %) and mostly letters, digits and spaces (half): what people and
    programs write, not the noise random bytes decode to."""
    n = len(text)
    if n < min_chars or n > MAX_TEXT or "\ufffd" in text:
        return False
    spaced = text.translate(_WHITESPACE)
    if not spaced.isprintable():
        unprintable = sum(1 for c in spaced if not c.isprintable())
        if unprintable * 20 > n:
            return False
    wordish = sum(map(str.isalnum, spaced)) + spaced.count(" ")
    return wordish * 2 >= n


_LAYER_NAMES = {"hex": "hex", "base64": "base64", "base64url": "URL-safe base64",
                "percent": "percent-encoding", "utf-8": "UTF-8", "utf-16le": "UTF-16LE",
                "json": "JSON"}


def describe(layers: tuple[str, ...], inner_path: str = "") -> str:
    """Where a decoded value was, for a finding's detail: "inside JSON at runs[0].words[0].
    word", "decoded from hex, UTF-8", or both; "" for a value in clear."""
    parts = []
    if inner_path:
        parts.append(f"inside JSON at {inner_path}")
    encodings = [_LAYER_NAMES.get(layer, layer) for layer in layers if layer != "json"]
    if encodings:
        parts.append("decoded from " + ", ".join(encodings))
    return "; ".join(parts)
