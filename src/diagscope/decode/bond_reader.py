"""A schema-less reader for Bond Compact Binary, protocol versions 1 and 2.

Written from the Bond specification (CompactBinary.cs, compact_binary.h, bond_const.bond).
Every type is read, not only the ones 1DS uses, so unknown structures can still be shown
as evidence. The result is a tree that keeps Bond's types:

- a struct is a `BondStruct`: one dict per inheritance level (base first), each mapping a
  field id to `(type id, value)`;
- lists and sets are `BondList` (element type, items, is_set); maps are `BondMap`;
- integers are `int`, float/double `float`, bool `bool`, string/wstring `str`.

Input is untrusted: every count and length is checked against the bytes left and against
`BondLimits` before anything is allocated, nesting depth is bounded, and every failure is
a `BondError` carrying the byte offset where reading stopped.

This module is the reference. Installing the package also compiles it with mypyc, as
`_bond_native`; `diagscope.decode.bond` picks which one runs. Keep it to what mypyc
compiles (plain classes, annotated functions): the build type-checks it first.
"""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BT_BOOL", "BT_DOUBLE", "BT_FLOAT", "BT_INT8", "BT_INT16", "BT_INT32", "BT_INT64",
    "BT_LIST", "BT_MAP", "BT_SET", "BT_STOP", "BT_STOP_BASE", "BT_STRING", "BT_STRUCT",
    "BT_UINT8", "BT_UINT16", "BT_UINT32", "BT_UINT64", "BT_WSTRING", "COMPACT_PROTOCOL",
    "TYPE_NAMES", "BondError", "BondLimits", "BondList", "BondMap", "BondStruct",
    "CompactReader", "marshalled_header", "read_structs", "to_jsonable", "zigzag_decode",
]

BT_STOP = 0
BT_STOP_BASE = 1
BT_BOOL = 2
BT_UINT8 = 3
BT_UINT16 = 4
BT_UINT32 = 5
BT_UINT64 = 6
BT_FLOAT = 7
BT_DOUBLE = 8
BT_STRING = 9
BT_STRUCT = 10
BT_LIST = 11
BT_SET = 12
BT_MAP = 13
BT_INT8 = 14
BT_INT16 = 15
BT_INT32 = 16
BT_INT64 = 17
BT_WSTRING = 18

TYPE_NAMES = {
    BT_BOOL: "bool", BT_UINT8: "uint8", BT_UINT16: "uint16", BT_UINT32: "uint32",
    BT_UINT64: "uint64", BT_FLOAT: "float", BT_DOUBLE: "double", BT_STRING: "string",
    BT_STRUCT: "struct", BT_LIST: "list", BT_SET: "set", BT_MAP: "map", BT_INT8: "int8",
    BT_INT16: "int16", BT_INT32: "int32", BT_INT64: "int64", BT_WSTRING: "wstring",
}

COMPACT_PROTOCOL = 0x4243  # "CB" little-endian: bytes 43 42

_UNSIGNED_BITS = {BT_UINT16: 16, BT_UINT32: 32, BT_UINT64: 64}
_SIGNED_BITS = {BT_INT16: 16, BT_INT32: 32, BT_INT64: 64}
_FLOAT = _struct.Struct("<f").unpack_from
_DOUBLE = _struct.Struct("<d").unpack_from


class BondError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.offset = offset


@dataclass(slots=True, frozen=True)
class BondLimits:
    max_depth: int = 64
    max_container: int = 1_000_000
    max_string: int = 16 * 1024 * 1024


@dataclass(slots=True)
class BondStruct:
    levels: list[dict[int, tuple[int, Any]]] = field(default_factory=list)

    @property
    def fields(self) -> dict[int, tuple[int, Any]]:
        """The most derived level (the only one for structs without a base)."""
        return self.levels[-1] if self.levels else {}

    def get(self, field_id: int, default: Any = None) -> Any:
        entry = self.fields.get(field_id)
        return default if entry is None else entry[1]


@dataclass(slots=True)
class BondList:
    element_type: int
    items: list[Any]
    is_set: bool = False


@dataclass(slots=True)
class BondMap:
    key_type: int
    value_type: int
    items: list[tuple[Any, Any]]


