"""`url`: the address of a page or resource someone visited or opened.

Browsing history is personal data: Edge sends the page being opened
(`Microsoft.Windows.App.Browser.HJ_BeforeNavigateExtended.navigationUrlBytes`, hex), Windows
the address a user typed into a text box (`userText`, JSON). Found:

- anywhere in a value, a URL with a scheme (http, https, ftp, ftps, ws, wss, file) and a
  host, with a path, query or fragment: an address, not just a server;
- in a field whose name says it holds an address (url, uri, href, link, navigation,
  referrer), also a scheme URL without a path and a bare host or host with path
  (`www.msn.com`, `intranet.minjenv.nl/hr`);

in clear or once decoded (the scanner hands over percent-, hex-, base64-decoded text and the
strings inside JSON). Not found:

- Microsoft's own infrastructure, which a client contacts by itself rather than a user
  choosing it (`MICROSOFT_INFRASTRUCTURE`): telemetry collectors (`*.data.microsoft.com`
  covers `*.events.data.microsoft.com`, `v10.vortex-win…`, `settings-win…`,
  `watson.telemetry.microsoft.com`), configuration and experiment services, XML schema
  namespaces, Windows Update delivery, and Microsoft's links to its own documentation
  (`go.microsoft.com/fwlink`, `aka.ms`);
- the domains reserved for documentation and testing (RFC 2606, RFC 6761: example.com/.net/
  .org, `*.example`, `*.test`, `*.invalid`, `*.localhost`), which no one can have visited;
- templates with `{placeholders}`.

A session token in the address (`;jsessionid=`, `sid=`, `token=`, `code=`, …) is named in
the detail: whoever holds the address holds the session.

Edge's `navigationUrlBytes` in the published sample decodes to `dwww.msn.com`: one byte
(0x64) before the host. When one or two characters precede `www.` at the very start of a
value, the address is reported from `www.` and the detail says a byte was dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, urlsplit

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register
from diagscope.pii.paths import DOCUMENT_EXTENSIONS

#: Host names (and their subdomains) of Microsoft infrastructure: not a page a user chose.
MICROSOFT_INFRASTRUCTURE = (
    "data.microsoft.com",  # 1DS/OneCollector, Vortex and settings collectors
    "telemetry.microsoft.com",  # Windows Error Reporting (Watson)
    "config.edge.skype.com",  # experimentation and configuration (ECS)
    "ecs.office.com",
    "config.office.com",
    "clients.config.office.net",
    "officeclient.microsoft.com",
    "schemas.microsoft.com",  # XML namespaces name a format, not a page
    "schemas.openxmlformats.org",
    "www.w3.org",
    "windowsupdate.com",  # Windows Update and Store delivery
    "update.microsoft.com",
    "delivery.mp.microsoft.com",
    "aka.ms",  # Microsoft's short links to its own documentation
)
#: Hosts of which only some paths are Microsoft's own links.
MICROSOFT_LINK_PATHS = {"go.microsoft.com": "/fwlink"}
#: Reserved for documentation and testing (RFC 2606, RFC 6761).
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "test",
                    "invalid", "localhost")

_SCHEMES = r"https?|ftps?|wss?|file"
_SCHEME_URL = re.compile(rf"(?i)(?<![\w+.-])(?:{_SCHEMES})://[^\s\"'<>\\^`|]+")
# A host of two or more labels ending in letters, optionally a port and a path.
_BARE_HOST = re.compile(
    r"(?i)(?<![\w@.:/%-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})"
    r"(?::\d{1,5})?(?:/[^\s\"'<>\\]*)?(?![\w@.-])"
)
# One or two stray characters before `www.` at the start of a decoded value.
_STRAY_BEFORE_WWW = re.compile(r"(?i)^[^\s/]{1,2}(?=www\d{0,3}\.)")
_ADDRESS_KEY = re.compile(r"(?i)ur[li]|href|link|navigat|referr?er")
_TRAILING = ".,;:!?)]"
_NOT_HOST_SUFFIXES = frozenset(DOCUMENT_EXTENSIONS) | {
    "exe", "dll", "sys", "msi", "msix", "appx", "cab", "zip", "json", "xml", "html", "htm",
    "aspx", "php", "js", "css", "png", "jpg", "jpeg", "gif", "log", "etl", "dat", "ini",
    "lnk", "tmp", "config", "manifest", "mui", "ps1", "bat", "cmd", "vbs",
}
#: Query and path parameters that carry a session or a credential.
SESSION_PARAMETERS = frozenset({
    "jsessionid", "phpsessid", "aspsessionid", "sid", "sessionid", "session_id", "session",
    "token", "access_token", "id_token", "refresh_token", "auth", "authtoken", "auth_token",
    "code", "ticket", "sig", "signature", "key", "apikey", "api_key", "password", "pwd",
})
_PATH_PARAMETER = re.compile(r";\s*([A-Za-z_]+)=")


@lru_cache(maxsize=4096)
def is_address_key(key: str) -> bool:
    """Does the field's own name say it holds an address (URL, URI, href, link, …)?"""
    return _ADDRESS_KEY.search(key) is not None


