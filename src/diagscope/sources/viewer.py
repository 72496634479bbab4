"""What Windows' own diagnostic data viewer says about an event, carried with the request.

The Diagnostic Data Viewer (its `Get-DiagnosticData` exports and the `EventTranscript.db`
database behind it) records, next to each event's payload, facts that the payload itself
does not carry: whether Windows counts the event as required, the privacy data categories
it was tagged with, and (in the database) its ETW keywords and producer. Sources put these
facts on the request as `X-DDV-*` pseudo-headers, so they are stored with the raw evidence
and every later stage reads them from one place: `viewer_facts(request)`.

Category ids are the bit positions of the `PDT_*` privacy data tags of MicrosoftTelemetry.h
(1 browsing history, 11 device connectivity and configuration, 17 inking, typing and speech
utterance, 24 product and service performance, 25 product and service usage, 31 software
setup and inventory): `Microsoft.Windows.Kernel.PnP.DeviceConfig` is shown with category 11
and `PDT_DeviceConnectivityAndConfiguration` is bit 11.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diagscope.model import Request

REQUIRED = "X-DDV-Required"
CATEGORIES = "X-DDV-Categories"
NAME = "X-DDV-Name"
KEYWORDS = "X-DDV-Keywords"
CORE = "X-DDV-Core"
PRODUCER = "X-DDV-Producer"

#: DDV category id (PDT bit index) -> the category name Microsoft's documents use.
CATEGORY_NAMES: dict[int, str] = {
    1: "Browsing history",
    11: "Device connectivity and configuration",
    17: "Inking typing and speech utterance",
    24: "Product and service performance",
    25: "Product and service usage",
    31: "Software setup and inventory",
}

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_NUMBER = re.compile(r"\d+")


@dataclass(slots=True, frozen=True)
class ViewerFacts:
    """Facts a viewer recorded about one event; None where it recorded nothing."""

    required: bool | None = None
    categories: tuple[int, ...] = ()
    keywords: int | None = None
    core: bool | None = None
    producer: str | None = None

    @property
    def category_names(self) -> list[str]:
        return [CATEGORY_NAMES.get(c, f"category {c}") for c in self.categories]

    @property
    def privacy_tags(self) -> int:
        """The categories as the PDT bitmask the event would carry in `PartA_PrivTags`."""
        mask = 0
        for category in self.categories:
            if 0 <= category < 64:
                mask |= 1 << category
        return mask


def parse_flag(text: object) -> bool | None:
    if isinstance(text, bool):
        return text
    if text is None:
        return None
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_categories(value: object) -> tuple[int, ...]:
    """`[11, 24]`, `"{1, 24}"`, `"11;24"` -> (11, 24). PowerShell's CSV export writes the
    list's type name (`System.Collections.Generic.List`1[System.Int32]`) instead of its items;
    that says nothing and gives ()."""
    if value is None:
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool):
                out.append(item)
            elif isinstance(item, str) and item.strip().isdigit():
                out.append(int(item))
        return tuple(out)
    text = str(value)
    if "System." in text:
        return ()
    return tuple(int(n) for n in _NUMBER.findall(text))


def viewer_headers(name: str, *, required: bool | None = None,
                   categories: tuple[int, ...] | list[int] = (), keywords: int | None = None,
                   core: bool | None = None, producer: str | None = None
                   ) -> list[tuple[str, str]]:
    """The pseudo-headers a viewer source puts on the Request it makes of one row."""
    headers = [("Content-Type", "application/json"), (NAME, name)]
    if required is not None:
        headers.append((REQUIRED, "true" if required else "false"))
    if categories:
        headers.append((CATEGORIES, ",".join(str(c) for c in categories)))
    if keywords is not None:
        headers.append((KEYWORDS, f"{keywords:#x}"))
    if core is not None:
        headers.append((CORE, "true" if core else "false"))
    if producer:
        headers.append((PRODUCER, producer))
    return headers


def viewer_facts(request: Request) -> ViewerFacts | None:
    """The viewer's facts about a request's event, or None for traffic seen on the wire."""
    if request.header(NAME) is None:
        return None
    keywords_text = request.header(KEYWORDS)
    keywords = None
    if keywords_text:
        try:
            keywords = int(keywords_text, 0)
        except ValueError:
            keywords = None
    return ViewerFacts(
        required=parse_flag(request.header(REQUIRED)),
        categories=parse_categories(request.header(CATEGORIES)),
        keywords=keywords,
        core=parse_flag(request.header(CORE)),
        producer=request.header(PRODUCER) or None,
    )
