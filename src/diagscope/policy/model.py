"""The policy: the processing agreement written out as reviewable, validated data."""

from __future__ import annotations

import fnmatch
import re
from functools import cached_property, lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from diagscope.decode.inflate import DEFAULT_MAX_BODY_BYTES
from diagscope.model import POLICY_PRODUCTS, Level, parse_level


def _level(value: object) -> Level:
    if isinstance(value, Level):
        return value
    if not isinstance(value, str):
        raise ValueError("a level is a name such as 'neither', 'required' or 'optional'")
    try:
        level = parse_level(value)
    except ValueError:
        raise ValueError(
            f"unknown level {value!r}; use essential, service, required, enhanced, optional "
            "or an alias: security, neither, basic, full"
        ) from None
    if level is Level.UNKNOWN:
        raise ValueError("'unknown' is not a level a policy can allow")
    return level


PolicyLevel = Annotated[Level, BeforeValidator(_level)]


def _regular_expression(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


RegularExpression = Annotated[str, AfterValidator(_regular_expression)]


@lru_cache(maxsize=65_536)
def glob_match(text: str, glob: str) -> bool:
    """`fnmatchcase`, remembered: the same few field paths and event names meet the same
    globs on every event of a run, and looking the answer up takes a quarter of the time of
    matching. Bounded, since hostile traffic can send any number of names."""
    return fnmatch.fnmatchcase(text, glob)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def dutch_text(of: str = "the clause") -> Any:
    """The optional Dutch twin of a clause field, which Dutch reports cite instead."""
    return Field(default="", description=f"{of} in Dutch, cited by Dutch reports (optional)")


class ProductPolicy(_Strict):
    """What the agreement allows one product to send."""

    max_level: PolicyLevel
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()
    security_events: list[str] = Field(
        default_factory=list,
        description="event names (globs) that count as security-level for this product",
    )
    only_security_events: bool = Field(
        default=False,
        description="the agreed level is a closed set: only `security_events` may be sent; "
                    "any other event of the product is above it, known to the catalogue or not",
    )
    note: str = Field(default="", description="why the policy sets this product so")


class Purpose(_Strict):
    permitted: bool
    description: str = ""
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()


class NameRule(_Strict):
    """Event-name segments that reveal a purpose (matched per dotted segment)."""

    purpose: str
    segments: list[str] = Field(min_length=1)


class EventOverride(_Strict):
    """The policy's own word on one event (or a glob of names), above the catalogue."""

    level: PolicyLevel | None = None
    purpose: str | None = None
    note: str = ""


class Allowance(_Strict):
    """Values the agreement accepts in given fields (pseudonymous ids, for instance)."""

    fields: list[str] = Field(min_length=1, description="dotted field paths, globs allowed")
    pattern: RegularExpression | None = Field(default=None,
                                              description="the whole value must match")
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()

    def allows(self, field: str, value: str) -> bool:
        if not any(glob_match(field, glob) for glob in self.fields):
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None


class EnvelopeIdentifier(_Strict):
    """A pseudonymous identifier of the SDK's own envelope that the agreement accepts.

    Events carrying it raise no finding; the report inventories it instead (which fields were
    sent, with which prefixes, how many distinct values). A value in the field with another
    prefix, or failing the pattern, is an identifier like any other: a finding.
    """

    field: str = Field(min_length=1, description="dotted field path, globs allowed")
    prefixes: list[str] = Field(default_factory=list,
                                description="accepted value prefixes (`s:`, `r:`); empty: any")
    pattern: RegularExpression | None = Field(default=None,
                                              description="the whole value must match")
    description: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()

    def accepts(self, field: str, value: str) -> bool:
        if not glob_match(field, self.field):
            return False
        if self.prefixes and not value.startswith(tuple(self.prefixes)):
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None


class PersonalData(_Strict):
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()
    allowed: list[Allowance] = Field(default_factory=list)
    envelope_identifiers: list[EnvelopeIdentifier] = Field(default_factory=list)
    phone_region: str = Field(default="NL", min_length=2, max_length=2,
                              description="region whose numbering plan reads phone numbers "
                                          "written without a country code")

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phonenumbers knows (ISO 3166 code)")
        return region

    def allowance_for(self, field: str, value: str) -> Allowance | None:
        return next((a for a in self.allowed if a.allows(field, value)), None)

    def accepted_identifier(self, field: str, value: str) -> EnvelopeIdentifier | None:
        return next((e for e in self.envelope_identifiers if e.accepts(field, value)), None)


class Endpoint(_Strict):
    region: str
    allowed: bool = True
    note: str = ""


class Transport(_Strict):
    plaintext_http_allowed: bool = False
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()


class Destinations(_Strict):
    required_region: str | None = None
    clause: str = Field(min_length=1)
    clause_nl: str = dutch_text()
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)

    @field_validator("endpoints")
    @classmethod
    def _lower_hosts(cls, value: dict[str, Endpoint]) -> dict[str, Endpoint]:
        return {host.lower(): ep for host, ep in value.items()}

    def endpoint_for(self, host: str) -> tuple[str, Endpoint] | None:
        """The entry for `host`: exact names first, then globs such as `*.example.com`."""
        host = host.lower()
        if host in self.endpoints:
            return host, self.endpoints[host]
        for pattern, endpoint in self.endpoints.items():
            if "*" in pattern and fnmatch.fnmatchcase(host, pattern):
                return pattern, endpoint
        return None


class Limits(_Strict):
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)


class Policy(_Strict):
    name: str = Field(min_length=1)
    version: str
    source: str = Field(min_length=1, description="the agreement this policy writes out")
    description: str = ""
    products: dict[str, ProductPolicy]
    unknown_level_clause: str = Field(min_length=1)
    unknown_level_clause_nl: str = dutch_text("unknown_level_clause")
    purposes: dict[str, Purpose] = Field(default_factory=dict)
    name_rules: list[NameRule] = Field(default_factory=list)
    categories: dict[str, str] = Field(
        default_factory=dict,
        description="privacy data category (catalogue or PrivTags) -> purpose",
    )
    unknown_purpose_clause: str = Field(min_length=1)
    unknown_purpose_clause_nl: str = dutch_text("unknown_purpose_clause")
    catalogue_clause: str = Field(min_length=1)
    catalogue_clause_nl: str = dutch_text("catalogue_clause")
    events: dict[str, EventOverride] = Field(default_factory=dict)
    destinations: Destinations
    transport: Transport
    personal_data: PersonalData
    limits: Limits = Field(default_factory=Limits)

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("products")
    @classmethod
    def _known_products(cls, value: dict[str, ProductPolicy]) -> dict[str, ProductPolicy]:
        unknown = set(value) - set(POLICY_PRODUCTS)
        if unknown:
            raise ValueError(f"products must be among {', '.join(POLICY_PRODUCTS)}, "
                             f"not {sorted(unknown)}")
        return value

    @model_validator(mode="after")
    def _purposes_exist(self) -> Policy:
        known = set(self.purposes)
        used = [("name_rules", r.purpose) for r in self.name_rules]
        used += [("categories", p) for p in self.categories.values()]
        used += [("events", o.purpose) for o in self.events.values() if o.purpose]
        missing = sorted({f"{where}: {p}" for where, p in used if p not in known})
        if missing:
            raise ValueError(f"purposes not defined under 'purposes': {', '.join(missing)}")
        return self

    @cached_property
    def telemetry_hosts(self) -> frozenset[str]:
        """Exact host names the policy lists as telemetry endpoints."""
        return frozenset(h for h in self.destinations.endpoints if "*" not in h)