def _under(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def is_infrastructure(host: str, path: str = "") -> bool:
    """Microsoft's own services and the reserved example domains: not a visited page."""
    host = host.lower().rstrip(".")
    if _under(host, MICROSOFT_INFRASTRUCTURE) or _under(host, RESERVED_DOMAINS):
        return True
    prefix = MICROSOFT_LINK_PATHS.get(host)
    return prefix is not None and path.lower().startswith(prefix)


def session_parameters(parts: SplitResult) -> list[str]:
    """Names of session or credential parameters in the query or the path (`;jsessionid=`)."""
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    names += _PATH_PARAMETER.findall(parts.path)
    found: list[str] = []
    for name in names:
        lowered = name.lower()
        if (lowered in SESSION_PARAMETERS or lowered.startswith("aspsessionid")) \
                and lowered not in found:
            found.append(lowered)
    return found


def _detail(what: str, tokens: list[str], stray: str) -> str:
    sentence = f"{what} is sent in this field"
    if tokens:
        sentence += (f"; it carries a session token or credential ({', '.join(tokens)}): "
                     "whoever has the address can use it")
    if stray:
        sentence += (f"; the decoded value starts with {len(stray)} byte(s) before the "
                     "address, left out here")
    return sentence + "."


@register
class UrlDetector(Detector):
    kind = "url"
    order = 110

    def mask(self, value: str) -> str:
        return masking.url_shape(value)

    def precheck(self, value: str) -> bool:
        return "." in value or "://" in value

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        address_field = is_address_key(key)
        found = False
        if "://" in value:
            for hit in self._scheme_urls(field, value, address_field):
                found = True
                yield hit
        if address_field and not found:
            yield from self._bare_hosts(field, value)

    def _scheme_urls(self, field: str, value: str, address_field: bool) -> Iterator[PiiHit]:
        for match in _SCHEME_URL.finditer(value):
            url = match.group(0).rstrip(_TRAILING)
            if "{" in url or "}" in url:
                continue  # a template, not an address
            try:
                parts = urlsplit(url)
                host = parts.hostname or ""
            except ValueError:
                continue
            if parts.scheme.lower() != "file" and not host:
                continue
            if is_infrastructure(host, parts.path):
                continue
            has_more = parts.path not in ("", "/") or bool(parts.query or parts.fragment)
            if not has_more and not address_field:
                continue
            what = ("An address of a page or resource (a URL with a path or query)" if has_more
                    else "A web address")
            yield PiiHit(self.kind, field, url, _detail(what, session_parameters(parts), ""))

    def _bare_hosts(self, field: str, value: str) -> Iterator[PiiHit]:
        stray_match = _STRAY_BEFORE_WWW.match(value)
        stray = stray_match.group(0) if stray_match else ""
        text = value[len(stray):]
        for match in _BARE_HOST.finditer(text):
            host = match.group(1)
            if host.rsplit(".", 1)[-1].lower() in _NOT_HOST_SUFFIXES:
                continue  # a file name, not a host
            address = match.group(0).rstrip(_TRAILING)
            path = address[len(host):].partition("/")[2]
            if is_infrastructure(host, "/" + path):
                continue
            try:
                tokens = session_parameters(urlsplit("//" + address))
            except ValueError:
                tokens = []
            yield PiiHit(self.kind, field, address,
                         _detail("A visited host name or address", tokens,
                                 stray if match.start() == 0 else ""))
