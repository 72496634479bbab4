"""The rules every telemetry request and event is judged by.

Every module in this package holds one rule class registered with `@register`; importing
the package imports them all, so a new rule is one new file and nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from diagscope.rules.base import RequestContext, Rule, register, registered

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def default_rules() -> list[Rule]:
    """One instance of every registered rule, in their stable order."""
    return [rule() for rule in registered()]


def rule_names() -> list[str]:
    return [rule.name for rule in registered()]


__all__ = ["RequestContext", "Rule", "default_rules", "register", "rule_names"]
