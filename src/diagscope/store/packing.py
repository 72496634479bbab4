"""Text packed small against fixed dictionaries of what it usually is (see
`store.types.PackedText`, which stores it): raw DEFLATE, one byte naming the dictionary.

On its own, without SQLAlchemy, because judging processes pack the rows they prepare and
need nothing else of the store's column types.
"""

from __future__ import annotations

import zlib
from functools import cache
from importlib import resources
from typing import Any

#: Dictionary ids as stored in the first byte; names of `store/dictionaries/*.txt` files.
DICTIONARIES: dict[int, str] = {1: "cs-1", 2: "reason-1", 3: "detail-1", 4: "clause-1",
                                5: "headers-1"}
_IDS = {name.rsplit("-", 1)[0]: number for number, name in DICTIONARIES.items()}


@cache
def _dictionary(number: int) -> bytes:
    name = DICTIONARIES[number]
    return (resources.files("diagscope.store") / "dictionaries" / f"{name}.txt").read_bytes()


@cache
def _packer(number: int) -> Any:
    # Loading the dictionary is most of a compressor's set-up, so it is done once and each
    # value starts from a copy. Copying costs in proportion to the compressor's state, so
    # the window is only as large as the dictionary and a value of a few KiB need (what
    # lies further back could not be referred to anyway), and the hash table is small:
    # an event's JSON packs 15% faster than with zlib's defaults (window 32 KiB, memLevel
    # 8), to within 0.1% of the size (measured on 20,000 real-body and 55,000 generated
    # events). Any window decompresses with the 32 KiB one `unpack` uses.
    dictionary = _dictionary(number)
    return zlib.compressobj(6, zlib.DEFLATED, -_window_bits(len(dictionary)), 4,
                            zlib.Z_DEFAULT_STRATEGY, dictionary)


def _window_bits(dictionary_size: int) -> int:
    """The smallest DEFLATE window (2**bits bytes, 9 to 15 bits) that holds the dictionary
    and 2 KiB of value."""
    return min(15, max(9, (dictionary_size + 2048 - 1).bit_length()))


#: Packed values of the texts that repeat (clauses, reasons, details, headers): packing is
#: deterministic, and a run packs the same clause on nearly every finding. Bounded in number
#: and length; an event's JSON differs every time and is never kept.
_PACKED: dict[tuple[int, str], bytes] = {}
_PACKED_LIMIT = 4_096
_REMEMBERED_LENGTH = 1_024
_NEVER_REMEMBERED = frozenset({_IDS["cs"]})


def pack(text: str, dictionary: str) -> bytes:
    number = _IDS[dictionary]
    remember = number not in _NEVER_REMEMBERED and len(text) <= _REMEMBERED_LENGTH
    if remember:
        packed = _PACKED.get((number, text))
        if packed is not None:
            return packed
    packer = _packer(number).copy()
    packed = bytes((number,)) + packer.compress(text.encode("utf-8")) + packer.flush()
    if remember:
        if len(_PACKED) >= _PACKED_LIMIT:
            _PACKED.clear()
        _PACKED[(number, text)] = packed
    return packed


#: Texts of the short packed values read back (clauses, details, reasons): reading a run's
#: findings unpacks the same few kinds' texts on every row, and each row then holds one
#: shared string instead of its own copy. Bounded like `_PACKED`; event JSON is never kept.
_UNPACKED: dict[bytes, str] = {}
_REMEMBERED_PACKED_LENGTH = 512


def unpack(value: str | bytes | memoryview) -> str:
    if isinstance(value, str):
        return value  # stored before values were packed (SQLite keeps the text)
    data = bytes(value)
    if data and data[0] in DICTIONARIES:
        remember = data[0] not in _NEVER_REMEMBERED and len(data) <= _REMEMBERED_PACKED_LENGTH
        if remember:
            known = _UNPACKED.get(data)
            if known is not None:
                return known
        unpacker = zlib.decompressobj(-15, _dictionary(data[0]))
        text = (unpacker.decompress(data[1:]) + unpacker.flush()).decode("utf-8")
        if remember:
            if len(_UNPACKED) >= _PACKED_LIMIT:
                _UNPACKED.clear()
            _UNPACKED[data] = text
        return text
    return data.decode("utf-8")  # plain UTF-8 text converted to bytes by the migration
