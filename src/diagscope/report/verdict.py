"""A run's verdict, decided in one place for the replay summary, the report and the bundle.

PASS is a claim that telemetry was seen and none of it broke the agreement, so it needs a
run that saw telemetry and ended `complete`: a run that saw nothing says NO DATA, and one
that was interrupted, damaged, still recording or short of stored requests says
INCOMPLETE, whatever it found so far.
"""

from __future__ import annotations

PASS, FAIL, NO_DATA, INCOMPLETE = "PASS", "FAIL", "NO DATA", "INCOMPLETE"
RESULTS = (PASS, FAIL, NO_DATA, INCOMPLETE)
COMPLETE = "complete"


def verdict_of(*, status: str, requests: int, violations: int, write_errors: int = 0) -> str:
    """`requests` are the telemetry requests stored, `write_errors` those that could not
    be; `status` is the run's (running, complete, damaged, incomplete, interrupted,
    failed)."""
    if not requests and not write_errors:
        return NO_DATA
    if status != COMPLETE:
        return INCOMPLETE
    return FAIL if violations else PASS


def banner(result: str, status: str) -> str | None:
    """What a report says above its verdict when the verdict is no PASS or FAIL."""
    if result == NO_DATA:
        return ("No telemetry was seen in this run: it shows nothing about what is sent, so "
                "it is no pass.")
    if result == INCOMPLETE:
        if status == "running":
            return "This run is still being recorded (or was never closed): evidence may be " \
                   "missing, so it is no pass."
        return f"This run ended {status}: evidence is missing, so it is no pass."
    return None