def zigzag_decode(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


class CompactReader:
    """Reads values from `data` starting at `pos`; `version` is 1 or 2."""

    __slots__ = ("_readers", "data", "end", "limits", "pos", "version")

    def __init__(self, data: bytes | memoryview, *, version: int = 1, pos: int = 0,
                 limits: BondLimits | None = None) -> None:
        if version not in (1, 2):
            raise BondError(f"unsupported Compact Binary version {version}", pos)
        self.data = bytes(data)
        self.pos = pos
        self.end = len(self.data)
        self.version = version
        self.limits = limits or BondLimits()
        self._readers = self._readers_table()

    # -- primitives ------------------------------------------------------------------------

    def varint(self, bits: int = 64) -> int:
        data, pos, end = self.data, self.pos, self.end
        if pos < end and data[pos] < 0x80:  # one byte: by far the most common case
            self.pos = pos + 1
            return data[pos]
        result = shift = 0
        while True:
            if pos >= end:
                raise BondError("truncated varint", pos)
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= bits:
                raise BondError(f"varint longer than {bits} bits", pos)
        if result >> bits:
            raise BondError(f"varint does not fit {bits} bits", self.pos)
        self.pos = pos
        return result

    def byte(self) -> int:
        if self.pos >= self.end:
            raise BondError("unexpected end of data", self.pos)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def _take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise BondError(f"{n} bytes needed, {self.end - self.pos} left", self.pos)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _count(self, n: int, what: str, min_size: int = 1) -> int:
        # Every element takes at least one byte, so a count larger than what is left is a lie.
        if n > self.limits.max_container:
            raise BondError(f"{what} of {n} elements exceeds the limit", self.pos)
        if n * min_size > self.end - self.pos:
            raise BondError(f"{what} of {n} elements does not fit the remaining bytes", self.pos)
        return n

    def string(self) -> str:
        n = self.varint(32)
        if n > self.limits.max_string:
            raise BondError(f"string of {n} bytes exceeds the limit", self.pos)
        return self._take(n).decode("utf-8", "replace")

    def wstring(self) -> str:
        n = self.varint(32)
        if n * 2 > self.limits.max_string:
            raise BondError(f"wstring of {n} code units exceeds the limit", self.pos)
        return self._take(n * 2).decode("utf-16-le", "replace")

    # -- values ----------------------------------------------------------------------------

    def value(self, type_id: int, depth: int = 0) -> Any:
        reader = self._readers.get(type_id)
        if reader is None:
            raise BondError(f"unknown type id {type_id}", self.pos)
        return reader(depth)

    def _bool(self, _depth: int) -> bool:
        b = self.byte()
        if b > 1:
            raise BondError(f"bool byte {b}", self.pos - 1)
        return b == 1

    def _int8(self, _depth: int) -> int:
        b = self.byte()
        return b - 256 if b > 127 else b

    def _readers_table(self) -> dict[int, Any]:
        varint, zz = self.varint, zigzag_decode
        return {
            BT_STRING: lambda _d: self.string(),
            BT_INT64: lambda _d: zz(varint(64)),
            BT_INT32: lambda _d: zz(varint(32)),
            BT_INT16: lambda _d: zz(varint(16)),
            BT_UINT64: lambda _d: varint(64),
            BT_UINT32: lambda _d: varint(32),
            BT_UINT16: lambda _d: varint(16),
            BT_STRUCT: lambda d: self.struct(d + 1),
            BT_LIST: lambda d: self.container(False, d + 1),
            BT_SET: lambda d: self.container(True, d + 1),
            BT_MAP: lambda d: self.map(d + 1),
            BT_BOOL: self._bool,
            BT_UINT8: lambda _d: self.byte(),
            BT_INT8: self._int8,
            BT_DOUBLE: lambda _d: _DOUBLE(self._take(8))[0],
            BT_FLOAT: lambda _d: _FLOAT(self._take(4))[0],
            BT_WSTRING: lambda _d: self.wstring(),
        }

    def _check_depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise BondError(f"nesting deeper than {self.limits.max_depth}", self.pos)

    def container(self, is_set: bool, depth: int) -> BondList:
        self._check_depth(depth)
        header = self.byte()
        element_type = header & 0x1F
        if self.version == 2 and header >> 5:
            count = (header >> 5) - 1
        elif header >> 5:
            raise BondError(f"v1 container header {header:#x} has count bits", self.pos - 1)
        else:
            count = self.varint(32)
        self._count(count, "list" if not is_set else "set")
        read = self.value
        return BondList(element_type, [read(element_type, depth) for _ in range(count)], is_set)

    def map(self, depth: int) -> BondMap:
        self._check_depth(depth)
        key_type = self.byte() & 0x1F
        value_type = self.byte() & 0x1F
        count = self._count(self.varint(32), "map", 2)
        read = self.value
        return BondMap(key_type, value_type,
                       [(read(key_type, depth), read(value_type, depth)) for _ in range(count)])

    def field_header(self) -> tuple[int, int]:
        b = self.byte()
        type_id, field_id = b & 0x1F, b >> 5
        if field_id == 6:
            field_id = self.byte()
        elif field_id == 7:
            lo = self.byte()
            field_id = lo | self.byte() << 8
        return type_id, field_id

    def struct(self, depth: int = 0) -> BondStruct:
        self._check_depth(depth)
        end = None
        if self.version == 2:
            length = self.varint(32)
            if length > self.end - self.pos:
                raise BondError(f"struct of {length} bytes does not fit", self.pos)
            end = self.pos + length
        result = BondStruct([{}])
        level = result.levels[0]
        read = self.value
        data, stop = self.data, self.end
        while True:
            # The field header, inlined: this loop runs for every field of every record.
            pos = self.pos
            if pos >= stop:
                raise BondError("unexpected end of data", pos)
            b = data[pos]
            type_id, field_id = b & 0x1F, b >> 5
            if field_id < 6:
                self.pos = pos + 1
            elif field_id == 6:
                if pos + 1 >= stop:
                    raise BondError("unexpected end of data", pos + 1)
                field_id = data[pos + 1]
                self.pos = pos + 2
            else:
                if pos + 2 >= stop:
                    raise BondError("unexpected end of data", pos + 1)
                field_id = data[pos + 1] | data[pos + 2] << 8
                self.pos = pos + 3
            if type_id == BT_STOP:
                break
            if type_id == BT_STOP_BASE:
                level = {}
                result.levels.append(level)
                continue
            level[field_id] = (type_id, read(type_id, depth))
        if end is not None and self.pos != end:
            raise BondError(f"struct length says {end}, fields end at {self.pos}", self.pos)
        return result

    # -- skipping --------------------------------------------------------------------------

    def skip(self, type_id: int, depth: int = 0) -> None:
        """Move past one value of any type without building it."""
        if type_id in _SIGNED_BITS or type_id in _UNSIGNED_BITS:
            self.varint(64)
        elif type_id == BT_STRING:
            self._take(self.varint(32))
        elif type_id == BT_WSTRING:
            self._take(2 * self.varint(32))
        elif type_id in (BT_BOOL, BT_UINT8, BT_INT8):
            self.byte()
        elif type_id == BT_FLOAT:
            self._take(4)
        elif type_id == BT_DOUBLE:
            self._take(8)
        elif type_id == BT_STRUCT:
            self._check_depth(depth + 1)
            if self.version == 2:
                self._take(self.varint(32))
                return
            while True:
                field_type, _ = self.field_header()
                if field_type == BT_STOP:
                    return
                if field_type != BT_STOP_BASE:
                    self.skip(field_type, depth + 1)
        elif type_id in (BT_LIST, BT_SET):
            self._check_depth(depth + 1)
            header = self.byte()
            count = (header >> 5) - 1 if self.version == 2 and header >> 5 else self.varint(32)
            for _ in range(self._count(count, "list")):
                self.skip(header & 0x1F, depth + 1)
        elif type_id == BT_MAP:
            self._check_depth(depth + 1)
            key_type, value_type = self.byte() & 0x1F, self.byte() & 0x1F
            for _ in range(self._count(self.varint(32), "map", 2)):
                self.skip(key_type, depth + 1)
                self.skip(value_type, depth + 1)
        else:
            raise BondError(f"unknown type id {type_id}", self.pos)


def marshalled_header(data: bytes) -> int | None:
    """The protocol version of a marshalled payload (`CB` magic + version), else None."""
    if len(data) >= 4 and data[:2] == b"CB" and data[3] == 0 and data[2] in (1, 2):
        return data[2]
    return None


def read_structs(data: bytes, *, version: int | None = None,
                 limits: BondLimits | None = None) -> tuple[list[BondStruct], BondError | None]:
    """Back-to-back structs until the end; the ones before any damage are kept."""
    start = 0
    marshalled = marshalled_header(data)
    if marshalled is not None:
        version, start = marshalled, 4
    reader = CompactReader(data, version=version or 1, pos=start, limits=limits)
    out: list[BondStruct] = []
    while reader.pos < reader.end:
        begin = reader.pos
        try:
            out.append(reader.struct())
        except BondError as exc:
            return out, exc
        except RecursionError:
            return out, BondError(f"nesting too deep in the struct starting at {begin}",
                                  reader.pos)
    return out, None


def to_jsonable(value: Any) -> Any:
    """A generic tree as plain JSON, Bond types spelled out (for showing unknown data)."""
    if isinstance(value, BondStruct):
        levels = [
            {str(fid): {"type": TYPE_NAMES.get(t, str(t)), "value": to_jsonable(v)}
             for fid, (t, v) in sorted(level.items())}
            for level in value.levels
        ]
        return levels[0] if len(levels) == 1 else {"levels": levels}
    if isinstance(value, BondList):
        return [to_jsonable(v) for v in value.items]
    if isinstance(value, BondMap):
        return [[to_jsonable(k), to_jsonable(v)] for k, v in value.items]
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value
