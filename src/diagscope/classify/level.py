"""The diagnostic level an event claims on the wire.

Signals, each read independently: the 1DS `EventInfo.Level` property (and its spellings),
Windows' ETW keyword bits in `ext.utc.cat`, and `ext.metadata.privLevel`. The classifier
combines them with the catalogue; this module only reads the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diagscope.classify.otel import otel_level
from diagscope.model import LEVEL_RANK, Event, Level
from diagscope.sources.viewer import ViewerFacts

#: 1DS level numbers (CommonFields.h): 1 required, 2 optional, 3 full (Windows), 110 required
#: service data, 120 required service data for essential services; and Office's telemetry
#: library (OTel) diagnostic levels 10 BasicEvent and 100 FullEvent (`classify.otel`).
LEVEL_NUMBERS: dict[int, Level] = {
    1: Level.REQUIRED,
    2: Level.OPTIONAL,
    3: Level.OPTIONAL,
    10: Level.REQUIRED,
    100: Level.OPTIONAL,
    110: Level.SERVICE,
    120: Level.ESSENTIAL,
}

#: Property names that carry the 1DS level, in the spellings the SDKs and docs use.
LEVEL_FIELDS = ("EventInfo.Level", "EventInfo_Level", "PartA_PrivLevel")

#: MicrosoftTelemetry.h keywords; an event is collected from the lowest level whose keyword
#: it carries, so within one keyword mask the lowest level is the event's level.
KEYWORD_LEVELS: tuple[tuple[int, Level, str], ...] = (
    (0x0000_8000_0000_0000, Level.REQUIRED, "MICROSOFT_KEYWORD_CRITICAL_DATA"),
    (0x0000_4000_0000_0000, Level.ENHANCED, "MICROSOFT_KEYWORD_MEASURES"),
    (0x0000_2000_0000_0000, Level.OPTIONAL, "MICROSOFT_KEYWORD_TELEMETRY"),
)

_LEVEL_WORDS = {
    "required": Level.REQUIRED, "basic": Level.REQUIRED, "optional": Level.OPTIONAL,
    "full": Level.OPTIONAL, "enhanced": Level.ENHANCED, "requiredservicedata": Level.SERVICE,
    "requiredservicedataforessentialservices": Level.ESSENTIAL, "service": Level.SERVICE,
    "essential": Level.ESSENTIAL, "security": Level.ESSENTIAL, "neither": Level.SERVICE,
}


@dataclass(slots=True, frozen=True)
class LevelSignal:
    level: Level  # UNKNOWN when the signal is present but unreadable
    reason: str


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if text.lower().startswith("0x"):
            try:
                return int(text, 16)
            except ValueError:
                return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _level_value(value: Any) -> Level | None:
    number = as_int(value)
    if number is not None:
        return LEVEL_NUMBERS.get(number)
    if isinstance(value, str):
        return _LEVEL_WORDS.get(value.strip().lower().replace(" ", ""))
    return None


def wire_signals(event: Event) -> list[LevelSignal]:
    """Every level signal the event carries, in the order they were found."""
    signals: list[LevelSignal] = []
    for source_name, source in (("data", event.data), ("baseData", event.base_data)):
        for key in LEVEL_FIELDS:
            if key in source:
                level = _level_value(source[key])
                if level is None:
                    signals.append(LevelSignal(
                        Level.UNKNOWN, f"{source_name}.{key} = {source[key]!r} is not a known level"
                    ))
                else:
                    signals.append(LevelSignal(
                        level, f"{source_name}.{key} = {source[key]!r} ({level.value})"
                    ))
    otel = otel_level(event.data)
    if otel is not None:
        signals.append(LevelSignal(*otel))
    utc = event.ext.get("utc")
    if isinstance(utc, dict) and "cat" in utc:
        cat = as_int(utc["cat"])
        if cat is not None:
            found = keyword_signal(cat, "ext.utc.cat")
            if found is not None:
                signals.append(found)
    metadata = event.ext.get("metadata")
    if isinstance(metadata, dict) and "privLevel" in metadata:
        level = _level_value(metadata["privLevel"])
        signals.append(LevelSignal(
            level or Level.UNKNOWN,
            f"ext.metadata.privLevel = {metadata['privLevel']!r}"
            + (f" ({level.value})" if level else " is not a known level"),
        ))
    return signals


def keyword_signal(keywords: int, where: str) -> LevelSignal | None:
    """The level of an event's ETW keywords (MicrosoftTelemetry.h), or None without one."""
    found = [(lvl, name) for bit, lvl, name in KEYWORD_LEVELS if keywords & bit]
    if not found:
        return None
    level, name = min(found, key=lambda f: LEVEL_RANK[f[0]])
    return LevelSignal(level, f"{where} = {keywords:#x} has {name} ({level.value})")


def viewer_signals(facts: ViewerFacts | None) -> list[LevelSignal]:
    """What Windows' Diagnostic Data Viewer recorded about the event's level."""
    if facts is None:
        return []
    signals: list[LevelSignal] = []
    if facts.required is True:
        signals.append(LevelSignal(Level.REQUIRED, "the Diagnostic Data Viewer shows it as "
                                                   "required (IsRequired)"))
    elif facts.required is False:
        signals.append(LevelSignal(Level.OPTIONAL, "the Diagnostic Data Viewer shows it as not "
                                                   "required (IsRequired False: optional)"))
    if facts.keywords is not None:
        found = keyword_signal(facts.keywords, "the viewer's event_keywords")
        if found is not None:
            signals.append(found)
    return signals


def combine(signals: list[LevelSignal]) -> tuple[Level, str]:
    """The highest readable level wins; disagreement is spelled out in the reason."""
    readable = [s for s in signals if s.level is not Level.UNKNOWN]
    if not readable:
        if signals:
            return Level.UNKNOWN, "; ".join(s.reason for s in signals)
        return Level.UNKNOWN, "no level signal"
    top = max(readable, key=lambda s: LEVEL_RANK[s.level])
    if len({s.level for s in readable}) > 1:
        others = "; ".join(s.reason for s in readable if s is not top)
        return top.level, f"{top.reason}; signals disagree, the highest wins over: {others}"
    return top.level, "; ".join(s.reason for s in readable)


def level_of(event: Event) -> tuple[Level, str]:
    """The level from wire signals alone."""
    return combine(wire_signals(event))
