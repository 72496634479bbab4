"""One table of plug-in classes, each known by a unique name and run in a stated order.

Rules and personal-data detectors register this way (`rules.base.register`,
`pii.base.register`): the class names itself in a class attribute and says where it runs
with `order`; a second class claiming a taken name is an error, not a silent replacement.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=type)


class ClassRegistry(Generic[T]):
    def __init__(self, key: str, plural: str) -> None:
        self.key = key  # the class attribute that names a class: "name", "kind"
        self.plural = plural  # what the classes are, for errors: "rules"
        self._classes: dict[str, T] = {}

    def add(self, cls: T) -> None:
        name = getattr(cls, self.key)
        if not name:
            raise ValueError(f"{cls.__name__} has no {self.key}")
        known = self._classes.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"two {self.plural} share the {self.key} {name!r}")
        self._classes[name] = cls

    def remove(self, name: str) -> None:
        del self._classes[name]

    def get(self, name: str) -> T | None:
        return self._classes.get(name)

    def ordered(self) -> list[T]:
        """By `order`, then by name: the same order in every process."""
        def position(cls: Any) -> tuple[int, str]:
            return cls.order, getattr(cls, self.key)

        return sorted(self._classes.values(), key=position)
