"""Walks Bond's cross-language `Compat` object along its schema (test-only code).

The data in `fixtures/bond-compat/` is one object that Microsoft Bond serialised as Compact
Binary v1, v2 and Simple JSON. Diagscope's reader is schema-less, so to compare its output
with the JSON this module brings the schema back: field ids become JSON names, wire type ids
are checked against the declared types, absent fields take their schema defaults (Compact
Binary omits optional fields that hold their default; Simple JSON writes every field that is
not `nothing`), and inheritance levels are flattened into one object as Simple JSON does.

Bond's generator ran slightly differently for the JSON file (`RandomProtocolReader` with
`json=true`, see `cpp/test/compat/core/serialization.cpp` and
`cpp/inc/bond/protocol/random_protocol.h`):

- every uint64 it drew was shifted right one bit, so a random uint64 on the wire is compared
  as `value >> 1`; uint64 values that are not random (the schema defaults inside
  `m_defaults`) are compared as they are;
- `Containers.l_uint64` of the top-level object got no appended "interesting" constants, so
  the binary list is the JSON list followed by exactly `UINT64_CONSTANTS`.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
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
    BT_STRING,
    BT_STRUCT,
    BT_UINT8,
    BT_UINT16,
    BT_UINT32,
    BT_UINT64,
    BT_WSTRING,
    TYPE_NAMES,
    BondList,
    BondMap,
    BondStruct,
)

SCALAR_WIRE = {
    "bool": BT_BOOL, "int8": BT_INT8, "int16": BT_INT16, "int32": BT_INT32,
    "int64": BT_INT64, "uint8": BT_UINT8, "uint16": BT_UINT16, "uint32": BT_UINT32,
    "uint64": BT_UINT64, "float": BT_FLOAT, "double": BT_DOUBLE, "string": BT_STRING,
    "wstring": BT_WSTRING,
}
# Enums travel as int32; nullable<T> and blob are lists on the wire (of T and of int8).
COMPOUND_WIRE = {
    "enum": BT_INT32, "struct": BT_STRUCT, "bonded": BT_STRUCT, "list": BT_LIST,
    "set": BT_SET, "map": BT_MAP, "nullable": BT_LIST, "blob": BT_LIST,
}
INTEGER_KINDS = frozenset(
    {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "enum", "blob"}
)
FLOAT_KINDS = frozenset({"float", "double"})
STRING_KINDS = frozenset({"string", "wstring"})

# What serialization.cpp appends to l_uint64 for every protocol but JSON: the C limits cast
# to uint64, in this order.
_U64 = 1 << 64
UINT64_CONSTANTS: tuple[int, ...] = tuple(
    v % _U64 for v in (
        -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        127, -128, 255,                          # SCHAR_MAX, SCHAR_MIN, UCHAR_MAX
        -(2**15), 2**15 - 1, 2**16 - 1,          # SHRT_MIN, SHRT_MAX, USHRT_MAX
        -(2**31), 2**31 - 1, 2**32 - 1,          # INT_MIN, INT_MAX, UINT_MAX
        2**63 - 1, -(2**63), 2**64 - 1,          # LLONG_MAX, LLONG_MIN, ULLONG_MAX
    )
)
# serialization.cpp fills Compat.m_defaults from defaults, not from the generator.
NOT_RANDOM_FIELDS = frozenset({("Compat", "m_defaults")})
CONSTANT_TAILS = {("Containers", "l_uint64"): UINT64_CONSTANTS}

_DOUBLE_BITS = struct.Struct("<d").pack


def same_float(a: float, b: float) -> bool:
    """Bit equality: tells -0.0 from 0.0, which `==` does not."""
    return _DOUBLE_BITS(a) == _DOUBLE_BITS(b)


# -- schema ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BType:
    """A resolved schema type; `args` are element types or generic arguments."""

    kind: str
    args: tuple[BType, ...] = ()
    name: str = ""

    @property
    def wire(self) -> int:
        return SCALAR_WIRE.get(self.kind) or COMPOUND_WIRE[self.kind]

    def __str__(self) -> str:
        label = self.name or self.kind
        return f"{label}<{','.join(map(str, self.args))}>" if self.args else label


@dataclass(frozen=True, slots=True)
class Field:
    id: int
    name: str
    json_key: str
    type: BType
    modifier: str
    default: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Level:
    struct: str
    fields: tuple[Field, ...]


BLOB_BYTE = BType("blob")


def _split_args(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


class CompatSchema:
    """The parsed `.bond` schema (`compat.schema.json`) with generics resolved on demand."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.root: str = doc["root"]
        self.structs: dict[str, dict[str, Any]] = doc["structs"]
        self.enums: dict[str, dict[str, int]] = doc["enums"]
        self._levels: dict[BType, tuple[Level, ...]] = {}

    def parse(self, text: str, env: dict[str, BType] | None = None) -> BType:
        text = text.strip()
        env = env or {}
        head, _, rest = text.partition("<")
        head = head.strip().rsplit(".", 1)[-1]  # namespaces do not matter: names are unique
        args = [self.parse(a, env) for a in _split_args(rest[:-1])] if rest else []
        if not args and head in env:
            return env[head]
        if head in SCALAR_WIRE:
            return BType(head)
        if head == "blob":
            return BType("blob")
        if head == "vector":
            return BType("list", tuple(args))
        if head in ("list", "set", "map", "nullable", "bonded"):
            return BType(head, tuple(args))
        if head in self.enums:
            return BType("enum", name=head)
        if head in self.structs:
            return BType("struct", tuple(args), head)
        raise KeyError(f"unknown type {text!r}")

    def levels(self, t: BType) -> tuple[Level, ...]:
        """The inheritance chain of struct type `t`, base first, as Compact Binary lays it out."""
        cached = self._levels.get(t)
        if cached is not None:
            return cached
        decl = self.structs[t.name]
        env = dict(zip(decl["params"], t.args, strict=True))
        base = self.levels(self.parse(decl["base"], env)) if decl["base"] else ()
        own = tuple(
            Field(f["id"], f["name"], f.get("json_name") or f["name"], self.parse(f["type"], env),
                  f["modifier"], f.get("default"))
            for f in decl["fields"]
        )
        result = (*base, Level(t.name, own))
        self._levels[t] = result
        return result

    def default(self, f: Field) -> Any:
        """The value an absent scalar field stands for."""
        kind, spec = f.type.kind, f.default or {}
        if "enum" in spec:
            return self.enums[f.type.name][spec["enum"]]
        if kind == "bool":
            return bool(spec.get("bool", False))
        if kind in FLOAT_KINDS:
            return float(spec.get("float", spec.get("int", 0)))
        if kind in STRING_KINDS:
            return str(spec.get("string", ""))
        return int(spec.get("int", 0))


