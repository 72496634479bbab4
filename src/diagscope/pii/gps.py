"""`gps`: coordinate pairs in fields that are about location."""

from __future__ import annotations

import re
from collections.abc import Iterator

from diagscope.pii.base import Detector, PiiHit, register, words

_LOCATION_WORDS = words(r"lat", r"lon", r"lng", r"location", r"geo", r"coord", r"position",
                        r"gps", r"locatie", r"place")
_PAIR = re.compile(r"(?<![\d.])(-?\d{1,2}\.\d{3,})\s*[,; ]\s*(-?\d{1,3}\.\d{3,})(?![\d.])")


def valid_pair(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0)


@register
class GpsDetector(Detector):
    kind = "gps"
    order = 100

    def precheck(self, value: str) -> bool:
        return len(value) >= 11 and _PAIR.search(value) is not None

    def find(self, field: str, key: str, value: str) -> Iterator[PiiHit]:
        if _LOCATION_WORDS.search(key) is None:  # the field's own name, not its parents'
            return
        for match in _PAIR.finditer(value):
            lat, lon = float(match.group(1)), float(match.group(2))
            if valid_pair(lat, lon):
                yield PiiHit(self.kind, field, match.group(0),
                             "A GPS coordinate pair (latitude, longitude) is sent.")


def coordinate_object(field: str, value: dict) -> PiiHit | None:
    """A `{lat: .., lon: ..}` object (numbers, not text) is a location too."""
    if not any(k[:3].lower() == "lat" for k in value):  # cheap: runs on every object
        return None
    keys = {k.lower(): k for k in value}
    lat_key = next((keys[k] for k in ("lat", "latitude") if k in keys), None)
    lon_key = next((keys[k] for k in ("lon", "lng", "long", "longitude") if k in keys), None)
    if lat_key is None or lon_key is None:
        return None
    lat, lon = value[lat_key], value[lon_key]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        return None
    if not valid_pair(float(lat), float(lon)) or (float(lat).is_integer()
                                                   and float(lon).is_integer()):
        return None
    return PiiHit("gps", field, f"{lat}, {lon}", "A GPS coordinate pair (latitude, "
                  "longitude) is sent.")
