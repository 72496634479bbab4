"""The rules every telemetry request and event is judged by.

Adding a rule means adding a module with one `Rule` subclass and listing it here; the
pipeline runs whatever this registry holds.
"""

from diagscope.rules.base import RequestContext, Rule
from diagscope.rules.catalogue import UnknownEventRule
from diagscope.rules.destination import DestinationRule
from diagscope.rules.level import LevelRule
from diagscope.rules.personal_data import PersonalDataRule
from diagscope.rules.purpose import PurposeRule
from diagscope.rules.transport import TransportRule
from diagscope.rules.undecodable import UndecodableRule
from diagscope.rules.undocumented_field import UndocumentedFieldRule


def default_rules() -> list[Rule]:
    return [
        UndecodableRule(),
        TransportRule(),
        DestinationRule(),
        LevelRule(),
        PurposeRule(),
        UnknownEventRule(),
        UndocumentedFieldRule(),
        PersonalDataRule(),
    ]


__all__ = ["RequestContext", "Rule", "default_rules"]
