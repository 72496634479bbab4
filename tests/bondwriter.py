"""A Bond Compact Binary writer for tests and sample captures (v1 and v2, every type).

It writes the same tree the reader returns (`BondStruct`, `BondList`, `BondMap`, scalars
typed by their field or element type), so write -> read must give the tree back. `record`
builds a CsProtocol Record the way the 1DS C++ SDK does (bond_lite's writer: enums as
int32, defaults omitted, GUIDs as 16 uint8 in Windows byte order).
"""

from __future__ import annotations

import struct as _struct
import uuid
from datetime import datetime
from typing import Any

from diagscope.decode.bond import (
    BT_BOOL,
    BT_DOUBLE,
    BT_FLOAT,
    BT_INT8,
    BT_INT16,
    BT_INT32,
    BT_INT64,
    BT_LIST,
    BT_MAP,
    BT_SET,
    BT_STOP,
    BT_STOP_BASE,
    BT_STRING,
    BT_STRUCT,
    BT_UINT8,
    BT_UINT16,
    BT_UINT32,
    BT_UINT64,
    BT_WSTRING,
    BondList,
    BondMap,
    BondStruct,
)
from diagscope.decode.csprotocol import EXTENSION_FIELDS, EXTENSIONS, TICKS_AT_EPOCH

_SIGNED_BITS = {BT_INT16: 16, BT_INT32: 32, BT_INT64: 64}


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(n: int, bits: int = 64) -> int:
    return ((n << 1) ^ (n >> (bits - 1))) & ((1 << bits) - 1)


