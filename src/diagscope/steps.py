"""Scenario steps as boundaries in time: which step was current when a request was made.

The tester moves a run on from step to step (a key in `diagscope proxy`, the
`diagscope.step` command, `diagscope step N`, or a replay's step file); a request belongs to
the last step that began at or before it was made.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True, slots=True, order=True)
class StepMark:
    at: datetime
    step: int


class Steps:
    """Step boundaries, in time order: which step was current at a moment."""

    def __init__(self, marks: list[StepMark] | None = None) -> None:
        self.marks = sorted(marks or [])
        self._times = [m.at for m in self.marks]

    def __bool__(self) -> bool:
        return bool(self.marks)

    def at(self, when: datetime) -> int | None:
        """The step current at `when`; None before the first boundary."""
        i = bisect.bisect_right(self._times, when)
        return self.marks[i - 1].step if i else None

    @property
    def current(self) -> int | None:
        return self.marks[-1].step if self.marks else None


class StepFileError(ValueError):
    pass


def read_step_times(path: str | Path) -> list[StepMark]:
    """Step boundaries for a replay: one `STEP TIME` (or `TIME STEP`) a line, TIME in ISO
    8601 (UTC when it names no zone), `#` starting a comment. Requests captured from a
    step's time on belong to that step."""
    marks: list[StepMark] = []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise StepFileError(f"cannot read step file {path}: {exc}") from None
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 2:
            raise StepFileError(f"{path}:{number}: expected `STEP TIME`, got {line.strip()!r}")
        step_text, time_text = parts if parts[0].isdigit() else parts[::-1]
        if not step_text.isdigit() or int(step_text) < 1:
            raise StepFileError(f"{path}:{number}: {step_text!r} is not a step number (1, 2, ...)")
        try:
            at = datetime.fromisoformat(time_text.replace("Z", "+00:00"))
        except ValueError:
            raise StepFileError(f"{path}:{number}: {time_text!r} is not an ISO 8601 time") \
                from None
        marks.append(StepMark(at if at.tzinfo else at.replace(tzinfo=UTC), int(step_text)))
    return sorted(marks)
