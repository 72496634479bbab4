"""Which product sent an event: Office, Windows, or unknown."""

from __future__ import annotations

from diagscope.model import Event, Product

_OFFICE_NAME_PREFIXES = ("office.", "officeclient.", "microsoft.office.")
_WINDOWS_NAME_PREFIXES = (
    "microsoft.windows.",
    "microsoft.onecore.",
    "win32k",
    "census.",
    "microsoft.windowsphone.",
    "microsoft.xbox.",
    "ms.windows.",
)
_OFFICE_APPS = (
    "office", "word", "excel", "powerpoint", "outlook", "onenote", "visio", "project",
    "publisher", "access", "teams", "winword", "powerpnt", "msaccess", "mspub",
)
_WINDOWS_HOST_MARKERS = ("v10.", "v10c.", "v20.", "vortex-win", "watson", "settings-win")
_OFFICE_HOST_MARKERS = ("office", "nexus.officeapps", "self.events.data.microsoft.com")


def _app_name(event: Event) -> str:
    app = event.ext.get("app")
    if isinstance(app, dict):
        for key in ("name", "id"):
            value = app.get(key)
            if isinstance(value, str) and value:
                return value.lower()
    return ""


def product_of(event: Event, host: str = "") -> Product:
    """Name first (most specific), then the app and UTC extensions, then the endpoint."""
    name = event.name.lower()
    if name.startswith(_OFFICE_NAME_PREFIXES):
        return Product.OFFICE
    if name.startswith(_WINDOWS_NAME_PREFIXES):
        return Product.WINDOWS
    app = _app_name(event)
    if app and any(marker in app for marker in _OFFICE_APPS):
        return Product.OFFICE
    if isinstance(event.ext.get("utc"), dict) and event.ext["utc"]:
        # The UTC extension is written by Windows' own telemetry client (DiagTrack).
        return Product.WINDOWS
    host = host.lower()
    if any(marker in host for marker in _WINDOWS_HOST_MARKERS):
        return Product.WINDOWS
    if any(marker in host for marker in _OFFICE_HOST_MARKERS):
        return Product.OFFICE
    return Product.UNKNOWN