class Writer:
    def __init__(self, version: int = 1) -> None:
        self.version = version

    @staticmethod
    def field_header(type_id: int, field_id: int) -> bytes:
        if field_id <= 5:
            return bytes([(field_id << 5) | type_id])
        if field_id <= 0xFF:
            return bytes([0xC0 | type_id, field_id])
        return bytes([0xE0 | type_id, field_id & 0xFF, field_id >> 8])

    def value(self, type_id: int, value: Any) -> bytes:
        if type_id == BT_BOOL:
            return b"\x01" if value else b"\x00"
        if type_id == BT_UINT8:
            return bytes([value])
        if type_id == BT_INT8:
            return bytes([value & 0xFF])
        if type_id in (BT_UINT16, BT_UINT32, BT_UINT64):
            return varint(value)
        if type_id in _SIGNED_BITS:
            return varint(zigzag(value, _SIGNED_BITS[type_id]))
        if type_id == BT_FLOAT:
            return _struct.pack("<f", value)
        if type_id == BT_DOUBLE:
            return _struct.pack("<d", value)
        if type_id == BT_STRING:
            raw = value.encode("utf-8")
            return varint(len(raw)) + raw
        if type_id == BT_WSTRING:
            raw = value.encode("utf-16-le")
            return varint(len(raw) // 2) + raw
        if type_id == BT_STRUCT:
            return self.struct(value)
        if type_id in (BT_LIST, BT_SET):
            return self.container(value)
        if type_id == BT_MAP:
            body = b"".join(self.value(value.key_type, k) + self.value(value.value_type, v)
                            for k, v in value.items)
            return bytes([value.key_type, value.value_type]) + varint(len(value.items)) + body
        raise ValueError(f"cannot write type {type_id}")

    def container(self, value: BondList) -> bytes:
        count = len(value.items)
        if self.version == 2 and count < 7:
            head = bytes([((count + 1) << 5) | value.element_type])
        else:
            head = bytes([value.element_type]) + varint(count)
        return head + b"".join(self.value(value.element_type, v) for v in value.items)

    def struct(self, value: BondStruct) -> bytes:
        parts = []
        last = len(value.levels) - 1
        for i, level in enumerate(value.levels):
            for field_id, (type_id, v) in level.items():
                parts.append(self.field_header(type_id, field_id) + self.value(type_id, v))
            parts.append(bytes([BT_STOP if i == last else BT_STOP_BASE]))
        body = b"".join(parts)
        return varint(len(body)) + body if self.version == 2 else body


def struct_of(fields: dict[int, tuple[int, Any]], *base: dict[int, tuple[int, Any]]
              ) -> BondStruct:
    """A struct; `base` levels (least derived first) precede the given fields."""
    return BondStruct([*base, fields])


# -- CsProtocol Records as the 1DS C++ SDK writes them ----------------------------------------

PII = {"DistinguishedName": 1, "GenericData": 2, "IPV4Address": 3, "IPv6Address": 4,
       "MailSubject": 5, "PhoneNumber": 6, "QueryString": 7, "SipAddress": 8,
       "SmtpAddress": 9, "Identity": 10, "Uri": 11, "Fqdn": 12, "IPV4AddressLegacy": 13}


def ticks(t: datetime) -> int:
    delta = t - datetime(1970, 1, 1, tzinfo=t.tzinfo)
    return (TICKS_AT_EPOCH + (delta.days * 86400 + delta.seconds) * 10_000_000
            + delta.microseconds * 10)


def _guid_bytes(text: str) -> BondList:
    return BondList(BT_UINT8, list(uuid.UUID(text).bytes_le))


def _array(kind_code: int, field_id: int, element_type: int, items: list[Any]
           ) -> dict[int, tuple[int, Any]]:
    return {1: (BT_INT32, kind_code),
            field_id: (BT_LIST, BondList(BT_LIST, [BondList(element_type, items)]))}


def property_value(value: Any, pii: str | None = None, customer: bool = False,
                   kind: str | None = None) -> BondStruct:
    """A CsProtocol Value; `kind` picks int32/uint32/uint64, datetime, guid and their arrays."""
    fields: dict[int, tuple[int, Any]]
    if kind == "guid":
        fields = {1: (BT_INT32, 8),
                  6: (BT_LIST, BondList(BT_LIST, [_guid_bytes(value)]))}
    elif kind == "guid[]":
        fields = {1: (BT_INT32, 17),
                  13: (BT_LIST, BondList(BT_LIST, [BondList(BT_LIST, [_guid_bytes(g)
                                                                      for g in value])]))}
    elif kind == "datetime":
        fields = {1: (BT_INT32, 7), 4: (BT_INT64, ticks(value))}
    elif kind == "datetime[]":
        fields = _array(16, 11, BT_INT64, [ticks(v) for v in value])
    elif isinstance(value, bool):
        fields = {1: (BT_INT32, 6), 4: (BT_INT64, int(value))}
    elif isinstance(value, int):
        # Only ValueString is the schema default (and omitted); ValueInt64 (0) is written.
        code = {"int32": 2, "uint32": 3, "uint64": 1}.get(kind or "", 0)
        fields = {1: (BT_INT32, code),
                  4: (BT_INT64, value - (1 << 64) if value >= 1 << 63 else value)}
    elif isinstance(value, float):
        fields = {1: (BT_INT32, 4), 5: (BT_DOUBLE, value)}
    elif isinstance(value, str):
        fields = {3: (BT_STRING, value)}  # ValueString is the default and omitted
    elif all(isinstance(v, bool) for v in value):
        fields = _array(15, 11, BT_INT64, [int(v) for v in value])
    elif all(isinstance(v, int) for v in value):
        code = {"uint64[]": 10, "int32[]": 11, "uint32[]": 12}.get(kind or "", 9)
        fields = _array(code, 11, BT_INT64,
                        [v - (1 << 64) if v >= 1 << 63 else v for v in value])
    elif all(isinstance(v, float) for v in value):
        fields = _array(13, 12, BT_DOUBLE, value)
    else:
        fields = _array(14, 10, BT_STRING, value)
    if pii or customer:
        attribute: dict[int, tuple[int, Any]] = {}
        if pii:
            attribute[1] = (BT_LIST, BondList(BT_STRUCT, [struct_of({1: (BT_INT32, PII[pii])})]))
        if customer:
            attribute[2] = (BT_LIST, BondList(BT_STRUCT, [struct_of({1: (BT_INT32, 1)})]))
        fields[2] = (BT_LIST, BondList(BT_STRUCT, [struct_of(attribute)]))
    return struct_of(fields)


def data_bag(properties: dict[str, Any]) -> BondList:
    """`vector<Data>` with one property bag; a property may be a value or a dict with
    `value` and any of `pii`, `customer`, `kind`."""
    items = []
    for name, spec in properties.items():
        if isinstance(spec, dict) and "value" in spec:
            value = property_value(spec["value"], spec.get("pii"), spec.get("customer", False),
                                   spec.get("kind"))
        else:
            value = property_value(spec)
        items.append((name, value))
    return BondList(BT_STRUCT, [struct_of({1: (BT_MAP, BondMap(BT_STRING, BT_STRUCT, items))})])


_EXT_TYPES = {("os", "bootId"): BT_INT32, ("app", "asId"): BT_INT32, ("utc", "cat"): BT_INT64,
              ("utc", "flags"): BT_INT64, ("utc", "seq"): BT_INT64,
              ("utc", "eventFlags"): BT_INT64, ("utc", "popSample"): BT_DOUBLE,
              ("sdk", "seq"): BT_INT64, ("protocol", "metadataCrc"): BT_INT32,
              ("ingest", "time"): BT_INT64, ("m365a", "msp"): BT_UINT64,
              ("protocol", "msp"): BT_UINT64}


def record(rec: dict[str, Any]) -> BondStruct:
    """A Record from Common Schema JSON-like input (`ext`, `data`, `baseData`, ...)."""
    fields: dict[int, tuple[int, Any]] = {
        1: (BT_STRING, rec.get("ver", "4.0")),
        2: (BT_STRING, rec["name"]),
        3: (BT_INT64, ticks(rec["time"])),
    }
    if rec.get("popSample", 100.0) != 100.0:
        fields[4] = (BT_DOUBLE, rec["popSample"])
    if "iKey" in rec:
        fields[5] = (BT_STRING, rec["iKey"])
    if "flags" in rec:
        fields[6] = (BT_INT64, rec["flags"])
    if "cV" in rec:
        fields[7] = (BT_STRING, rec["cV"])
    ordinals = {name: fid for fid, name in EXTENSIONS.items()}
    for name, values in rec.get("ext", {}).items():
        names = {n: fid for fid, n in EXTENSION_FIELDS[name].items()}
        inner: dict[int, tuple[int, Any]] = {}
        for key, v in values.items():
            if (name, key) == ("protocol", "ticketKeys"):
                inner[names[key]] = (BT_LIST, BondList(BT_LIST, [BondList(BT_STRING, v)]))
            else:
                inner[names[key]] = (_EXT_TYPES.get((name, key), BT_STRING), v)
        fields[ordinals[name]] = (BT_LIST, BondList(BT_STRUCT, [struct_of(inner)]))
    if "tags" in rec:
        fields[51] = (BT_MAP, BondMap(BT_STRING, BT_STRING, list(rec["tags"].items())))
    if "baseType" in rec:
        fields[60] = (BT_STRING, rec["baseType"])
    if "baseData" in rec:
        fields[61] = (BT_LIST, data_bag(rec["baseData"]))
    fields[70] = (BT_LIST, data_bag(rec.get("data", {})))
    return struct_of(fields)


def records_body(records: list[dict[str, Any]], version: int = 1) -> bytes:
    writer = Writer(version)
    return b"".join(writer.struct(record(r)) for r in records)
