"""Walk every value of an event and run every detector over its strings.

Each string is scanned as it is and, when it hides text (JSON inside the string, hex,
base64, percent-encoding; see `layers`), once more per decoded text. A hit in decoded text
carries the layers it was found under and the decoded value (so masking masks what was
found, not its encoding); its field stays the outer field, and its detail says where inside
JSON it was (`layers.describe` words the encodings for a reader). One value is not reported
twice for one field and kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from diagscope.model import Event
from diagscope.pii.base import Detector, DetectorSettings, PiiHit, registered
from diagscope.pii.gps import coordinate_object
from diagscope.pii.layers import Decoded, decoded_layers, describe

_MAX_DEPTH = 32
#: Long numbers can be BSNs, card or phone numbers even when sent as integers.
_MIN_DIGITS_AS_TEXT = 9


def walk_values(event: Event, parts: tuple[str, ...] = ("ext", "baseData", "data")
                ) -> Iterator[tuple[str, str, Any]]:
    """(dotted path, key, value) for every leaf of Part A, B and C, lists as `name[i]`."""
    stack: list[tuple[str, str, Any, int]] = []
    chosen = {"ext": event.ext, "baseData": event.base_data, "data": event.data}
    for prefix in parts:
        part = chosen[prefix]
        stack.extend((f"{prefix}.{k}", str(k), v, 0) for k, v in reversed(part.items()))
    while stack:
        path, key, value, depth = stack.pop()
        if isinstance(value, dict):
            if depth < _MAX_DEPTH:
                yield path, key, value
                stack.extend((f"{path}.{k}", str(k), v, depth + 1)
                             for k, v in reversed(value.items()))
        elif isinstance(value, list):
            if depth < _MAX_DEPTH:
                stack.extend((f"{path}[{i}]", key, v, depth + 1)
                             for i, v in reversed(list(enumerate(value))))
        else:
            yield path, key, value


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) \
            and abs(value) >= 10 ** (_MIN_DIGITS_AS_TEXT - 1):
        return str(value)
    return None


def string_values(event: Event) -> Iterator[tuple[str, str, str]]:
    """(path, key, text) for every string leaf, and for integers long enough to be a BSN,
    card or phone number."""
    for path, key, value in walk_values(event):
        text = _as_text(value)
        if text is not None:
            yield path, key, text


#: Telemetry repeats itself: the same app name, build, locale and device id in every event.
#: What the detectors found in a value is remembered, bounded in size, per (key, value) in
#: Part B and C and per (parent path, key, value) in Part A, where a field's meaning depends
#: on its extension (`localId` in `ext.device` or `ext.user`). Decoding is part of what is
#: remembered: it depends on nothing but the key and the value.
_CACHE_LIMIT = 100_000
#: Per Part A extension (`ext.app`, `ext.os`, ...): its value in the last event scanned and
#: what was found in it. Events of one upload repeat most extensions exactly (only a few,
#: such as sequence numbers, change), so those are compared rather than walked again.
_EXTENSIONS_LIMIT = 1_000


def default_detectors(phone_region: str = "NL") -> list[Detector]:
    """Every registered detector, phone numbers read in the numbering plan of
    `phone_region`."""
    settings = DetectorSettings(phone_region=phone_region)
    return [detector.configured(settings) for detector in registered()]


class Scanner:
    """A set of detectors and what they found in values seen before (bounded)."""

    def __init__(self, detectors: list[Detector]) -> None:
        self.detectors = detectors
        self._cache: dict[tuple[str, str, str], tuple[PiiHit, ...]] = {}
        self._last_extensions: dict[str, tuple[Any, list[PiiHit]]] = {}

    def scan(self, event: Event) -> list[PiiHit]:
        """Every detector over every value of the event (and coordinate objects), one walk."""
        hits: list[PiiHit] = []
        last = self._last_extensions
        for name, value in event.ext.items():
            key = str(name)
            previous = last.get(key)
            if previous is not None and previous[0] == value:
                hits.extend(previous[1])
                continue
            found = _scan([("ext", key, value)], self.detectors, self._cache)
            if len(last) >= _EXTENSIONS_LIMIT:
                last.clear()
            last[key] = (value, found)
            hits.extend(found)
        hits.extend(_scan(_roots(event, ("baseData", "data")), self.detectors, self._cache))
        return hits


_scanners: dict[str, Scanner] = {}


def scanner_for(phone_region: str = "NL") -> Scanner:
    """The scanner for a policy's settings: one per process and phone region (scanners hold
    nothing but their detectors and caches)."""
    scanner = _scanners.get(phone_region)
    if scanner is None:
        scanner = _scanners[phone_region] = Scanner(default_detectors(phone_region))
    return scanner


#: The detectors with the default settings (Dutch phone numbering).
DETECTORS: list[Detector] = scanner_for().detectors


def _detect(field: str, key: str, text: str, detectors: list[Detector]
            ) -> tuple[PiiHit, ...]:
    """Every detector over the value and over each text decoded from it."""
    hits = [hit for d in detectors if d.precheck(text) for hit in d.find(field, key, text)]
    for decoded in decoded_layers(key, text):
        for d in detectors:
            if d.precheck(decoded.text):
                hits.extend(_under_layers(hit, field, decoded)
                            for hit in d.find(field, decoded.key, decoded.text))
    return _unique(hits) if len(hits) > 1 else tuple(hits)


def _under_layers(hit: PiiHit, field: str, decoded: Decoded) -> PiiHit:
    """A hit in decoded text: its layers say how it was encoded; its detail says where inside
    JSON it was, which nothing else records."""
    detail = hit.detail
    if decoded.inner_path:
        detail = f"{detail.rstrip('.')} ({describe((), decoded.inner_path)})."
    return PiiHit(hit.kind, field, hit.value, detail, decoded.layers + hit.layers)


def _unique(hits: list[PiiHit]) -> tuple[PiiHit, ...]:
    """One hit per (kind, value), a percent-encoded address counted once with its decoded
    form. The first is kept (the value in clear before a decoded copy), except that a hit
    inside JSON replaces one in the raw JSON text: it says where in the document it was."""
    chosen: dict[tuple[str, str], int] = {}
    unique: list[PiiHit] = []
    for hit in hits:
        same = (hit.kind, unquote(hit.value) if "%" in hit.value else hit.value)
        at = chosen.get(same)
        if at is None and "percent" in hit.layers:
            # Decoding can split an address at a decoded space: `?q=jan%20jansen`.
            at = next((i for i, kept in enumerate(unique) if kept.kind == hit.kind
                       and hit.value in unquote(kept.value)), None)
        if at is None:
            chosen[same] = len(unique)
            unique.append(hit)
        elif "json" in hit.layers and "json" not in unique[at].layers:
            unique[at] = hit
    return tuple(unique)


def scan_event_values(event: Event, detectors: list[Detector] | None = None) -> list[PiiHit]:
    """Every detector over every value of the event: the default scanner's, or the given
    detectors' without remembering anything."""
    if detectors is not None:
        return _scan(_roots(event, ("ext", "baseData", "data")), detectors, None)
    return scanner_for().scan(event)


