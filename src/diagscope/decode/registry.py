"""Which decoder reads which content type: a table every decoder module adds itself to.

A decoder takes an inflated body and returns what it could read from it: the events, an
error (None when all of it decoded) and the byte offset where decoding stopped. A module
in this package registers one with a line above its function:

    @decoder("application/x-json-stream")
    def decode_json_stream(body: bytes) -> JsonStreamResult: ...

Every module of the package is imported before the first lookup, so a new decoder is one
new file here and nothing else.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from diagscope.model import Event


class Decoded(Protocol):
    """What a decoder returns (any object with these attributes)."""

    @property
    def events(self) -> list[Event]: ...

    @property
    def error(self) -> str | None: ...

    @property
    def error_offset(self) -> int | None: ...


@dataclass(slots=True)
class DecodedEvents:
    """A ready-made `Decoded` for decoders that need nothing more."""

    events: list[Event] = field(default_factory=list)
    error: str | None = None
    error_offset: int | None = None


BodyDecoder = Callable[[bytes], Decoded]
_D = TypeVar("_D", bound=BodyDecoder)

_DECODERS: dict[str, BodyDecoder] = {}


def register_decoder(content_type: str, decode: BodyDecoder) -> None:
    """Make `decode` the decoder of `content_type` (a lower-case media type)."""
    existing = _DECODERS.get(content_type)
    if existing is not None and existing is not decode:
        raise ValueError(f"{content_type} already has a decoder: {existing!r}")
    _DECODERS[content_type] = decode


def unregister_decoder(content_type: str) -> None:
    _DECODERS.pop(content_type, None)


def decoder(content_type: str) -> Callable[[_D], _D]:
    """Decorator form of `register_decoder`."""

    def register(decode: _D) -> _D:
        register_decoder(content_type, decode)
        return decode

    return register


@functools.cache
def _import_decoders() -> None:
    # A decoder registers itself when its module is imported; importing the whole package
    # once means adding a decoder needs no list to update.
    package = importlib.import_module("diagscope.decode")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def decoder_for(content_type: str | None) -> BodyDecoder | None:
    """The decoder registered for `content_type`, or None."""
    _import_decoders()
    return _DECODERS.get(content_type) if content_type else None
