"""The shared vocabulary: requests, events, findings and the words that judge them.

Events and findings are slotted dataclasses rather than pydantic models because one is
created per decoded event on the replay hot path; validation happens where data enters
(policies, CLI options), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Product(StrEnum):
    """The products a policy can set levels for; `other` is a product that is none of them
    (the evidence names it), `unknown` means no evidence at all."""

    OFFICE = "office"
    WINDOWS = "windows"
    EDGE = "edge"
    TEAMS = "teams"
    OTHER = "other"
    UNKNOWN = "unknown"


#: Products a policy can name under `products`.
POLICY_PRODUCTS = ("office", "windows", "edge", "teams", "other")


class Level(StrEnum):
    """Diagnostic levels, ordered from least to most data (see `LEVEL_RANK`)."""

    ESSENTIAL = "essential"
    SERVICE = "service"
    REQUIRED = "required"
    ENHANCED = "enhanced"
    OPTIONAL = "optional"
    UNKNOWN = "unknown"


LEVEL_RANK: dict[Level, int] = {
    Level.ESSENTIAL: 0,
    Level.SERVICE: 1,
    Level.REQUIRED: 2,
    Level.ENHANCED: 3,
    Level.OPTIONAL: 4,
}

#: The levels each product's settings offer, low to high. Windows has no "service" level:
#: above Security (essential) comes Required.
PRODUCT_LEVELS: dict[str, tuple[Level, ...]] = {
    "windows": (Level.ESSENTIAL, Level.REQUIRED, Level.ENHANCED, Level.OPTIONAL),
    "edge": (Level.ESSENTIAL, Level.REQUIRED, Level.OPTIONAL),
    "office": (Level.ESSENTIAL, Level.SERVICE, Level.REQUIRED, Level.OPTIONAL),
    "teams": (Level.ESSENTIAL, Level.SERVICE, Level.REQUIRED, Level.OPTIONAL),
}


def level_above(level: Level, product: str) -> Level:
    """The next level the product offers above `level` (the highest stays the highest)."""
    ladder = PRODUCT_LEVELS.get(product) or tuple(sorted(LEVEL_RANK,
                                                         key=LEVEL_RANK.__getitem__))
    return next((lv for lv in ladder if LEVEL_RANK[lv] > LEVEL_RANK[level]), ladder[-1])


#: Names users know from Office and Windows settings, mapped to the canonical levels.
LEVEL_ALIASES: dict[str, Level] = {
    "neither": Level.SERVICE,
    "security": Level.ESSENTIAL,
    "basic": Level.REQUIRED,
    "full": Level.OPTIONAL,
    "off": Level.ESSENTIAL,
}


def parse_level(text: str) -> Level:
    """Turn a canonical level name or a user alias into a `Level` (raises ValueError)."""
    key = text.strip().lower()
    if key in LEVEL_ALIASES:
        return LEVEL_ALIASES[key]
    return Level(key)


class Severity(StrEnum):
    VIOLATION = "violation"
    REVIEW = "review"


class Verdict(StrEnum):
    OK = "ok"
    REVIEW = "review"
    VIOLATION = "violation"


def worst_verdict(severities: list[Severity] | tuple[Severity, ...]) -> Verdict:
    if Severity.VIOLATION in severities:
        return Verdict.VIOLATION
    if Severity.REVIEW in severities:
        return Verdict.REVIEW
    return Verdict.OK


class DecodeStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # some events decoded, then the body was damaged
    UNDECODABLE = "undecodable"
    EMPTY = "empty"


#: Common Schema PII kinds (CsProtocol `PIIKind`, JS `ext.metadata.f` bits 5-12).
PII_KINDS: dict[int, str] = {
    0: "NotSet",
    1: "DistinguishedName",
    2: "GenericData",
    3: "IPV4Address",
    4: "IPv6Address",
    5: "MailSubject",
    6: "PhoneNumber",
    7: "QueryString",
    8: "SipAddress",
    9: "SmtpAddress",
    10: "Identity",
    11: "Uri",
    12: "Fqdn",
    13: "IPV4AddressLegacy",
    14: "IPv6ScrubLastHextets",
    15: "DropValue",
}


class RecordFlag:
    """Bits of the Common Schema record `flags` field as the 1DS SDKs put them on the wire."""

    PERSISTENCE_NORMAL = 0x01
    PERSISTENCE_CRITICAL = 0x02
    LATENCY_MASK = 0x0300
    MARK_PII = 0x0008_0000
    HASH_PII = 0x0010_0000
    DROP_PII = 0x0020_0000
    SCRUB_IP = 0x0040_0000

    @staticmethod
    def describe(flags: int) -> list[str]:
        names = []
        if flags & RecordFlag.PERSISTENCE_CRITICAL:
            names.append("persistence:critical")
        elif flags & RecordFlag.PERSISTENCE_NORMAL:
            names.append("persistence:normal")
        latency = (flags & RecordFlag.LATENCY_MASK) >> 8
        if latency:
            names.append("latency:" + {1: "normal", 2: "realtime", 3: "cost-deferred"}[latency])
        for bit, label in (
            (RecordFlag.MARK_PII, "MARK_PII"),
            (RecordFlag.HASH_PII, "HASH_PII"),
            (RecordFlag.DROP_PII, "DROP_PII"),
            (RecordFlag.SCRUB_IP, "SCRUB_IP"),
        ):
            if flags & bit:
                names.append(label)
        return names


@dataclass(slots=True, frozen=True)
class FieldMark:
    """What the client itself declared about one field: its PII kind and customer content."""

    pii_kind: str | None = None
    customer_content: bool = False


@dataclass(slots=True)
class Request:
    """One HTTP request as captured, independent of where it came from."""

    flow_id: str
    time: datetime
    method: str
    scheme: str
    host: str
    port: int
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    http_version: str = "HTTP/1.1"
    response_status: int | None = None
    error: str | None = None
    source: str | None = None
    action: str = "forwarded"  # what the proxy did: forwarded, or blocked (answered itself)
    step: int | None = None  # the scenario step current when it was made

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path}"


@dataclass(slots=True)
class Event:
    """One Common Schema event, the same shape whether it arrived as JSON or Bond.

    `data` is Part C, `base_data` Part B, `ext` the Part A extensions keyed by their
    Common Schema JSON names (`app`, `os`, `utc`, ...). `marks` maps dotted field paths
    such as `data.User.Email` to what the client declared about that field.
    """

    index: int
    name: str
    time: datetime | None = None
    ver: str | None = None
    ikey: str | None = None
    ext: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    base_type: str | None = None
    base_data: dict[str, Any] = field(default_factory=dict)
    flags: int | None = None
    cv: str | None = None
    pop_sample: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    marks: dict[str, FieldMark] = field(default_factory=dict)
    wire_format: str = "json"
    # Set by classification, not by decoders.
    product: Product = Product.UNKNOWN
    product_reason: str = ""
    level: Level = Level.UNKNOWN
    level_reason: str = ""
    purpose: str = "unknown"
    purpose_reason: str = ""

    def to_cs(self) -> dict[str, Any]:
        """The event as Common Schema JSON, with keys a user knows from the JS SDK."""
        out: dict[str, Any] = {"ver": self.ver, "name": self.name}
        if self.time is not None:
            out["time"] = self.time.isoformat().replace("+00:00", "Z")
        if self.pop_sample is not None:
            out["popSample"] = self.pop_sample
        if self.ikey is not None:
            out["iKey"] = self.ikey
        if self.flags is not None:
            out["flags"] = self.flags
        if self.cv is not None:
            out["cV"] = self.cv
        if self.ext:
            out["ext"] = self.ext
        if self.tags:
            out["tags"] = self.tags
        data: dict[str, Any] = {}
        if self.base_type is not None:
            data["baseType"] = self.base_type
        if self.base_data:
            data["baseData"] = self.base_data
        data.update(self.data)
        out["data"] = data
        return out


@dataclass(slots=True)
class Finding:
    """One judgement. `rule` is the name of the rule that made it (`diagscope.rules`)."""

    rule: str
    severity: Severity
    detail: str
    clause: str = ""
    event_index: int | None = None
    event_name: str | None = None
    product: Product = Product.UNKNOWN
    field: str | None = None
    pii_kind: str | None = None
    value: str | None = None


@dataclass(slots=True)
class DecodedBody:
    """The outcome of decoding one request body."""

    status: DecodeStatus
    content_type: str | None
    content_encoding: str | None
    events: list[Event] = field(default_factory=list)
    error: str | None = None
    error_offset: int | None = None
    decoded_size: int = 0
