"""CsProtocol::Record structs (what the 1DS C++ SDK uploads) as Common Schema events.

A body is Records back to back, Bond Compact Binary v1, no envelope (`BondSplicer`). Field
names follow the Common Schema JSON a user knows from the JS SDK and from Microsoft's own
decoders: `extApp[0]` becomes `ext.app`, `data[0].properties` becomes `data`, ticks become
UTC times. Nothing is dropped: unknown fields keep their Bond field id as `field_<id>`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from diagscope.decode.bond import (
    BondError,
    BondLimits,
    BondList,
    BondMap,
    BondStruct,
    CompactReader,
    marshalled_header,
    to_jsonable,
)
from diagscope.decode.detect import BOND_COMPACT
from diagscope.decode.registry import decoder
from diagscope.model import PII_KINDS, Event, FieldMark

#: .NET ticks (100 ns since 0001-01-01) at the Unix epoch.
TICKS_AT_EPOCH = 621_355_968_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Record extension ordinals and their Common Schema JSON names. 28 is `js` as in
#: Microsoft's C# decoder; 41 (a generic `vector<Data>`) is `extData` as in its C++ decoder.
EXTENSIONS: dict[int, str] = {
    20: "ingest", 21: "protocol", 22: "user", 23: "device", 24: "os", 25: "app", 26: "utc",
    27: "xbl", 28: "js", 29: "receipts", 31: "net", 32: "sdk", 33: "loc", 34: "cloud",
    35: "service", 36: "cs", 37: "m365a", 41: "extData", 42: "mscv", 43: "intWeb",
    44: "intService", 45: "web",
}

#: Field names of each extension struct (CsProtocol.bond).
EXTENSION_FIELDS: dict[str, dict[int, str]] = {
    "ingest": {1: "time", 2: "clientIp", 3: "auth", 4: "quality", 5: "uploadTime",
               6: "userAgent", 7: "client"},
    "protocol": {1: "metadataCrc", 2: "ticketKeys", 3: "devMake", 4: "devModel", 5: "msp"},
    "user": {1: "id", 2: "localId", 3: "authId", 4: "locale"},
    "device": {1: "id", 2: "localId", 3: "authId", 4: "authSecId", 5: "deviceClass",
               6: "orgId", 7: "orgAuthId", 8: "make", 9: "model", 10: "authIdEnt"},
    "os": {1: "locale", 2: "expId", 3: "bootId", 4: "name", 5: "ver"},
    "app": {1: "expId", 2: "userId", 3: "env", 4: "asId", 5: "id", 6: "ver", 7: "locale",
            8: "name", 9: "sesId"},
    "utc": {1: "stId", 2: "aId", 3: "raId", 4: "op", 5: "cat", 6: "flags", 7: "sqmId",
            9: "mon", 10: "cpId", 11: "bSeq", 12: "epoch", 13: "seq", 14: "popSample",
            15: "eventFlags", 16: "wsId", 17: "wcmp", 18: "wPId"},
    "xbl": {5: "claims", 10: "nbf", 20: "exp", 30: "sbx", 40: "dty", 50: "did", 60: "xid",
            70: "uts", 80: "pid", 90: "dvr", 100: "tid", 110: "tvr", 120: "sty", 130: "sid",
            140: "eid", 150: "ip"},
    "js": {10: "libVer", 15: "osName", 20: "browser", 21: "browserVersion", 25: "platform",
           30: "make", 35: "model", 40: "screenSize", 45: "msfpc", 50: "mc1Id", 60: "mc1Lu",
           70: "isMc1New", 80: "ms0", 90: "anid", 100: "a", 110: "msResearch", 120: "csrvc",
           130: "rtCell", 140: "rtEndAction", 150: "rtPermId", 160: "r", 170: "wtFpc",
           180: "omniId", 190: "gsfxSession", 200: "domain", 210: "userConsent",
           220: "browserLang", 230: "serviceName", 999: "dnt"},
    "receipts": {1: "originalTime", 2: "uploadTime", 3: "originalName", 4: "flags"},
    "net": {1: "provider", 2: "cost", 3: "type"},
    "sdk": {1: "ver", 2: "epoch", 3: "seq", 4: "installId", 5: "libVer"},
    "loc": {1: "id", 2: "country", 3: "timezone"},
    "cloud": {1: "fullEnvName", 2: "location", 3: "environment", 4: "deploymentUnit",
              5: "name", 6: "roleInstance", 7: "role"},
    "service": {1: "name", 2: "role", 3: "roleVersion"},
    "cs": {1: "sig"},
    "m365a": {1: "enrolledTenantId", 2: "msp"},
    "mscv": {1: "cV"},
    "intWeb": {1: "mc1Id", 2: "msfpc", 3: "anid", 4: "serviceName", 5: "mscom"},
    "intService": {1: "fullEnvName", 2: "location", 3: "environment", 4: "deploymentUnit",
                   5: "name"},
    "web": {10: "browser", 20: "browserVer", 30: "screenRes", 40: "domain", 50: "userConsent",
            60: "browserLang", 70: "isManual"},
}

# CsProtocol ValueKind.
V_INT64, V_UINT64, V_INT32, V_UINT32, V_DOUBLE, V_STRING, V_BOOL, V_DATETIME, V_GUID = range(9)
V_ARRAY_INT64, V_ARRAY_UINT64, V_ARRAY_INT32, V_ARRAY_UINT32, V_ARRAY_DOUBLE = range(9, 14)
V_ARRAY_STRING, V_ARRAY_BOOL, V_ARRAY_DATETIME, V_ARRAY_GUID = range(14, 18)

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1


@dataclass(slots=True)
class RecordsResult:
    events: list[Event]
    error: str | None = None
    error_offset: int | None = None


def ticks_to_datetime(ticks: int) -> datetime | None:
    """.NET DateTime ticks (UTC) as an aware datetime; None when out of range."""
    try:
        return _EPOCH + timedelta(microseconds=(ticks - TICKS_AT_EPOCH) // 10)
    except OverflowError:
        return None


def _plain(value: Any) -> Any:
    """A Bond value as plain Python (lists, dicts), for extension fields and tags."""
    if isinstance(value, BondStruct):
        return to_jsonable(value)
    if isinstance(value, BondList):
        return [_plain(v) for v in value.items]
    if isinstance(value, BondMap):
        if all(isinstance(k, str) for k, _ in value.items):
            return {k: _plain(v) for k, v in value.items}
        return [[_plain(k), _plain(v)] for k, v in value.items]
    return value


def _guid(raw: Any) -> str | None:
    items = raw.items if isinstance(raw, BondList) else raw
    if not isinstance(items, list) or len(items) != 16:
        return None
    try:
        return str(uuid.UUID(bytes_le=bytes(int(b) & 0xFF for b in items)))
    except (TypeError, ValueError):
        return None


def _first(value: Any) -> list[Any]:
    """`vector<vector<T>>` as the SDK writes arrays: the first inner list, as a list."""
    if isinstance(value, BondList) and value.items:
        inner = value.items[0]
        if isinstance(inner, BondList):
            return inner.items
    return []


def _property_value(value: BondStruct) -> Any:
    kind = value.get(1, V_STRING)
    long_value = value.get(4)
    if kind == V_STRING:
        return value.get(3, "")
    if kind in (V_INT64, V_INT32):
        return long_value or 0
    if kind == V_UINT64:
        return (long_value or 0) & _MASK64
    if kind == V_UINT32:
        return (long_value or 0) & _MASK32
    if kind == V_DOUBLE:
        return value.get(5, 0.0)
    if kind == V_BOOL:
        return bool(long_value)
    if kind == V_DATETIME:
        return ticks_to_datetime(long_value or 0)
    if kind == V_GUID:
        guids = value.get(6)
        return _guid(guids.items[0]) if isinstance(guids, BondList) and guids.items else None
    if kind in (V_ARRAY_INT64, V_ARRAY_INT32):
        return list(_first(value.get(11)))
    if kind == V_ARRAY_UINT64:
        return [v & _MASK64 for v in _first(value.get(11))]
    if kind == V_ARRAY_UINT32:
        return [v & _MASK32 for v in _first(value.get(11))]
    if kind == V_ARRAY_BOOL:
        return [bool(v) for v in _first(value.get(11))]
    if kind == V_ARRAY_DATETIME:
        return [ticks_to_datetime(v) for v in _first(value.get(11))]
    if kind == V_ARRAY_DOUBLE:
        return list(_first(value.get(12)))
    if kind == V_ARRAY_STRING:
        return list(_first(value.get(10)))
    if kind == V_ARRAY_GUID:
        return [_guid(g) for g in _first(value.get(13))]
    # An unknown kind: keep whatever the struct carried, so nothing is hidden.
    return to_jsonable(value)


def _mark(value: BondStruct) -> FieldMark | None:
    attributes = value.get(2)
    if not isinstance(attributes, BondList):
        return None
    pii_kind: str | None = None
    customer = False
    for attribute in attributes.items:
        if not isinstance(attribute, BondStruct):
            continue
        for pii in getattr(attribute.get(1), "items", []):
            if isinstance(pii, BondStruct) and pii.get(1, 0):
                kind = pii.get(1)
                pii_kind = PII_KINDS.get(kind, f"PIIKind{kind}")
        for content in getattr(attribute.get(2), "items", []):
            if isinstance(content, BondStruct) and content.get(1, 0):
                customer = True
    if pii_kind is None and not customer:
        return None
    return FieldMark(pii_kind=pii_kind, customer_content=customer)


def _properties(data: Any, prefix: str, marks: dict[str, FieldMark]) -> dict[str, Any]:
    """`vector<Data>` -> the first Data's property bag, marks collected on the way."""
    if not isinstance(data, BondList) or not data.items:
        return {}
    bag = data.items[0]
    if not isinstance(bag, BondStruct):
        return {}
    properties = bag.get(1)
    out: dict[str, Any] = {}
    if not isinstance(properties, BondMap):
        return out
    for name, value in properties.items:
        key = str(name)
        if isinstance(value, BondStruct):
            out[key] = _property_value(value)
            mark = _mark(value)
            if mark is not None:
                marks[f"{prefix}.{key}"] = mark
        else:
            out[key] = _plain(value)
    return out


