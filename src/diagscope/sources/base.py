"""What every capture source offers replay: Requests in order, and an account of damage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from diagscope.model import Request
from diagscope.sources.flows import CaptureDamage


class CaptureSource(Protocol):
    path: str
    kind: str  # mitm, har, saz, ddv, ...
    damage: CaptureDamage | None  # set when reading stopped early
    flows_read: int  # requests read so far
    position: int  # bytes of the file consumed so far, for progress
    warnings: list[str]  # things the user should know about the input

    def requests(self) -> Iterator[Request]: ...