# -- Simple JSON comparison ----------------------------------------------------------------------

def count_json_values(doc: Any) -> Counter[str]:
    """Every scalar the JSON document holds, by JSON type (independent of the schema)."""
    counts: Counter[str] = Counter()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        else:
            counts[type(node).__name__] += 1
    return counts


@dataclass
class JsonComparison:
    """Compares a decoded tree with the Simple JSON of the same object, value by value.

    `compared` counts JSON values by schema kind; `from_defaults` counts the subset that came
    from schema defaults because the binary omitted the field; `binary_only` counts wire
    values the JSON run never produced (the l_uint64 constants).
    """

    schema: CompatSchema
    compared: Counter[str] = field(default_factory=Counter)
    from_defaults: Counter[str] = field(default_factory=Counter)
    binary_only: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def run(self, root: BondStruct, doc: Any) -> None:
        self.struct(self.schema.parse(self.schema.root), root, doc, "$", random=True)

    def _fail(self, path: str, message: str) -> None:
        self.mismatches.append(f"{path}: {message}")

    # scalars

    def scalar(self, t: BType, value: Any, js: Any, path: str, *, random: bool,
               default: bool = False) -> None:
        kind = t.kind
        self.compared[kind] += 1
        if default:
            self.from_defaults[kind] += 1
        elif kind == "uint64" and random:
            value >>= 1
        if kind == "bool":
            ok = value is js
        elif kind in INTEGER_KINDS:
            ok = type(js) is int and type(value) is int and value == js
        elif kind in FLOAT_KINDS:
            # Simple JSON prints a float widened to double, in digits that read back to that
            # same double, so float and double values alike can be compared bit for bit.
            ok = type(js) is float and type(value) is float and same_float(value, js)
        else:
            ok = type(js) is str and value == js
        if not ok:
            self._fail(path, f"{kind}: binary gives {value!r}, JSON holds {js!r}")

    # compound values

    def value(self, t: BType, wire_type: int, value: Any, js: Any, path: str, *,
              random: bool) -> None:
        if wire_type != t.wire:
            self._fail(path, f"wire type {TYPE_NAMES.get(wire_type, wire_type)} for {t}")
            return
        kind = t.kind
        if kind in SCALAR_WIRE or kind == "enum":
            self.scalar(t, value, js, path, random=random)
        elif kind in ("struct", "bonded"):
            target = t if kind == "struct" else t.args[0]
            self.struct(target, value, js, path, random=random)
        elif kind == "nullable":
            self.nullable(t, value, js, path, random=random)
        elif kind == "map":
            self.map(t, value, js, path, random=random)
        else:
            self.sequence(t, value, js, path, random=random)

    def _elements(self, t: BType, value: Any, path: str) -> tuple[BType, list[Any]] | None:
        element = BType("int8") if t.kind == "blob" else t.args[0]
        if not isinstance(value, BondList) or value.is_set != (t.kind == "set"):
            self._fail(path, f"{type(value).__name__} for {t}")
            return None
        if value.element_type != element.wire:
            self._fail(path, f"element type {TYPE_NAMES.get(value.element_type)} for {t}")
            return None
        return element, value.items

    def sequence(self, t: BType, value: Any, js: Any, path: str, *, random: bool,
                 tail: tuple[int, ...] = ()) -> None:
        found = self._elements(t, value, path)
        if found is None:
            return
        element, items = found
        if not isinstance(js, list):
            self._fail(path, f"JSON holds {type(js).__name__} for {t}")
            return
        if tail:
            items, extra = items[: len(items) - len(tail)], items[len(items) - len(tail):]
            self.binary_only[element.kind] += len(extra)
            if tuple(extra) != tail:
                self._fail(path, f"binary ends with {extra!r}, not the constants {tail!r}")
                return
        if len(items) != len(js):
            self._fail(path, f"{len(items)} elements in the binary, {len(js)} in JSON")
            return
        if t.kind == "blob":
            # Simple JSON writes a blob as its bytes, each a signed number like an int8;
            # they are counted apart from int8 values.
            for i, (item, js_item) in enumerate(zip(items, js, strict=True)):
                self.scalar(BLOB_BYTE, item, js_item, f"{path}[{i}]", random=random)
            return
        wire = element.wire
        for i, (item, js_item) in enumerate(zip(items, js, strict=True)):
            self.value(element, wire, item, js_item, f"{path}[{i}]", random=random)

    def nullable(self, t: BType, value: Any, js: Any, path: str, *, random: bool) -> None:
        found = self._elements(t, value, path)
        if found is None:
            return
        element, items = found
        if not items:
            self.compared["null"] += 1
            if js is not None:
                self._fail(path, f"empty nullable, JSON holds {js!r}")
        elif len(items) > 1:
            self._fail(path, f"nullable with {len(items)} values")
        elif not (isinstance(js, list) and len(js) == 1):
            # Simple JSON writes a set nullable as a one-element array.
            self._fail(path, f"set nullable, JSON holds {js!r}")
        else:
            self.value(element, element.wire, items[0], js[0], f"{path}[0]", random=random)

    def map(self, t: BType, value: Any, js: Any, path: str, *, random: bool) -> None:
        key_t, value_t = t.args
        if not isinstance(value, BondMap):
            self._fail(path, f"{type(value).__name__} for {t}")
            return
        if (value.key_type, value.value_type) != (key_t.wire, value_t.wire):
            self._fail(path, f"map<{value.key_type},{value.value_type}> for {t}")
            return
        # Simple JSON writes a map as one flat array: key, value, key, value, ...
        if not isinstance(js, list) or len(js) != 2 * len(value.items):
            self._fail(path, f"{len(value.items)} entries, JSON holds {js!r:.80}")
            return
        for i, (k, v) in enumerate(value.items):
            self.value(key_t, key_t.wire, k, js[2 * i], f"{path}{{{i}}}.key", random=random)
            self.value(value_t, value_t.wire, v, js[2 * i + 1], f"{path}{{{i}}}", random=random)

    def struct(self, t: BType, value: Any, js: Any, path: str, *, random: bool) -> None:
        levels = self.schema.levels(t)
        if not isinstance(value, BondStruct) or len(value.levels) != len(levels):
            got = len(value.levels) if isinstance(value, BondStruct) else type(value).__name__
            self._fail(path, f"{got} levels on the wire, {t} has {len(levels)}")
            return
        if not isinstance(js, dict):
            self._fail(path, f"JSON holds {type(js).__name__} for {t}")
            return
        seen: set[str] = set()
        for level, wire in zip(levels, value.levels, strict=True):
            known = {f.id for f in level.fields}
            for fid in sorted(set(wire) - known):
                self._fail(path, f"field id {fid} is not in {level.struct}")
            for f in level.fields:
                if f.json_key in seen:
                    self._fail(path, f"JSON name {f.json_key} used twice")
                seen.add(f.json_key)
                self.field(level.struct, f, wire.get(f.id), js, f"{path}.{f.json_key}",
                           random=random)
        for key in sorted(set(js) - seen):
            self._fail(path, f"JSON field {key!r} is not in {t}")

    def field(self, struct_name: str, f: Field, entry: tuple[int, Any] | None,
              js: dict[str, Any], path: str, *, random: bool) -> None:
        random = random and (struct_name, f.name) not in NOT_RANDOM_FIELDS
        present = f.json_key in js
        if entry is not None:
            if not present:
                self._fail(path, "on the wire but not in JSON")
                return
            wire_type, value = entry
            tail = CONSTANT_TAILS.get((struct_name, f.name), ()) if random else ()
            if tail and wire_type == f.type.wire:
                self.sequence(f.type, value, js[f.json_key], path, random=random, tail=tail)
            else:
                self.value(f.type, wire_type, value, js[f.json_key], path, random=random)
            return
        # Absent from the wire: the field holds its default, which Simple JSON writes out.
        if f.modifier == "required":
            self._fail(path, "required field missing from the wire")
        elif (f.default or {}).get("nothing"):
            if present:
                self._fail(path, f"field is 'nothing' but JSON holds {js[f.json_key]!r:.80}")
        elif not present:
            self._fail(path, "default not written to JSON")
        else:
            self.default(f, js[f.json_key], path, random=random)

    def default(self, f: Field, js: Any, path: str, *, random: bool) -> None:
        kind = f.type.kind
        if kind in SCALAR_WIRE or kind == "enum":
            self.scalar(f.type, self.schema.default(f), js, path, random=random, default=True)
        elif kind == "nullable":
            self.compared["null"] += 1
            self.from_defaults["null"] += 1
            if js is not None:
                self._fail(path, f"absent nullable, JSON holds {js!r:.80}")
        elif kind in ("struct", "bonded"):
            target = f.type if kind == "struct" else f.type.args[0]
            empty = BondStruct([{} for _ in self.schema.levels(target)])
            self.struct(target, empty, js, path, random=random)
        elif js != []:
            self._fail(path, f"absent {f.type}, JSON holds {js!r:.80}")