def _extension(name: str, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, BondList) or not value.items:
        return None
    struct = value.items[0]
    if not isinstance(struct, BondStruct):
        return None
    names = EXTENSION_FIELDS.get(name, {})
    if name == "extData":
        return _properties(value, "ext.extData", {})
    return {names.get(fid, f"field_{fid}"): _plain(v) for fid, (_, v) in struct.fields.items()}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def event_from_record(record: BondStruct, index: int) -> Event:
    fields = record.fields
    marks: dict[str, FieldMark] = {}
    ext: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for fid, (_type_id, value) in fields.items():
        if fid in EXTENSIONS:
            part = _extension(EXTENSIONS[fid], value)
            if part is not None:
                ext[EXTENSIONS[fid]] = part
        elif fid not in (1, 2, 3, 4, 5, 6, 7, 51, 60, 61, 70):
            extra[f"field_{fid}"] = _plain(value)
    if extra:
        ext["unknownRecordFields"] = extra
    time = fields.get(3, (None, None))[1]
    pop = fields.get(4, (None, None))[1]
    flags = fields.get(6, (None, None))[1]
    tags = fields.get(51, (None, None))[1]
    return Event(
        index=index,
        name=_text(fields.get(2, (None, ""))[1]) or "",
        time=ticks_to_datetime(time) if isinstance(time, int) else None,
        ver=_text(fields.get(1, (None, None))[1]),
        ikey=_text(fields.get(5, (None, None))[1]),
        ext=ext,
        data=_properties(fields.get(70, (None, None))[1], "data", marks),
        base_type=_text(fields.get(60, (None, None))[1]),
        base_data=_properties(fields.get(61, (None, None))[1], "baseData", marks),
        flags=flags if isinstance(flags, int) else None,
        cv=_text(fields.get(7, (None, None))[1]),
        pop_sample=float(pop) if isinstance(pop, int | float) else 100.0,
        tags=_plain(tags) if isinstance(tags, BondMap) else {},
        marks=marks,
        wire_format="bond",
    )


@decoder(BOND_COMPACT)
def decode_records(body: bytes, *, limits: BondLimits | None = None) -> RecordsResult:
    """Every Record in the body; a damaged one ends decoding, the ones before it stay."""
    version = 1
    start = 0
    marshalled = marshalled_header(body)
    if marshalled is not None:
        version, start = marshalled, 4
    reader = CompactReader(body, version=version, pos=start, limits=limits)
    events: list[Event] = []
    while reader.pos < reader.end:
        begin = reader.pos
        try:
            record = reader.struct()
        except BondError as exc:
            return RecordsResult(
                events, f"record {len(events)} (starting at byte {begin}) is damaged: {exc}",
                exc.offset,
            )
        except RecursionError:
            return RecordsResult(events, f"record {len(events)} nests too deeply", begin)
        try:
            events.append(event_from_record(record, len(events)))
        except Exception as exc:  # a structurally valid struct that is not a Record
            return RecordsResult(
                events, f"struct at byte {begin} is not a CsProtocol Record: {exc!r}", begin
            )
    return RecordsResult(events)

