"""Reading an event's value by the dotted field path that findings name."""

from __future__ import annotations

import re
from typing import Any

from diagscope.model import Event

_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def value_at(event: Event, path: str) -> Any:
    """The value at a dotted path (`data.User.Email`, `ext.app.name`, `data.List[2]`).

    A part's keys may themselves contain dots (`User.Email` is one key in the JS SDK's
    flat property bags), so the longest matching key wins at each step.
    """
    head, _, rest = path.partition(".")
    node: Any = {"data": event.data, "baseData": event.base_data, "ext": event.ext}.get(head)
    while rest and node is not None:
        index = None
        if isinstance(node, dict):
            key = next((rest[: i] for i in _split_points(rest) if rest[: i] in node), None)
            if key is None:
                found = _INDEX.match(rest.split(".")[0])
                if not found or found.group(1) not in node:
                    return None
                key, index = found.group(1), int(found.group(2))
                consumed = len(found.group(0))
            else:
                consumed = len(key)
            node = node[key]
            if index is not None:
                node = node[index] if isinstance(node, list) and index < len(node) else None
            rest = rest[consumed + 1:]
        else:
            return None
    return node


def _split_points(rest: str) -> list[int]:
    """Prefix lengths to try as keys, longest first: the whole, then up to each dot."""
    points = [len(rest)] + [i for i in range(len(rest) - 1, 0, -1) if rest[i] == "."]
    return points
