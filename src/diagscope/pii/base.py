"""What a personal-data detector is: one small class per kind, scanning one value at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from diagscope.pii import mask as masking
from diagscope.registry import ClassRegistry


@dataclass(slots=True, frozen=True)
class PiiHit:
    kind: str
    field: str  # dotted path, e.g. data.User.Email or ext.user.localId
    value: str  # the matched text, in clear (decoded when encoded); callers mask it
    detail: str  # one human sentence
    # The encodings the value went through before a detector saw it, outermost first:
    # ("hex", "utf-8"), ("json",), ("percent",), ("base64", "utf-16le"); empty in clear.
    layers: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class DetectorSettings:
    """What a policy sets for the detectors."""

    phone_region: str = "NL"


class Detector:
    """Scans one string value. Subclasses set `kind` and implement `find`; a detector is
    registered with `@register` and masks what it finds its own way (`mask`).

    `precheck` must be cheap: it runs on every string of every event, and most values
    (counters, GUIDs, enum names) are rejected there without a regular expression.

    `key` is the field's own name (the last segment, or the inner key of a value found inside
    JSON); `field` is the dotted path. Results are remembered per (key, value) for Part B and
    C, so a detector may only look at `field` for Part A (`ext.…`), whose fields are
    remembered per path: `localId` is a device in `ext.device` and a user in `ext.user`.
    """

    kind: ClassVar[str] = ""
    #: Where the detector runs among the others: findings keep one stable order.
    order: ClassVar[int] = 100

    @classmethod
    def configured(cls, settings: DetectorSettings) -> Detector:
        """An instance for a policy's settings; most detectors have none."""
        return cls()

    def mask(self, value: str) -> str:
        """The value as reports show it: enough to recognise, not to reuse."""
        return masking.generic(value)

    def precheck(self, value: str) -> bool:
        return True

    def find(self, field: str, key: str, value: str) -> Iterable[PiiHit]:
        raise NotImplementedError

    def scan(self, field: str, key: str, value: str) -> Iterable[PiiHit]:
        if self.precheck(value):
            yield from self.find(field, key, value)


def words(*names: str) -> re.Pattern[str]:
    """Case-insensitive pattern for field names such as `UserPhone`, `phone_number`."""
    return re.compile("|".join(names), re.IGNORECASE)


DETECTORS: ClassRegistry[type[Detector]] = ClassRegistry("kind", "detectors")
D = TypeVar("D", bound=type[Detector])


def register(detector: D) -> D:
    """Class decorator: make a detector part of every scan. One kind, one detector."""
    DETECTORS.add(detector)
    return detector


def registered() -> list[type[Detector]]:
    return DETECTORS.ordered()


def detector_of(kind: str) -> type[Detector] | None:
    return DETECTORS.get(kind)
