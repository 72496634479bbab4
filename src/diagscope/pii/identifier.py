"""`identifier`: persistent identifiers that single out a device, an account or a person.

An identifier is recognised by its field's name and its value's shape together: the name
says what it is (`OEMSerialNumber`, `ProductKeyID2`, `ext.xbl.xid`), the shape that it
is really there (`x:2533274804582403`, not `x:`; a serial number, not "To be filled by
O.E.M."). Ids of one operation (ActivityID, editId, `ext.utc.aId`, `cV`, session ids) and
counters are not in the table, so they are never reported. A value that is an e-mail
address is left to the `email` kind.

What is recognised:

- hardware: serial numbers (`OEMSerialNumber`, `SerialNumber`, `XboxConsoleSerialNumber`,
  …), SMBIOS and virtual machine UUIDs (`MotherboardUUID`, `VMId`), the primary network
  adapter's GUID, mobile equipment ids (`IMEI0`: 15 digits with a valid Luhn check; `MEID`);
- Windows: product key ids (`ProductKeyID`, `ProductKeyID2`, `ServiceProductKeyID`) and
  product keys themselves (`OA3xOriginalProductKey`), service-assigned machine ids
  (`SusClientId`, `WUMachineId`, `WUDeviceID`, `SqmMachineId`,
  `WindowsErrorReportingMachineId`, `InventoryId`, `DeviceId`, `AADDeviceId`, …), account
  SIDs (`S-1-5-21-…`);
- Microsoft accounts and cookies: PUID and CID (16 hex digits), `authId`, MUID, ANID, the MC1
  cookie (`GUID=<32 hex>&HASH=…`, recognised by its shape in any field, since it names
  itself), Xbox user ids (XUID: `ext.xbl.xid`, `xuid`) and device ids (`ext.xbl.did`);
- the 1DS envelope (Part A): `ext.device.localId`/`id`/`authId`, `ext.user.localId`/`id`/
  `authId`, `ext.app.userId`, `ext.sdk.installId`, `ext.utc.sqmId`,
  `ext.xbl.xid`/`did`/`pid`. The policy lists which of these the agreement accepts as
  pseudonymous; the detector reports them all, with the prefix's meaning.

A name with "hash" in it (`MotherboardUUIDHash`, `HashedSerialNumber`) is only reported when
its value is not a hash.

The prefixes of `localId`. For devices they are documented in Microsoft's 1DS C++ SDK
(microsoft/cpp_client_telemetry, lib/api/ContextFieldsProvider.cpp, which keeps a caller's
prefix when it is one of these and puts `c:` before any other id): `c:` custom, `r:` random,
`u:` macOS hardware UUID, `a:` Android ID, `s:` SQM id, `x:` Xbox One hardware id, `i:` iOS
id. For an event sent with DROP_PII the SDK replaces it by `r:` and a UUID drawn once per SDK
session (lib/decorators/EventPropertiesDecorator.hpp). Microsoft's Windows documentation (section
"Common data extensions" of the required and basic-level event lists in
MicrosoftDocs/windows-itpro-docs, e.g. windows/privacy/
required-windows-diagnostic-data-events-and-fields-2004.md) calls `ext.device.localId` "a
locally defined unique ID for the device … most likely equal to the value stored at
HKLM\\Software\\Microsoft\\SQMClient\\MachineId", and `ext.user.localId` "a unique user
identity that is created locally and added by the client. This is not the user's account
ID."

No public source found documents the prefixes of `ext.user.localId`; what follows is what
real Windows events show (tests/fixtures/real-samples), read with Microsoft's description of
the Windows user id as "a unique identifier associated with the user's Microsoft Account (if
one is used) or local account" (windows/privacy/windows-diagnostic-data-1703.md):
`m:` comes with 16 hex digits, the form of a Microsoft account id (CID); `w:` with a
GUID on Windows events, presumably the Windows account; `j:` with a GUID on Store and Edge
events, meaning undocumented; `e:` is what the 1DS C++ SDK's JSON formatter
(lib/system/JsonFormatter.cpp) puts before a user localId it formats for viewing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from stdnum import luhn

from diagscope.pii import mask as masking
from diagscope.pii.base import Detector, PiiHit, register

DEVICE_PREFIXES = {
    "c": "a custom id chosen by the app",
    "r": "a random id",
    "u": "the macOS hardware UUID",
    "a": "the Android ID",
    "s": "the Windows SQM machine id",
    "x": "the Xbox One hardware id",
    "i": "the iOS device id",
}
USER_PREFIXES = {
    "m": "in real events a 16-hex Microsoft account id (CID)",
    "w": "in real Windows events a GUID, presumably of the Windows account (undocumented)",
    "j": "in real Store and Edge events a GUID (undocumented)",
    "e": "as the 1DS C++ SDK's JSON formatter writes a user localId",
    "c": "a custom id chosen by the app",
    "r": "a random id",
}

# Values that stand for "no value": firmware defaults, Windows' "#" for not collected.
_PLACEHOLDERS = frozenset({
    "", "#", "0", "-1", "none", "null", "nil", "n/a", "na", "unknown", "default",
    "default string", "to be filled by o.e.m.", "to be filled by oem", "o.e.m.", "oem",
    "system serial number", "chassis serial number", "base board serial number",
    "serial number", "not specified", "not applicable", "not available", "invalid", "empty",
    "0123456789", "123456789", "1234567890", "true", "false", "yes", "no",
})
_PREFIX = re.compile(r"^([A-Za-z]):")
_GUID = re.compile(r"\{?[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?"
                   r"[0-9A-Fa-f]{12}\}?")
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")
_LONG_HEX = re.compile(r"[0-9A-Fa-f]{16,}")
_HASH = re.compile(r"[0-9A-Fa-f]{32,128}|[A-Za-z0-9+/]{22}==|[A-Za-z0-9+/]{27}=|"
                   r"[A-Za-z0-9+/]{43}=|[A-Za-z0-9+/_-]{43,86}")
_DIGITS = re.compile(r"\d{10,20}")
_PRODUCT_KEY = re.compile(r"(?i)[A-Z0-9]{5}(?:-[A-Z0-9]{5}){4}")
_SID = re.compile(r"S-1-5-21(?:-\d+){4}|S-1-12-1(?:-\d+){4}")
_MC1_COOKIE = re.compile(r"(?i)(?:^|[&;\s=])GUID=[0-9a-f]{32}&HASH=[0-9a-f]+")
_LIST = re.compile(r"[,;\s]+")


def is_placeholder(value: str) -> bool:
    """No value: Windows' `#`, empty, `0`, `None`, "To be filled by O.E.M.", one character
    repeated (all zeros), or a bare prefix (`x:`)."""
    text = value.strip().lower()
    if text in _PLACEHOLDERS:
        return True
    core = re.sub(r"[^0-9a-z]", "", _PREFIX.sub("", text))
    return len(set(core)) <= 1


def _unprefixed(value: str) -> str:
    return _PREFIX.sub("", value.strip(), count=1)


def _any_id(value: str) -> bool:
    core = re.sub(r"[^0-9A-Za-z]", "", value)
    return len(core) >= 4


def _serial(value: str) -> bool:
    """Four or more letters and digits, at least one a digit: "True" is no serial number."""
    return _any_id(value) and any(c.isdigit() for c in value)


def _machine_id(value: str) -> bool:
    """A GUID or a long hex or decimal number (after a `s:`-style prefix), not a path such
    as a Plug and Play device instance (`PCI\\VEN_…`)."""
    core = _unprefixed(value)
    return (_GUID.fullmatch(core) is not None or _LONG_HEX.fullmatch(core) is not None
            or _DIGITS.fullmatch(core) is not None)


def _guid(value: str) -> bool:
    return _GUID.fullmatch(value.strip()) is not None


def _hex16(value: str) -> bool:
    return _HEX16.fullmatch(_unprefixed(value)) is not None


def _items(value: str, item: Callable[[str], bool]) -> bool:
    parts = [p for p in _LIST.split(value.strip()) if p]
    return bool(parts) and all(item(p) for p in parts)


def _xuid(value: str) -> bool:
    return _items(value, lambda p: _DIGITS.fullmatch(_unprefixed(p)) is not None)


def _puid(value: str) -> bool:
    return _items(value, lambda p: _hex16(p) or _DIGITS.fullmatch(p) is not None)


def _product_key_id(value: str) -> bool:
    return sum(c.isdigit() for c in value) >= 5


def _product_key(value: str) -> bool:
    return _PRODUCT_KEY.fullmatch(value.strip()) is not None


def _imei(value: str) -> bool:
    digits = re.sub(r"[\s-]", "", value)
    return len(digits) == 15 and digits.isdigit() and luhn.is_valid(digits)


def _meid(value: str) -> bool:
    return re.fullmatch(r"[0-9A-Fa-f]{14}", value.strip()) is not None


def _sid(value: str) -> bool:
    return _SID.fullmatch(value.strip()) is not None


def _cookie_id(value: str) -> bool:
    core = value.strip()
    return (_MC1_COOKIE.search(core) is not None or _GUID.fullmatch(core) is not None
            or re.fullmatch(r"[0-9A-Fa-f]{16,40}", core) is not None)


def _user_id(value: str) -> bool:
    """Anything but a small number: user ids are names, GUIDs, long numbers."""
    core = _unprefixed(value)
    return _any_id(core) and not (core.isdigit() and len(core) < 6)


@dataclass(slots=True, frozen=True)
class _Rule:
    what: str  # "a hardware serial number"
    shape: Callable[[str], bool]
    prefixes: dict[str, str] | None = None  # meanings of `x:` prefixes, for localId


# Part A fields, by their path without list indices, lower-cased.
_ENVELOPE: dict[str, _Rule] = {
    "ext.device.localid": _Rule("the device's local id (ext.device.localId)", _user_id,
                                DEVICE_PREFIXES),
    "ext.device.id": _Rule("the device id (ext.device.id)", _user_id, DEVICE_PREFIXES),
    "ext.device.authid": _Rule("a device id taken from a sign-in token (authId)", _user_id),
    "ext.device.authsecid": _Rule("a device id taken from a sign-in token (authSecId)",
                                  _user_id),
    "ext.container.localid": _Rule("the container's device id", _user_id, DEVICE_PREFIXES),
    "ext.user.localid": _Rule("the user's local id (ext.user.localId)", _user_id,
                              USER_PREFIXES),
    "ext.user.id": _Rule("the user id (ext.user.id)", _user_id, USER_PREFIXES),
    "ext.user.authid": _Rule("a user id taken from a sign-in token (authId)", _user_id),
    "ext.user.authsecid": _Rule("a user id taken from a sign-in token (authSecId)",
                                _user_id),
    "ext.app.userid": _Rule("the user id as the app knows it (ext.app.userId)", _user_id),
    "ext.sdk.installid": _Rule("the SDK's install id (ext.sdk.installId)", _user_id),
    "ext.utc.sqmid": _Rule("the Windows SQM machine id (ext.utc.sqmId)", _user_id),
    "ext.xbl.xid": _Rule("an Xbox user id (XUID)", _xuid),
    "ext.xbl.did": _Rule("an Xbox device id", _any_id),
    "ext.xbl.pid": _Rule("Microsoft account ids (PUIDs) of the Xbox user", _puid),
}

_SERIAL = _Rule("a hardware serial number", _serial)
_MACHINE = "a machine id assigned by a Microsoft service"
# Field names (lower-case, letters and digits only), first match wins.
_BY_NAME: list[tuple[re.Pattern[str], _Rule]] = [(re.compile(p), r) for p, r in [
    (r"xboxconsoleserial(?:number)?", _Rule("an Xbox console serial number", _serial)),
    (r".*serial(?:number|no|num)?\d*", _SERIAL),
    (r".*productkeyid\d*", _Rule("a Windows product key id", _product_key_id)),
    (r".*productkey", _Rule("a Windows product key (the licence key itself)",
                            _product_key)),
    (r"(?:user)?muid", _Rule("a Microsoft user id cookie (MUID)", _cookie_id)),
    (r"(?:user)?anid", _Rule("a Microsoft account advertising id (ANID)", _any_id)),
    (r"mc1(?:id|cookie)?", _Rule("an MC1 cookie id", _cookie_id)),
    (r"x(?:box(?:live)?)?u(?:ser)?id|licensexuid|xid",
     _Rule("an Xbox user id (XUID)", _xuid)),
    (r"xbox(?:live)?deviceid", _Rule("an Xbox device id", _any_id)),
    (r"(?:user|msa|account|data)?puid", _Rule("a Microsoft account id (PUID)", _puid)),
    (r"(?:user|msa|account|data)?cid", _Rule("a Microsoft account id (CID)", _hex16)),
    (r"(?:org)?auth(?:sec)?id", _Rule("a user id taken from a sign-in token", _user_id)),
    (r"(?:data)?(?:susclientid|susid)",
     _Rule("the Windows Update client id (SusClientId)", _machine_id)),
    (r"wu(?:machine|device|client)id", _Rule("a Windows Update machine id", _machine_id)),
    (r"windows?errorreportingmachineid|wermachineid",
     _Rule("the Windows Error Reporting machine id", _machine_id)),
    (r"(?:data)?(?:windows?)?sqmmachineid|sqmid",
     _Rule("the Windows SQM machine id", _machine_id)),
    (r"sqmuserid", _Rule("the Windows SQM user id", _machine_id)),
    (r"(?:data)?officemachineid", _Rule("the Office machine id", _machine_id)),
    (r"(?:data)?officeuserid", _Rule("the Office user id", _user_id)),
    (r"(?:data)?(?:aad|azuread|intune|mdm|updateassistant|updatehealthtoolsdss|exp)?"
     r"deviceid|duid|censusid|updateassistantmachineid|sccmclientid",
     _Rule(_MACHINE, _machine_id)),
    (r"inventoryid", _Rule("the device id used for compatibility testing (InventoryId)",
                           _machine_id)),
    (r"(?:motherboard|computersystemproduct|system|smbios|bios|hardware)uuid",
     _Rule("a hardware UUID (SMBIOS)", _guid)),
    (r"vmid|virtualmachineid", _Rule("a virtual machine id", _guid)),
    (r"networkadapterguid", _Rule("the GUID of the primary network adapter", _guid)),
    (r"advertisingid", _Rule("the advertising id", _guid)),
    (r"(?:sdk|app)?installid", _Rule("an install id", _user_id)),
    (r"imei\d*", _Rule("a mobile device id (IMEI)", _imei)),
    (r"meid\d*", _Rule("a mobile device id (MEID)", _meid)),
    (r".*sid", _Rule("a Windows account security id (SID)", _sid)),
    (r"(?:data|app|doc|python)?userid", _Rule("a user id", _user_id)),
]]


@lru_cache(maxsize=8192)
def _rule_for_name(key: str) -> tuple[_Rule, bool] | None:
    """The rule for a field name, and whether the name says the value is hashed."""
    name = re.sub(r"[^0-9a-z]", "", key.lower())
    hashed = "hash" in name
    if hashed:
        name = name.replace("hashed", "").replace("hash", "")
    for pattern, rule in _BY_NAME:
        if pattern.fullmatch(name):
            return rule, hashed
    return None


@lru_cache(maxsize=1024)
def _rule_for_envelope(field: str) -> _Rule | None:
    return _ENVELOPE.get(re.sub(r"\[\d+\]", "", field).lower())


def _detail(rule: _Rule, value: str) -> str:
    what = rule.what[0].upper() + rule.what[1:]
    prefix = _PREFIX.match(value.strip())
    if rule.prefixes is not None and prefix is not None:
        letter = prefix.group(1)
        meaning = rule.prefixes.get(letter.lower(), "a prefix no public source explains")
        return f"{what} is sent in this field (prefix {letter}:, {meaning})."
    return f"{what} is sent in this field."


@register
class IdentifierDetector(Detector):
    kind = "identifier"
    order = 120

    def mask(self, value: str) -> str:
        return masking.prefixed(value)

    def precheck(self, value: str) -> bool:
        return "@" not in value

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        rule = _rule_for_envelope(field) if field.startswith("ext.") else None
        hashed = False
        if rule is None:
            by_name = _rule_for_name(key)
            if by_name is None:
                if "GUID=" in value and _MC1_COOKIE.search(value) is not None:
                    yield PiiHit(self.kind, field, value.strip(),
                                 "An MC1 cookie (a Microsoft user id) is sent in this field.")
                return
            rule, hashed = by_name
        text = value.strip()
        if is_placeholder(text) or not rule.shape(text):
            return
        if hashed and _HASH.fullmatch(_unprefixed(text)) is not None:
            return
        yield PiiHit(self.kind, field, text, _detail(rule, text))
