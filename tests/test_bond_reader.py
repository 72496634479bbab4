"""The Bond Compact Binary reader against the spec: byte vectors, every type, limits."""

from __future__ import annotations

import pytest
from bondwriter import Writer, struct_of, varint, zigzag
from hypothesis import given, settings
from hypothesis import strategies as st

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
    BondError,
    BondLimits,
    BondList,
    BondMap,
    BondStruct,
    CompactReader,
    read_structs,
    to_jsonable,
    zigzag_decode,
)


def read(data: bytes, version: int = 1, **limits: int) -> BondStruct:
    return CompactReader(data, version=version, limits=BondLimits(**limits)).struct()


# -- hand-checked vectors (wire-format.md §3) --------------------------------------------------

def test_record_cheat_sheet_prefix():
    # 29 03 34 2E 30 = field 1, BT_STRING, "4.0"; 49 = field 2 string; 71 = field 3 int64.
    data = bytes.fromhex("2903342e30" "4903414243" "71" "04" "00")
    s = read(data)
    assert s.fields == {1: (BT_STRING, "4.0"), 2: (BT_STRING, "ABC"), 3: (BT_INT64, 2)}


def test_two_and_three_byte_field_headers():
    # field 70 list<struct> count 1: CB 46 0A 01 <struct 00>; field 300 uint8: E3 2C 01 07.
    data = bytes.fromhex("cb460a0100" "e32c0107" "00")
    s = read(data)
    assert s.fields[70] == (BT_LIST, BondList(BT_STRUCT, [BondStruct([{}])]))
    assert s.fields[300] == (BT_UINT8, 7)


def test_zigzag_examples():
    assert [zigzag_decode(n) for n in (0, 1, 2, 3, 4)] == [0, -1, 1, -2, 2]
    data = bytes([(1 << 5) | BT_INT32]) + varint(zigzag(-2_000_000_000, 32)) + b"\x00"
    assert read(data).fields[1] == (BT_INT32, -2_000_000_000)


def test_varint_uint64_max():
    data = bytes([(1 << 5) | BT_UINT64]) + varint(2**64 - 1) + b"\x00"
    assert read(data).get(1) == 2**64 - 1


def test_scalars_of_every_type():
    fields = {
        1: (BT_BOOL, True), 2: (BT_UINT8, 255), 3: (BT_UINT16, 65535), 4: (BT_UINT32, 2**32 - 1),
        5: (BT_FLOAT, 1.5), 6: (BT_DOUBLE, -2.25), 7: (BT_STRING, "héllo"),
        8: (BT_INT8, -128), 9: (BT_INT16, -32768), 10: (BT_INT64, -(2**63)),
        11: (BT_WSTRING, "wïde 𝄞"),
    }
    assert read(Writer(1).struct(struct_of(fields))).fields == fields


def test_wstring_is_utf16_code_units():
    data = bytes([(1 << 5) | BT_WSTRING]) + varint(2) + "hi".encode("utf-16-le") + b"\x00"
    assert read(data).get(1) == "hi"


def test_inheritance_levels():
    s = struct_of({1: (BT_STRING, "derived")}, {1: (BT_STRING, "base")})
    data = Writer(1).struct(s)
    assert data == bytes.fromhex("2904") + b"base" + b"\x01" + bytes.fromhex("2907") + \
        b"derived" + b"\x00"
    assert read(data).levels == s.levels


def test_set_and_map_and_nested_containers():
    fields = {
        1: (BT_SET, BondList(BT_INT32, [1, -1], is_set=True)),
        2: (BT_MAP, BondMap(BT_STRING, BT_LIST, [("a", BondList(BT_UINT8, [1, 2]))])),
        3: (BT_LIST, BondList(BT_LIST, [BondList(BT_STRING, ["x"]), BondList(BT_STRING, [])])),
    }
    for version in (1, 2):
        assert read(Writer(version).struct(struct_of(fields)), version).fields == fields


