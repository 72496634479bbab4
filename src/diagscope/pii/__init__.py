"""Personal data in telemetry: one small detector per kind, masking, and canaries.

Every detector module registers its class with `@register` (`pii.base`); importing the
package imports them all, so a new kind is one new file.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "mask", "scan", "layers", "canary"):
        importlib.import_module(f"{__name__}.{_module.name}")

from diagscope.pii.base import Detector, PiiHit  # noqa: E402
from diagscope.pii.scan import DETECTORS, scan_event_values, walk_values  # noqa: E402

__all__ = ["DETECTORS", "Detector", "PiiHit", "scan_event_values", "walk_values"]
