"""Open any capture by its content (not its extension), and expand directories."""

from __future__ import annotations

from pathlib import Path

from diagscope.sources.base import CaptureSource
from diagscope.sources.ddv import DdvReader, sniff_ddv
from diagscope.sources.flows import CaptureReader
from diagscope.sources.har import HarReader, looks_like_har
from diagscope.sources.saz import SazReader, is_saz


def open_source(path: str) -> CaptureSource:
    """The reader for `path`, chosen by the file's first bytes."""
    with open(path, "rb") as fo:
        head = fo.read(8192)
    if head.startswith(b"PK\x03\x04") and is_saz(path):
        return SazReader(path)
    if looks_like_har(head):
        return HarReader(path)
    kind = sniff_ddv(head)
    if kind is not None:
        return DdvReader(path, kind)
    return CaptureReader(path)


def expand_inputs(paths: list[str]) -> list[str]:
    """Files as given; directories replaced by the files in them, sorted."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(str(f) for f in sorted(path.rglob("*"))
                       if f.is_file() and not f.name.startswith("."))
        else:
            out.append(p)
    return out
