"""diagscope: verify Office and Windows diagnostic telemetry against a processing agreement."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("diagscope")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
