"""The compiled Bond reader against the pure-Python reference it is built from.

Both read Microsoft Bond's compatibility files and damaged copies of them, and arbitrary
bytes: every tree, every error message and every offset where reading stopped must be the
same. Where no compiled reader was built (no C compiler) these tests skip, except in CI,
whose machine has one: there a missing compiled reader is a failed build.
"""

from __future__ import annotations

import importlib
import math
import os
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagscope.decode import bond, bond_reader

FIXTURES = Path(__file__).parent / "fixtures" / "bond-compat"
FILES = {1: "compat.compact.dat", 2: "compat.compact2.dat"}


def _native() -> ModuleType:
    try:
        return importlib.import_module(bond.NATIVE_MODULE)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the compiled Bond reader was not built (see setup.py's output)")
        pytest.skip("no compiled Bond reader in this installation")


native = pytest.fixture(scope="module")(_native)


def canonical(value: Any) -> Any:
    """A reader's tree as plain tuples, floats by their bits (so NaN equals itself)."""
    kind = type(value).__name__
    if kind == "BondStruct":
        return ("struct", tuple(
            tuple((fid, t, canonical(v)) for fid, (t, v) in sorted(level.items()))
            for level in value.levels
        ))
    if kind == "BondList":
        return ("list", value.element_type, value.is_set,
                tuple(canonical(v) for v in value.items))
    if kind == "BondMap":
        return ("map", value.key_type, value.value_type,
                tuple((canonical(k), canonical(v)) for k, v in value.items))
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    return (type(value).__name__, value)


def outcome(module: Any, data: bytes, version: int | None) -> Any:
    try:
        structs, error = module.read_structs(data, version=version)
    except Exception as exc:  # neither reader may raise: compare what each did anyway
        return ("raised", type(exc).__name__, str(exc))
    return (
        tuple(canonical(s) for s in structs),
        None if error is None else (str(error), error.offset),
    )


def test_the_compiled_reader_is_built_from_this_source(native: ModuleType) -> None:
    assert bond.source_digest() == native.SOURCE_SHA256, (
        "the compiled reader is older than bond_reader.py: reinstall (make test does)")
    assert bond.implementation is native or os.environ.get(bond.PURE_ENV)


@pytest.mark.parametrize("version", [1, 2])
def test_both_readers_give_the_same_tree_for_bonds_compat_files(
    native: ModuleType, version: int,
) -> None:
    data = (FIXTURES / FILES[version]).read_bytes()
    reference = outcome(bond_reader, data, version)
    compiled = outcome(native, data, version)
    assert reference[1] is None  # the files are whole
    assert compiled == reference
    # The reference's tree holds the whole Compat object: a non-trivial comparison.
    assert len(repr(reference)) > 1_000_000


@pytest.mark.parametrize("version", [1, 2])
def test_both_readers_stop_at_the_same_byte_of_every_truncation(
    native: ModuleType, version: int,
) -> None:
    data = (FIXTURES / FILES[version]).read_bytes()
    for end in range(0, len(data), max(1, len(data) // 40)):
        assert outcome(native, data[:end], version) == outcome(bond_reader, data[:end], version)


@pytest.mark.parametrize("version", [1, 2])
def test_both_readers_skip_and_render_values_alike(native: ModuleType, version: int) -> None:
    data = (FIXTURES / FILES[version]).read_bytes()
    ends = []
    for module in (bond_reader, native):
        reader = module.CompactReader(data, version=version)
        reader.skip(module.BT_STRUCT)
        ends.append(reader.pos)
    assert ends[0] == ends[1] == len(data)
    as_json = [m.to_jsonable(m.read_structs(data, version=version)[0][0])
               for m in (bond_reader, native)]
    assert _nan_free(as_json[0]) == _nan_free(as_json[1])


def _nan_free(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return {k: _nan_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_free(v) for v in value]
    return value


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300), version=st.sampled_from([None, 1, 2]))
def test_both_readers_agree_on_arbitrary_bytes(data: bytes, version: int | None) -> None:
    module = _native()
    assert outcome(module, data, version) == outcome(bond_reader, data, version)


@settings(max_examples=25, deadline=None)
@given(version=st.sampled_from([1, 2]), position=st.floats(0, 1), byte=st.integers(0, 255))
def test_both_readers_agree_on_a_damaged_compat_file(
    version: int, position: float, byte: int,
) -> None:
    module = _native()
    data = bytearray((FIXTURES / FILES[version]).read_bytes())
    data[min(len(data) - 1, int(position * len(data)))] = byte
    assert outcome(module, bytes(data), version) == outcome(bond_reader, bytes(data), version)


def test_a_reader_built_from_another_source_is_not_used(
    native: ModuleType, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(bond.PURE_ENV, raising=False)
    assert bond._select()[0] is native
    monkeypatch.setattr(bond, "source_digest", lambda: "0" * 64)
    module, why = bond._select()
    assert module is bond_reader
    assert "another source" in why


def test_the_pure_reader_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bond.PURE_ENV, "1")
    module, why = bond._select()
    assert module is bond_reader
    assert bond.PURE_ENV in why


def test_the_version_says_which_reader_runs() -> None:
    from click.testing import CliRunner

    from diagscope.cli import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert f"(Bond reader: {bond.IMPLEMENTATION})" in result.output


def test_both_readers_stop_deep_nesting_at_the_same_limit(native: ModuleType) -> None:
    # A struct whose field 0 is a list of a list of ... 10,000 deep: the depth limit (64)
    # ends reading in both, at the same byte, long before either runs out of stack.
    data = bytes([0x0B]) + bytes([0x0B, 0x01]) * 10_000 + bytes([0x0B, 0x00]) + b"\x00"
    reference = outcome(bond_reader, data, 1)
    assert reference[1] is not None and "nesting deeper than 64" in reference[1][0]
    assert outcome(native, data, 1) == reference
