"""The Bond reader against Microsoft Bond's own cross-language compatibility files.

Bond serialised one `Compat` object (every Bond type: nested and generic structs, inheritance,
lists, sets, maps, nullable, blob, bonded, enums, wstring, float and double) as Compact Binary
v1 and v2 and as Simple JSON. Both binary files are decoded here, walked with the schema and
compared value for value with the JSON and with each other (see `bond_compat.py` for the rules,
including the two ways the JSON run of Bond's generator differed).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from bond_compat import (
    UINT64_CONSTANTS,
    CompatSchema,
    JsonComparison,
    TreeComparison,
    count_json_values,
)

from diagscope.decode.bond import (
    BT_STRUCT,
    TYPE_NAMES,
    BondList,
    BondMap,
    BondStruct,
    CompactReader,
    read_structs,
)

FIXTURES = Path(__file__).parent / "fixtures" / "bond-compat"
SHA256 = {
    "compat.compact.dat": "e3923db72dab99e9f252a1e648668a5bbe32d441663b2f954593fbf5682b9e70",
    "compat.compact2.dat": "b3a0402bb447bb6098b7e3e190969a458b2c75da9d0193e7916d1b0ef6f5b8d2",
    "compat.json.dat.gz": "4a7bb5536a2bc69f7cbeb922a328083619f668834a5bb9183191141cf212b77e",
    "compat.schema.json": "f43aac001ee89b3b7e283fd7e2b65c7603fa223252cd1aef011a843057752778",
}
JSON_SHA256 = "5f537cf9484dd0f9269fc74118749c20b5134057c797e1589d261e0a63260af8"
FILES = {1: "compat.compact.dat", 2: "compat.compact2.dat"}

# Scalars (and nulls) in the JSON file, counted without the schema.
JSON_VALUES = 144_694
# Of these, the ones the binary files leave out because they hold the schema default.
DEFAULT_VALUES = 223
# Scalars on the wire of each binary file: the JSON values that are not defaults, plus the
# l_uint64 constants only the binary runs appended.
WIRE_VALUES = JSON_VALUES - DEFAULT_VALUES + len(UINT64_CONSTANTS)


def _decode(version: int) -> tuple[bytes, CompactReader, BondStruct]:
    data = (FIXTURES / FILES[version]).read_bytes()
    reader = CompactReader(data, version=version)
    return data, reader, reader.struct()


@pytest.fixture(scope="module")
def schema() -> CompatSchema:
    return CompatSchema(json.loads((FIXTURES / "compat.schema.json").read_text("utf-8")))


@pytest.fixture(scope="module")
def json_doc() -> Any:
    raw = gzip.decompress((FIXTURES / "compat.json.dat.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == JSON_SHA256
    return json.loads(raw)


@pytest.fixture(scope="module")
def decoded() -> dict[int, BondStruct]:
    trees = {}
    for version, name in FILES.items():
        structs, error = read_structs((FIXTURES / name).read_bytes(), version=version)
        assert error is None and len(structs) == 1
        trees[version] = structs[0]
    return trees


def _compare(schema: CompatSchema, tree: BondStruct, doc: Any) -> JsonComparison:
    comparison = JsonComparison(schema)
    comparison.run(tree, doc)
    return comparison


def test_fixtures_are_the_published_files():
    for name, digest in SHA256.items():
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name


def test_json_holds_the_expected_number_of_values(json_doc):
    counts = count_json_values(json_doc)
    assert sum(counts.values()) == JSON_VALUES
    assert counts == {"int": 137_433, "float": 6_419, "str": 693, "bool": 141, "NoneType": 8}


def _type_ids(value: Any) -> set[int]:
    """Every type id the tree carries: field types, element types, key and value types."""
    found: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, BondStruct):
            for level in node.levels:
                for type_id, v in level.values():
                    found.add(type_id)
                    stack.append(v)
        elif isinstance(node, BondList):
            found.add(node.element_type)
            if node.items and isinstance(node.items[0], BondStruct | BondList | BondMap):
                stack.extend(node.items)
        elif isinstance(node, BondMap):
            found.update((node.key_type, node.value_type))
            for k, v in node.items:
                stack.extend((k, v))
    return found


@pytest.mark.parametrize("version", sorted(FILES))
def test_decoding_is_total(version, decoded):
    data, reader, tree = _decode(version)
    assert reader.pos == len(data)  # one struct, no trailing bytes
    assert _type_ids(tree) <= set(TYPE_NAMES)
    assert tree == decoded[version]  # what read_structs gave
    skipper = CompactReader(data, version=version)
    skipper.skip(BT_STRUCT)
    assert skipper.pos == len(data)


@pytest.mark.parametrize("version", sorted(FILES))
def test_every_value_matches_bonds_simple_json(version, schema, json_doc, decoded):
    comparison = _compare(schema, decoded[version], json_doc)
    total = sum(comparison.compared.values())
    print(f"{FILES[version]}: {total} JSON values compared, "
          f"{sum(comparison.from_defaults.values())} of them schema defaults; "
          f"{dict(sorted(comparison.compared.items()))}")
    assert comparison.mismatches == []
    assert total == JSON_VALUES
    assert sum(comparison.from_defaults.values()) == DEFAULT_VALUES
    # The l_uint64 constants are on the wire and matched UINT64_CONSTANTS exactly.
    assert comparison.binary_only == {"uint64": len(UINT64_CONSTANTS)}
    assert comparison.compared == {
        "bool": 141, "int8": 411, "int16": 65_689, "int32": 334, "int64": 172,
        "uint8": 664, "uint16": 65_674, "uint32": 206, "uint64": 2_788, "enum": 326,
        "float": 5_749, "double": 670, "string": 510, "wstring": 183, "blob": 1_169,
        "null": 8,
    }


def test_v1_and_v2_agree_value_for_value(decoded):
    comparison = TreeComparison()
    comparison.struct(decoded[1], decoded[2], "$")
    total = sum(comparison.compared.values())
    print(f"v1 against v2: {total} wire values compared; "
          f"{dict(sorted(comparison.compared.items()))}")
    assert comparison.mismatches == []
    assert total == WIRE_VALUES


# -- the comparison notices a difference ------------------------------------------------------

COMPAT_CONTAINERS = 1  # Compat.m_containers
CONTAINERS_L_INT16 = 3
CONTAINERS_L_UINT64 = 9
CONTAINERS_L_FLOAT = 11
BASIC_TYPES_M_STR = 2  # BasicTypes.m_str, in Compat's BasicTypes level (levels[1])


def test_each_altered_value_is_one_mismatch_where_it_was_made(schema, json_doc, decoded):
    _, _, tree = _decode(1)
    containers = tree.get(COMPAT_CONTAINERS)
    containers.get(CONTAINERS_L_INT16).items[100] += 1
    floats = containers.get(CONTAINERS_L_FLOAT).items
    floats[0] = math.nextafter(floats[0], math.inf)  # one double ulp: comparison is exact
    containers.get(CONTAINERS_L_UINT64).items.pop()  # the last appended constant
    del tree.levels[1][BASIC_TYPES_M_STR]  # now stands for the default "foo"
    tree.fields[999] = tree.fields[COMPAT_CONTAINERS]

    found = _compare(schema, tree, json_doc).mismatches
    assert [m.split(": ", 1)[0] for m in found] == [
        "$.m_str",
        "$",  # field id 999
        "$.m_containers.l_int16[100]",
        "$.m_containers.l_uint64",
        "$.m_containers.l_float[0]",
    ], found
    against_v2 = TreeComparison()
    against_v2.struct(tree, decoded[2], "$")
    assert [m.split(": ", 1)[0] for m in against_v2.mismatches] == [
        "$/1",  # BasicTypes level: m_str
        "$/3",  # Compat level: 999
        "$/3.1/0.3[100]",
        "$/3.1/0.9",
        "$/3.1/0.11[0]",
    ], against_v2.mismatches