def test_v2_short_list_header_and_struct_length():
    s = struct_of({1: (BT_LIST, BondList(BT_UINT8, [9, 8, 7]))})
    data = Writer(2).struct(s)
    # length 6, field header 2B, list header (3+1)<<5 | uint8 = 0x83, items, BT_STOP
    assert data == bytes.fromhex("06" "2b" "83" "090807" "00")
    assert read(data, 2) == s


def test_v1_rejects_v2_list_header():
    data = bytes.fromhex("2b" "83" "090807" "00")
    with pytest.raises(BondError, match="count bits"):
        read(data, 1)


def test_marshalled_header_is_honoured():
    s = struct_of({1: (BT_LIST, BondList(BT_UINT8, [1]))})
    structs, err = read_structs(b"CB\x02\x00" + Writer(2).struct(s))
    assert err is None and structs == [s]
    structs, err = read_structs(b"CB\x01\x00" + Writer(1).struct(s))
    assert err is None and structs == [s]


def test_skipping_every_type():
    fields = {
        1: (BT_BOOL, False), 2: (BT_DOUBLE, 1.0), 3: (BT_WSTRING, "w"),
        4: (BT_MAP, BondMap(BT_INT32, BT_STRUCT, [(1, struct_of({1: (BT_FLOAT, 0.5)}))])),
        5: (BT_LIST, BondList(BT_STRUCT, [struct_of({2: (BT_STRING, "s")},
                                                    {1: (BT_INT64, 5)})])),
        6: (BT_INT8, 3), 7: (BT_UINT64, 99),
    }
    for version in (1, 2):
        data = Writer(version).struct(struct_of(fields)) + b"tail"
        reader = CompactReader(data, version=version)
        reader.skip(BT_STRUCT)
        assert data[reader.pos:] == b"tail"


# -- hostile input ---------------------------------------------------------------------------

def test_huge_count_is_refused_before_allocating():
    data = bytes([(1 << 5) | BT_LIST, BT_INT64]) + varint(500_000) + b"\x00"
    with pytest.raises(BondError, match="does not fit"):
        read(data)
    data = bytes([(1 << 5) | BT_LIST, BT_INT64]) + varint(2**31) + b"\x00"
    with pytest.raises(BondError, match="exceeds the limit"):
        read(data)
    data = bytes([(1 << 5) | BT_MAP, BT_STRING, BT_STRING]) + varint(10**6) + b"\x00"
    with pytest.raises(BondError, match="does not fit"):
        read(data)


def test_container_limit():
    data = Writer(1).struct(struct_of({1: (BT_LIST, BondList(BT_UINT8, [1] * 50))}))
    with pytest.raises(BondError, match="exceeds the limit"):
        read(data, max_container=10)


def test_string_limit_and_truncation():
    long = Writer(1).struct(struct_of({1: (BT_STRING, "x" * 100)}))
    with pytest.raises(BondError, match="exceeds the limit"):
        read(long, max_string=50)
    with pytest.raises(BondError, match="bytes needed") as err:
        read(long[:40])
    assert err.value.offset == 2


def test_depth_limit_instead_of_recursion_error():
    nested: BondStruct = struct_of({})
    for _ in range(80):
        nested = struct_of({1: (BT_STRUCT, nested)})
    data = Writer(1).struct(nested)
    with pytest.raises(BondError, match="nesting deeper"):
        read(data)
    assert read(data, max_depth=100) == nested


def test_unknown_type_and_bad_bool():
    with pytest.raises(BondError, match="unknown type id 19"):
        read(bytes([(1 << 5) | 19, 0]))
    with pytest.raises(BondError, match="bool byte"):
        read(bytes([(1 << 5) | BT_BOOL, 7, 0]))


def test_overlong_varint():
    with pytest.raises(BondError, match="varint"):
        read(bytes([(1 << 5) | BT_UINT32]) + b"\xff" * 6 + b"\x01\x00")