# -- v1 against v2 ------------------------------------------------------------------------------

@dataclass
class TreeComparison:
    """Compares two decoded trees structurally and value by value, without a schema."""

    compared: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def value(self, type_id: int, a: Any, b: Any, path: str) -> None:
        if type_id == BT_STRUCT:
            self.struct(a, b, path)
        elif type_id in (BT_LIST, BT_SET):
            if (a.element_type, a.is_set, len(a.items)) != (b.element_type, b.is_set,
                                                            len(b.items)):
                self.mismatches.append(f"{path}: {a.element_type}/{len(a.items)} vs "
                                       f"{b.element_type}/{len(b.items)}")
                return
            for i, (x, y) in enumerate(zip(a.items, b.items, strict=True)):
                self.value(a.element_type, x, y, f"{path}[{i}]")
        elif type_id == BT_MAP:
            if (a.key_type, a.value_type, len(a.items)) != (b.key_type, b.value_type,
                                                            len(b.items)):
                self.mismatches.append(f"{path}: map shapes differ")
                return
            for i, ((ka, va), (kb, vb)) in enumerate(zip(a.items, b.items, strict=True)):
                self.value(a.key_type, ka, kb, f"{path}{{{i}}}.key")
                self.value(a.value_type, va, vb, f"{path}{{{i}}}")
        else:
            self.compared[TYPE_NAMES[type_id]] += 1
            same = (same_float(a, b) if type_id in (BT_FLOAT, BT_DOUBLE)
                    else type(a) is type(b) and a == b)
            if not same:
                self.mismatches.append(f"{path}: {a!r} vs {b!r}")

    def struct(self, a: BondStruct, b: BondStruct, path: str) -> None:
        if len(a.levels) != len(b.levels):
            self.mismatches.append(f"{path}: {len(a.levels)} vs {len(b.levels)} levels")
            return
        for n, (la, lb) in enumerate(zip(a.levels, b.levels, strict=True)):
            if la.keys() != lb.keys():
                self.mismatches.append(f"{path}/{n}: field ids only on one side: "
                                       f"{sorted(la.keys() ^ lb.keys())}")
            for fid, (ta, va) in la.items():
                if fid not in lb:
                    continue
                tb, vb = lb[fid]
                if ta != tb:
                    self.mismatches.append(f"{path}/{n}.{fid}: type {ta} vs {tb}")
                else:
                    self.value(ta, va, vb, f"{path}/{n}.{fid}")

