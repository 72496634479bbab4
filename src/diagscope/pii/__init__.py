"""Personal data in telemetry: one small detector per kind, masking, and canaries."""

from diagscope.pii.base import Detector, PiiHit
from diagscope.pii.scan import DETECTORS, scan_event_values, walk_values

__all__ = ["DETECTORS", "Detector", "PiiHit", "scan_event_values", "walk_values"]
