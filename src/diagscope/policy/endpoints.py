"""Microsoft's telemetry collectors and products' tenant tokens, as Microsoft published them.

`policies/catalogue/endpoints.yaml` lists collector host names (and host patterns) with the
region they keep data in, the product they serve, the EU Data Boundary alternative of a
global collector, and the tenant tokens that identify a product's events; every entry names
its sources like the event catalogue's. The destination rule and product evidence read it;
a policy's own `destinations.endpoints` still come first.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: Registrable domains Microsoft runs its services and collectors under. A host under none
#: of them is not Microsoft's, whatever its name says (`eu-mobile.events.data.example.net`).
MICROSOFT_DOMAINS = (
    "microsoft.com", "msn.com", "live.com", "office.com", "office.net", "skype.com",
    "windows.com", "microsoftonline.com", "azure.com", "azure.net", "windows.net",
    "bing.com", "msedge.net", "microsoft.us", "cloud.microsoft", "xboxlive.com",
    "outlook.com", "sharepoint.com", "svc.ms", "msftauth.net", "gfx.ms",
)


@dataclass(slots=True, frozen=True)
class EndpointSource:
    id: str
    repository: str | None
    path: str | None
    commit: str | None
    url: str | None
    title: str

    def describe(self) -> str:
        if self.repository:
            return f"{self.repository}@{(self.commit or '')[:12]}:{self.path}"
        return self.url or self.title


@dataclass(slots=True, frozen=True)
class Collector:
    """A telemetry collector host (or host pattern) and what Microsoft says of it."""

    host: str  # exact name, or a glob such as `eu-*.events.data.microsoft.com`
    region: str  # eu, global, us, ...
    product: str | None
    role: str
    eu_alternative: str | None
    sources: tuple[EndpointSource, ...]

    @property
    def is_pattern(self) -> bool:
        return "*" in self.host


@dataclass(slots=True, frozen=True)
class Tenant:
    token: str
    product: str
    label: str
    sources: tuple[EndpointSource, ...]


class EndpointCatalogue:
    def __init__(self, collectors: list[Collector], tenants: list[Tenant],
                 sources: list[EndpointSource]) -> None:
        self.collectors = collectors
        self.tenants = {t.token: t for t in tenants}
        self.sources = sources
        self._exact = {c.host: c for c in collectors if not c.is_pattern}
        self._patterns = [c for c in collectors if c.is_pattern]

    def collector(self, host: str) -> Collector | None:
        """The entry for `host`: an exact name first, then the first matching pattern, and
        only for hosts under Microsoft's own domains."""
        host = host.lower().rstrip(".")
        if not is_microsoft_host(host):
            return None
        found = self._exact.get(host)
        if found is not None:
            return found
        return next((c for c in self._patterns if fnmatch.fnmatchcase(host, c.host)), None)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(self._exact)


def is_microsoft_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in MICROSOFT_DOMAINS)


def _sources(ids: list[str], known: dict[str, EndpointSource]) -> tuple[EndpointSource, ...]:
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"endpoints.yaml names sources it does not list: {missing}")
    return tuple(known[i] for i in ids)


def parse(document: dict[str, Any]) -> EndpointCatalogue:
    known = {
        s["id"]: EndpointSource(id=s["id"], repository=s.get("repository"), path=s.get("path"),
                                commit=s.get("commit"), url=s.get("url"),
                                title=s.get("title", ""))
        for s in document.get("sources", [])
    }
    collectors = [
        Collector(host=c["host"].lower(), region=c["region"], product=c.get("product"),
                  role=c.get("role", ""), eu_alternative=c.get("eu_alternative"),
                  sources=_sources(c.get("sources", []), known))
        for c in document.get("collectors", [])
    ]
    tenants = [
        Tenant(token=t["token"].lower(), product=t["product"], label=t.get("label", ""),
               sources=_sources(t.get("sources", []), known))
        for t in document.get("tenants", [])
    ]
    return EndpointCatalogue(collectors, tenants, list(known.values()))


def bundled_path() -> Path:
    return Path(str(resources.files("diagscope") / "policies" / "catalogue" / "endpoints.yaml"))


@lru_cache(maxsize=1)
def load_endpoints() -> EndpointCatalogue:
    with open(bundled_path(), encoding="utf-8") as fo:
        return parse(yaml.safe_load(fo) or {})


def collector_product(host: str) -> tuple[str, str] | None:
    """(product, description) when the collector serves one product only."""
    found = load_endpoints().collector(host)
    if found is None or not found.product:
        return None
    return found.product, f"a collector of {found.product}" + (
        f" ({found.role})" if found.role else "")


def tenant_product(tenant: str) -> tuple[str, str] | None:
    found = load_endpoints().tenants.get(tenant.lower())
    if found is None:
        return None
    return found.product, found.label or found.product


@dataclass(slots=True, frozen=True)
class Destination:
    """Where a host keeps telemetry, by the best evidence there is.

    `known_by` says which: `policy` (the policy's own endpoints), `microsoft` (a published
    collector), `name` (a Microsoft host whose name states its region), `microsoft-host` (a
    Microsoft host no list names), `not-microsoft`.
    """

    host: str
    region: str | None
    allowed: bool
    known_by: str
    note: str = ""
    eu_alternative: str | None = None
    sources: tuple[EndpointSource, ...] = ()


def region_by_name(host: str) -> str | None:
    """The region a host name states: `eu-teams.events...`, `us-v10c...`, `*.eu.*`."""
    labels = host.lower().split(".")
    head = labels[0].split("-", 1)
    if len(head) == 2 and len(head[0]) == 2 and head[0].isalpha():
        return head[0]
    if "eu" in labels[1:-1]:
        return "eu"
    return None


def destination_of(host: str, policy_endpoints: Any) -> Destination:
    """`policy_endpoints` is the policy's `Destinations`; its own entries come first."""
    host = host.lower().rstrip(".")
    listed = policy_endpoints.endpoint_for(host)
    if listed is not None:
        _, endpoint = listed
        return Destination(host, endpoint.region, endpoint.allowed, "policy", endpoint.note)
    if not is_microsoft_host(host):
        return Destination(host, None, False, "not-microsoft")
    collector = load_endpoints().collector(host)
    if collector is not None:
        return Destination(host, collector.region, True, "microsoft", collector.role,
                           collector.eu_alternative, collector.sources)
    by_name = region_by_name(host)
    if by_name is not None:
        return Destination(host, by_name, True, "name")
    return Destination(host, None, True, "microsoft-host")
