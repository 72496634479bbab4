"""Walk every value of an event and run every detector over its strings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from diagscope.model import Event
from diagscope.pii.base import Detector, PiiHit
from diagscope.pii.bsn import BsnDetector
from diagscope.pii.email import EmailDetector
from diagscope.pii.gps import GpsDetector, coordinate_object
from diagscope.pii.iban import IbanDetector
from diagscope.pii.ip import IpAddressDetector
from diagscope.pii.mac import MacAddressDetector
from diagscope.pii.paths import DocumentNameDetector, UserPathDetector
from diagscope.pii.payment_card import PaymentCardDetector
from diagscope.pii.phone import PhoneDetector

DETECTORS: list[Detector] = [
    EmailDetector(),
    IpAddressDetector(),
    BsnDetector(),
    IbanDetector(),
    PaymentCardDetector(),
    PhoneDetector(),
    UserPathDetector(),
    DocumentNameDetector(),
    MacAddressDetector(),
    GpsDetector(),
]

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
#: What the detectors found in a (key, value) pair is remembered, bounded in size.
_CACHE_LIMIT = 100_000
_cache: dict[tuple[str, str], tuple[PiiHit, ...]] = {}


def _detect(key: str, text: str, detectors: list[Detector]) -> tuple[PiiHit, ...]:
    return tuple(hit for d in detectors if d.precheck(text) for hit in d.find("", key, text))


#: Per Part A extension (`ext.app`, `ext.os`, ...): its value in the last event scanned and
#: what was found in it. Events of one upload repeat most extensions exactly (only a few,
#: such as sequence numbers, change), so those are compared rather than walked again.
_last_extensions: dict[str, tuple[Any, list[PiiHit]]] = {}
_EXTENSIONS_LIMIT = 1_000


def scan_event_values(event: Event, detectors: list[Detector] | None = None) -> list[PiiHit]:
    """Every detector over every value of the event (and coordinate objects), one walk."""
    if detectors is not None:
        return _scan(_roots(event, ("ext", "baseData", "data")), detectors)
    hits: list[PiiHit] = []
    for name, value in event.ext.items():
        key = str(name)
        previous = _last_extensions.get(key)
        if previous is not None and previous[0] == value:
            hits.extend(previous[1])
            continue
        found = _scan([("ext", key, value)], None)
        if len(_last_extensions) >= _EXTENSIONS_LIMIT:
            _last_extensions.clear()
        _last_extensions[key] = (value, found)
        hits.extend(found)
    hits.extend(_scan(_roots(event, ("baseData", "data")), None))
    return hits


def _roots(event: Event, parts: tuple[str, ...]) -> list[tuple[str, str, Any]]:
    chosen = {"ext": event.ext, "baseData": event.base_data, "data": event.data}
    return [(prefix, str(k), v) for prefix in parts for k, v in chosen[prefix].items()]


def _scan(roots: list[tuple[str, str, Any]], detectors: list[Detector] | None
          ) -> list[PiiHit]:
    """`walk_values` and the detectors in one loop. A leaf's dotted path is only spelled
    out when something is found in it: most leaves are numbers, flags and short enum
    names, and formatting millions of paths nobody reads was most of the cost."""
    cached = detectors is None
    detectors = DETECTORS if detectors is None else detectors
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
        if cached:
            found_here = _cache.get((key, text))
            if found_here is None:
                if len(_cache) >= _CACHE_LIMIT:
                    _cache.clear()
                found_here = _cache[(key, text)] = _detect(key, text, detectors)
        else:
            found_here = _detect(key, text, detectors)
        if found_here:
            path = f"{parent}.{key}" if index is None else f"{parent}[{index}]"
            hits.extend(PiiHit(h.kind, path, h.value, h.detail) for h in found_here)
    return hits
