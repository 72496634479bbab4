"""Office's telemetry library (OTel) event flags, read as level and purpose signals.

OTel gives every event `eventFlags` (OTelJS 3.1.74, as published in `@microsoft/office-js`
1.1.110, `dist/telemetry/oteljs.debug.js`): `diagnosticLevel` 10 BasicEvent (required),
100 FullEvent (optional; what OTel assumes when a caller sets none), 110
NecessaryServiceDataEvent (required service data), 120 AlwaysOnNecessaryServiceDataEvent
(required service data for essential services), and `dataCategories` bits 1 software setup,
2 product and service usage, 4 product and service performance, 8 device configuration,
16 inking, typing and speech, plus cost, sampling and persistence priorities.

Where they ride, as far as public code and traffic show:
- the OTel event object itself, `eventFlags: {dataCategories, diagnosticLevel, ...}`, is what
  OTel's RichApi and SDX sinks hand to their host; an event that carries it (as an object or
  as flattened `eventFlags.diagnosticLevel` fields) is read here;
- OTel's level numbers in `EventInfo.Level` (10 and 100 do not collide with the 1DS SDKs'
  1, 2, 3, 110 and 120) are read with the other level fields (`classify.level`);
- OTel's Aria and 1DS sinks, as published and as seen in Teams web traffic, send no flags:
  such events are recognised as OTel's (`data.Event.Source` "OTelJS"/"OneDS") but carry no
  level on the wire, and are judged by the catalogue;
- Office's documented common field `Event.Flags` packs flags into one number whose layout
  Microsoft does not publish; it is not read, rather than guessed.
"""

from __future__ import annotations

from typing import Any

from diagscope.model import Level

DIAGNOSTIC_LEVELS: dict[int, tuple[Level, str]] = {
    10: (Level.REQUIRED, "BasicEvent"),
    100: (Level.OPTIONAL, "FullEvent"),
    110: (Level.SERVICE, "NecessaryServiceDataEvent"),
    120: (Level.ESSENTIAL, "AlwaysOnNecessaryServiceDataEvent"),
}

DATA_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1, "Software setup and inventory"),
    (2, "Product and service usage"),
    (4, "Product and service performance"),
    (8, "Device connectivity and configuration"),
    (16, "Inking typing and speech utterance"),
)

_FLAG_OBJECTS = ("eventFlags", "EventFlags", "Event.Flags")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def event_flags(data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(where, flags) for an OTel `eventFlags` object, or its flattened fields."""
    for key in _FLAG_OBJECTS:
        value = data.get(key)
        if isinstance(value, dict):
            return f"data.{key}", {k.lower(): v for k, v in value.items()}
    flat: dict[str, Any] = {}
    where = ""
    for key, value in data.items():
        head, _, tail = str(key).rpartition(".")
        if head in _FLAG_OBJECTS and tail:
            flat[tail.lower()] = value
            where = f"data.{head}"
    return (where, flat) if flat else None


def otel_level(data: dict[str, Any]) -> tuple[Level, str] | None:
    """The level an OTel `eventFlags.diagnosticLevel` states; FullEvent when flags carry none."""
    found = event_flags(data)
    if found is None:
        return None
    where, flags = found
    number = _int(flags.get("diagnosticlevel"))
    if number is None:
        if "diagnosticlevel" in flags:
            return Level.UNKNOWN, f"{where}.diagnosticLevel = {flags['diagnosticlevel']!r} " \
                                  "is not an OTel level"
        return Level.OPTIONAL, f"{where} sets no diagnosticLevel: OTel's default FullEvent " \
                               "(optional)"
    known = DIAGNOSTIC_LEVELS.get(number)
    if known is None:
        return Level.UNKNOWN, f"{where}.diagnosticLevel = {number} is not an OTel level"
    level, name = known
    return level, f"{where}.diagnosticLevel = {number} ({name}: {level.value})"


def otel_categories(data: dict[str, Any]) -> tuple[list[str], str] | None:
    found = event_flags(data)
    if found is None:
        return None
    where, flags = found
    bits = _int(flags.get("datacategories"))
    if not bits:
        return None
    names = [name for bit, name in DATA_CATEGORIES if bits & bit]
    return (names, f"{where}.dataCategories = {bits}") if names else None
