"""`user-path` and `document-name`: what file paths give away about people and their work."""

from __future__ import annotations

import re
from collections.abc import Iterator

from diagscope.pii.base import Detector, PiiHit, register

_NOT_PEOPLE = {"public", "default", "default user", "all users", "defaultuser0",
               "defaultapppool", "administrator", "shared", "guest", "systemprofile",
               "localservice", "networkservice", "%username%", "$user", "<user>", "user",
               "username", "*"}

_WINDOWS_PROFILE = re.compile(
    r"(?i)(?<![\w])([a-z]:[\\/]+(?:users|documents and settings)[\\/]+([^\\/:*?\"<>|\r\n]+))"
)
_UNIX_PROFILE = re.compile(r"(?<![\w/])(/(?:home|Users)/([^/\s:\"']+))")
_UNC = re.compile(r"(?<![\w\\])(\\\\[A-Za-z0-9._$-]+\\[^\\\s:\"<>|]+)")


@register
class UserPathDetector(Detector):
    kind = "user-path"
    order = 70

    def precheck(self, value: str) -> bool:
        return "\\" in value or "/home/" in value or "/Users/" in value

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        for pattern, what in ((_WINDOWS_PROFILE, "a Windows user profile"),
                              (_UNIX_PROFILE, "a home directory")):
            for match in pattern.finditer(value):
                name = match.group(2).strip()
                if name.lower() in _NOT_PEOPLE or not name:
                    continue
                yield PiiHit(self.kind, field, match.group(1),
                             f"A file path into {what} carries the user name {name[:1]}…")
        for match in _UNC.finditer(value):
            yield PiiHit(self.kind, field, match.group(1),
                         "A network (UNC) path names a server and share of the organisation.")


DOCUMENT_EXTENSIONS = (
    "docx", "doc", "docm", "dotx", "xlsx", "xls", "xlsm", "xlsb", "pptx", "ppt", "pptm",
    "pdf", "msg", "eml", "odt", "ods", "odp", "rtf", "txt", "csv", "one", "onepkg", "vsdx",
    "vsd", "pst", "ost", "pub", "mpp", "accdb", "mdb", "xps", "md",
)
_DOCUMENT = re.compile(
    r"(?i)(?:^|[\\/\s\"'=:(,])([^\\/:*?\"<>|\r\n]*[^\\/:*?\"<>|\r\n\s.][^\\/:*?\"<>|\r\n]*"
    r"\.(?:" + "|".join(DOCUMENT_EXTENSIONS) + r"))(?=$|[\s\"'),;&?#])"
)
_EXTENSION = re.compile(r"(?i)\.(?:" + "|".join(DOCUMENT_EXTENSIONS) + r")(?![\w])")
# The names Office gives new documents identify no one.
_DEFAULT_NAMES = re.compile(r"(?i)^(document|book|presentation|drawing|publication|"
                            r"notebook|map|doc|mappe|boek|presentatie)\d*\.\w+$")


@register
class DocumentNameDetector(Detector):
    kind = "document-name"
    order = 80

    def precheck(self, value: str) -> bool:
        return "." in value and len(value) >= 5 and _EXTENSION.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        for match in _DOCUMENT.finditer(value):
            name = match.group(1).strip()
            base = re.split(r"[\\/]", name)[-1]
            if base.startswith("*") or base.startswith(".") or _DEFAULT_NAMES.match(base):
                continue
            yield PiiHit(self.kind, field, base,
                         "A document's file name is sent in this field.")