def _roots(event: Event, parts: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    chosen = {"ext": event.ext, "baseData": event.base_data, "data": event.data}
    return [(prefix, str(k), v) for prefix in parts for k, v in chosen[prefix].items()]


def _scan(roots: list[tuple[str, str, Any]], detectors: list[Detector],
          cache: dict[tuple[str, str, str], tuple[PiiHit, ...]] | None) -> list[PiiHit]:
    """`walk_values` and the detectors in one loop. A leaf's dotted path is only spelled
    out when something is found in it: most leaves are numbers, flags and short enum
    names, and formatting millions of paths nobody reads was most of the cost."""
    hits: list[PiiHit] = []
    # (path of the container, key, value, depth, index when the container is a list)
    stack: list[tuple[str, str, Any, int, int | None]] = [
        (parent, key, value, 0, None) for parent, key, value in reversed(roots)]
    while stack:
        parent, key, value, depth, index = stack.pop()
        kind = type(value)
        if kind is str:
            text: str | None = value
        elif kind is dict or kind is list or isinstance(value, dict | list):
            if depth >= _MAX_DEPTH:
                continue
            path = f"{parent}.{key}" if index is None else f"{parent}[{index}]"
            if isinstance(value, dict):
                found = coordinate_object(path, value)
                if found is not None:
                    hits.append(found)
                stack.extend((path, str(k), v, depth + 1, None)
                             for k, v in reversed(value.items()))
            else:
                stack.extend((path, key, v, depth + 1, i)
                             for i, v in reversed(list(enumerate(value))))
            continue
        else:
            text = _as_text(value)
        if text is None or len(text) < 5:
            continue
        if cache is not None:
            remembered = (parent if parent[:3] == "ext" else "", key, text)
            found_here = cache.get(remembered)
            if found_here is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                path = f"{parent}.{key}" if index is None else f"{parent}[{index}]"
                found_here = cache[remembered] = _detect(path, key, text, detectors)
        else:
            path = f"{parent}.{key}" if index is None else f"{parent}[{index}]"
            found_here = _detect(path, key, text, detectors)
        if found_here:
            path = f"{parent}.{key}" if index is None else f"{parent}[{index}]"
            hits.extend(PiiHit(h.kind, path, h.value, h.detail, h.layers) for h in found_here)
    return hits