def test_to_jsonable_names_types():
    s = struct_of({1: (BT_STRING, "a"), 2: (BT_LIST, BondList(BT_INT32, [1]))})
    assert to_jsonable(s) == {"1": {"type": "string", "value": "a"},
                              "2": {"type": "list", "value": [1]}}


# -- property tests ----------------------------------------------------------------------------

def _scalar(type_id: int) -> st.SearchStrategy:
    return {
        BT_BOOL: st.booleans(),
        BT_UINT8: st.integers(0, 255), BT_UINT16: st.integers(0, 2**16 - 1),
        BT_UINT32: st.integers(0, 2**32 - 1), BT_UINT64: st.integers(0, 2**64 - 1),
        BT_INT8: st.integers(-128, 127), BT_INT16: st.integers(-(2**15), 2**15 - 1),
        BT_INT32: st.integers(-(2**31), 2**31 - 1), BT_INT64: st.integers(-(2**63), 2**63 - 1),
        BT_FLOAT: st.floats(width=32, allow_nan=False),
        BT_DOUBLE: st.floats(allow_nan=False),
        BT_STRING: st.text(max_size=20), BT_WSTRING: st.text(max_size=10),
    }[type_id]


SCALARS = [BT_BOOL, BT_UINT8, BT_UINT16, BT_UINT32, BT_UINT64, BT_INT8, BT_INT16, BT_INT32,
           BT_INT64, BT_FLOAT, BT_DOUBLE, BT_STRING, BT_WSTRING]


@st.composite
def typed_values(draw: st.DrawFn, depth: int = 0) -> tuple[int, object]:
    kinds = SCALARS + ([BT_LIST, BT_SET, BT_MAP, BT_STRUCT] if depth < 3 else [])
    type_id = draw(st.sampled_from(kinds))
    if type_id in SCALARS:
        return type_id, draw(_scalar(type_id))
    if type_id == BT_STRUCT:
        return type_id, draw(structs(depth + 1))
    if type_id == BT_MAP:
        key_type = draw(st.sampled_from([BT_STRING, BT_INT32, BT_UINT64]))
        value_type, _ = draw(typed_values(depth + 1))
        keys = draw(st.lists(_scalar(key_type), max_size=4, unique=True))
        values = [draw(_of_type(value_type, depth + 1)) for _ in keys]
        return type_id, BondMap(key_type, value_type, list(zip(keys, values, strict=True)))
    element_type, _ = draw(typed_values(depth + 1))
    items = draw(st.lists(_of_type(element_type, depth + 1), max_size=9))
    return type_id, BondList(element_type, items, is_set=type_id == BT_SET)


def _of_type(type_id: int, depth: int) -> st.SearchStrategy:
    if type_id in SCALARS:
        return _scalar(type_id)
    if type_id == BT_STRUCT:
        return structs(depth + 1)
    return typed_values(depth).filter(lambda tv: tv[0] == type_id).map(lambda tv: tv[1])


@st.composite
def structs(draw: st.DrawFn, depth: int = 0) -> BondStruct:
    levels = []
    for _ in range(draw(st.integers(1, 2))):
        ids = draw(st.lists(st.sampled_from([0, 1, 5, 6, 70, 255, 256, 999, 65535]),
                            max_size=4, unique=True))
        levels.append({i: draw(typed_values(depth)) for i in ids})
    return BondStruct(levels)


@settings(max_examples=150, deadline=None)
@given(structs(), st.sampled_from([1, 2]))
def test_round_trip(s, version):
    data = Writer(version).struct(s)
    assert read(data, version) == s
    reader = CompactReader(data + b"!", version=version)
    reader.skip(BT_STRUCT)
    assert reader.pos == len(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([1, 2]))
def test_random_bytes_never_raise_anything_but_bond_error(data, version):
    structs_read, error = read_structs(data, version=version)
    assert error is None or isinstance(error, BondError)
    assert error is not None or len(data) == 0 or structs_read
