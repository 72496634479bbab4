"""Which product sent an event, decided from evidence in the event and where it went.

Evidence, most specific first; the first that speaks decides, and the reason says which:
1. the tenant token of the iKey (`o:<tenant>`): Microsoft documents Edge's events under their
   tenant tokens (`Aria.<tenant>.Microsoft.WebBrowser...`), and each SDK user has its own;
2. the event name's namespace (`Office.`, `Microsoft.Windows.`, `Census.`, ...);
3. the sending application: `ext.app.name` / `ext.app.id` (a Windows UTC app id names the
   program: `W:...!devicecensus.exe`, `U:<package>!App`), then Office's `data.App.Name`;
4. the web page the SDK ran on, `ext.web.domain`;
5. Office's telemetry library (OTel), which names itself in `data.Event.Source`;
6. the catalogue that documents the name;
7. Windows' own telemetry client: an `ext.utc` extension with fields only UTC writes
   (`pgName`, `providerGuid`, `loggingBinary`, ...). `ext.utc` alone proves nothing: the 1DS
   web SDK adds `ext.utc.popSample` to every event it sends;
8. the collector the request went to;
9. an application or page that is none of the known products: `other`, named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from diagscope.model import Event, Product
from diagscope.policy.endpoints import collector_product, tenant_product

#: Office's telemetry library (OTel) names events `Office.<...>`; its 1DS sink sends them
#: with `.` turned into `_` (`Office_AugLoop_Client_SessionState`).
_OFFICE_NAME_PREFIXES = ("office.", "office_", "officeclient.", "microsoft.office.")
_WINDOWS_NAME_PREFIXES = (
    "microsoft.windows.",
    "microsoft.onecore.",
    "win32k",
    "census.",
    "microsoft.windowsphone.",
    "ms.windows.",
)
_EDGE_NAME_PREFIXES = ("microsoft.webbrowser.", "microsoft.edge.")
_TEAMS_NAME_PREFIXES = ("microsoft.teams.", "teams.", "msteams.")

#: Words in an application's name or program file, per product. Checked on word boundaries
#: so that `access` does not match `accessibility`.
_APP_WORDS: tuple[tuple[Product, tuple[str, ...]], ...] = (
    (Product.TEAMS, ("teams", "msteams", "ms-teams")),
    (Product.EDGE, ("msedge", "microsoftedge", "edge", "msedgewebview2")),
    (Product.OFFICE, (
        "office", "word", "winword", "excel", "powerpoint", "powerpnt", "outlook", "onenote",
        "visio", "project", "publisher", "mspub", "access", "msaccess", "lync", "onedrive",
        "editor", "officeclicktorun", "officec2rclient", "m365", "microsoft 365",
    )),
)
_APP_PATTERNS = tuple(
    (product, re.compile(r"(?<![a-z0-9])(" + "|".join(map(re.escape, words)) + r")(?![a-z0-9])"))
    for product, words in _APP_WORDS
)
#: `W:<program id>!<file id>!devicecensus.exe`, `U:<package full name>!App`: the UTC
#: client names the program that logged the event.
_UTC_APP_ID = re.compile(r"^[WUA]:")

_TEAMS_DOMAINS = ("teams.microsoft.com", "teams.live.com", "teams.cloud.microsoft",
                  "teams.microsoft.us")
_OFFICE_DOMAINS = ("office.com", "office.net", "officeapps.live.com", "office.live.com",
                   "sharepoint.com", "outlook.live.com", "onedrive.live.com",
                   "m365.cloud.microsoft", "cloud.microsoft", "microsoft365.com",
                   "onenote.com")
_EDGE_DOMAINS = ("microsoftedge.microsoft.com", "edge.microsoft.com")

#: Fields of the UTC extension that only Windows' telemetry client writes.
_UTC_ONLY = frozenset({"pgName", "providerGuid", "loggingBinary", "eventFlags", "flags",
                       "stId", "aId", "raId", "op", "cat", "sqmId", "mon", "cpId", "bSeq",
                       "epoch", "seq", "wsId", "wcmp", "wPId", "shellId"})


@dataclass(slots=True, frozen=True)
class ProductCall:
    """A product and the evidence that decided it; `name` names an `other` product."""

    product: Product
    reason: str
    name: str | None = None


UNKNOWN = ProductCall(Product.UNKNOWN, "no evidence of the sending product")


def tenant_of(ikey: str | None) -> str | None:
    """The tenant token of an iKey: `o:<tenant>`, `P-ARIA-<token>`, or an API key
    `<tenant>-<rest>`; None when there is no key."""
    if not ikey:
        return None
    key = ikey.strip()
    if key[:2].lower() == "o:":
        key = key[2:]
    elif key[:7].upper() == "P-ARIA-":
        key = key[7:]
    tenant = key.split("-", 1)[0].lower()
    return tenant or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _app_words(text: str) -> Product | None:
    lowered = text.lower()
    for product, pattern in _APP_PATTERNS:
        if pattern.search(lowered):
            return product
    return None


#: `Event.Source` as Office's telemetry library writes it: "OTelJS" through its Aria sink,
#: "OneDS" through its 1DS sink (office-js 1.1.110, oteljs_agave.debug.js; Teams web traffic).
_OTEL_SOURCES = frozenset({"oteljs", "oneds"})


def _data_field(data: dict[str, Any], dotted: str) -> Any:
    """`App.Name` as a flat key (JS SDK property bags) or nested (`{"App": {"Name": ..}}`)."""
    if dotted in data:
        return data[dotted]
    head, _, tail = dotted.partition(".")
    return _dict(data.get(head)).get(tail)


def _by_app(event: Event) -> ProductCall | None:
    app = _dict(event.ext.get("app"))
    for key in ("name", "id"):
        value = app.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == "id" and _UTC_APP_ID.match(value):
            program = value.rsplit("!", 1)[-1] if value.startswith("W:") else \
                value[2:].split("_", 1)[0]
            program_product = _app_words(program.replace(".exe", "")) or Product.WINDOWS
            return ProductCall(program_product, f"ext.app.id names the program {program!r}, "
                                        f"logged through Windows' telemetry client")
        named = _app_words(value)
        if named is not None:
            return ProductCall(named, f"ext.app.{key} is {value[:60]!r}")
    app_name = _data_field(event.data, "App.Name")
    if isinstance(app_name, str) and app_name:
        named = _app_words(app_name)
        if named is not None:
            return ProductCall(named, f"data.App.Name is {app_name[:60]!r}")
    return None


def _by_library(event: Event) -> ProductCall | None:
    source = _data_field(event.data, "Event.Source")
    if isinstance(source, str) and source.lower() in _OTEL_SOURCES:
        return ProductCall(Product.OFFICE, f"sent through Office's telemetry library "
                                           f"(data.Event.Source {source!r})")
    return None


def _domain(event: Event) -> str | None:
    for part in ("web", "javascript", "js"):
        domain = _dict(event.ext.get(part)).get("domain")
        if isinstance(domain, str) and domain:
            return domain.lower().strip().rstrip(".")
    return None


def _under(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _by_domain(domain: str) -> ProductCall | None:
    for product, domains in ((Product.TEAMS, _TEAMS_DOMAINS), (Product.OFFICE, _OFFICE_DOMAINS),
                             (Product.EDGE, _EDGE_DOMAINS)):
        if _under(domain, domains):
            return ProductCall(product, f"the page the SDK ran on is {domain} (ext.web.domain)")
    return None


def _by_name(name: str) -> ProductCall | None:
    lowered = name.lower()
    for product, prefixes in ((Product.OFFICE, _OFFICE_NAME_PREFIXES),
                              (Product.WINDOWS, _WINDOWS_NAME_PREFIXES),
                              (Product.EDGE, _EDGE_NAME_PREFIXES),
                              (Product.TEAMS, _TEAMS_NAME_PREFIXES)):
        prefix = next((p for p in prefixes if lowered.startswith(p)), None)
        if prefix is not None:
            return ProductCall(product, f"the event name is in the {name[:len(prefix)]}* "
                                        "namespace")
    return None


def _by_utc_client(event: Event) -> ProductCall | None:
    utc = _dict(event.ext.get("utc"))
    written = sorted(_UTC_ONLY.intersection(utc))
    if written:
        return ProductCall(Product.WINDOWS, "written by Windows' telemetry client (ext.utc."
                                            f"{written[0]}); ext.utc alone would not say so")
    return None


def product_of(event: Event, host: str = "", catalogue_product: str | None = None
               ) -> ProductCall:
    """The product of one event, with the evidence that decided it."""
    tenant = tenant_of(event.ikey)
    if tenant:
        known = tenant_product(tenant)
        if known is not None:
            product, label = known
            return ProductCall(Product(product), f"the iKey's tenant token {tenant[:8]}… is "
                                                 f"{label}'s")
    call = _by_name(event.name) or _by_app(event)
    if call is not None:
        return call
    domain = _domain(event)
    if domain:
        call = _by_domain(domain)
        if call is not None:
            return call
    call = _by_library(event)
    if call is not None:
        return call
    if catalogue_product:
        return ProductCall(Product(catalogue_product),
                           f"Microsoft's {catalogue_product} lists document this event")
    call = _by_utc_client(event)
    if call is not None:
        return call
    if host:
        found = collector_product(host)
        if found is not None:
            product, label = found
            return ProductCall(Product(product), f"sent to {host}, {label}")
    app_name = _dict(event.ext.get("app")).get("name")
    if isinstance(app_name, str) and app_name.strip():
        return ProductCall(Product.OTHER, f"ext.app.name is {app_name[:60]!r}, none of the "
                                          "products the policy knows", name=app_name[:60])
    if domain:
        return ProductCall(Product.OTHER, f"sent from the page {domain}, none of the products "
                                          "the policy knows", name=domain)
    return UNKNOWN
