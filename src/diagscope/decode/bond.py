"""Bond Compact Binary: the compiled reader where this installation has one, else the pure one.

`bond_reader.py` is the reader and the reference. Installing the package compiles that same
source with mypyc into `_bond_native` (setup.py), which reads the same bytes about twice as
fast (`benchmarks/bench_bond.py`); where no C compiler is at hand the installation has the
pure module only. The compiled module carries the SHA-256 of the source it was built from
and runs only while that still matches `bond_reader.py`, so an edited reader never runs
stale. `DIAGSCOPE_PURE_PYTHON=1` selects the pure reader regardless (to compare the two, or
to rule the compiled one out).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from diagscope.decode import bond_reader as reference

PURE_ENV = "DIAGSCOPE_PURE_PYTHON"
NATIVE_MODULE = "diagscope.decode._bond_native"


def source_digest() -> str:
    """SHA-256 of the reference source, as the build stamps it into the compiled module."""
    return hashlib.sha256(Path(reference.__file__).read_bytes()).hexdigest()


def _select() -> tuple[ModuleType, str]:
    if os.environ.get(PURE_ENV):
        return reference, f"pure Python ({PURE_ENV} is set)"
    try:
        native = importlib.import_module(NATIVE_MODULE)
    except ImportError:
        return reference, "pure Python (no compiled reader in this installation)"
    if getattr(native, "SOURCE_SHA256", None) != source_digest():
        return reference, "pure Python (the compiled reader was built from another source)"
    return native, "compiled (mypyc)"


implementation, IMPLEMENTATION = _select()

if TYPE_CHECKING:
    from diagscope.decode.bond_reader import *  # noqa: F403
else:
    globals().update({name: getattr(implementation, name) for name in reference.__all__})

__all__ = [*reference.__all__, "IMPLEMENTATION", "implementation", "source_digest"]
