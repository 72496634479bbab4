"""Report wording in English and Dutch: the first readers are Dutch privacy officers.

Besides the report's own texts, the Dutch report names rules, verdicts and the default
policy's purposes in Dutch, and cites a clause in the policy's own Dutch text where the
policy gives one: every `clause` (and `unknown_level_clause`, ...) may have a `clause_nl`
(`unknown_level_clause_nl`, ...) beside it. A clause without one is cited as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

LANGUAGES = ("en", "nl")
#: The suffix of a clause field's Dutch twin (`clause` -> `clause_nl`).
DUTCH_SUFFIX = "_nl"

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Verification report", "Verificatierapport"),
    "run": ("Run", "Run"),
    "label": ("Build under test", "Geteste build"),
    "verdict": ("Verdict", "Oordeel"),
    "PASS": ("PASS: no violation of the agreement was found",
             "GESLAAGD: geen schending van de afspraken gevonden"),
    "FAIL": ("FAIL: violations of the agreement were found",
             "NIET GESLAAGD: schendingen van de afspraken gevonden"),
    "NO DATA": ("NO DATA: no telemetry was seen, so this run shows nothing",
                "GEEN GEGEVENS: geen telemetrie gezien, dus deze run toont niets"),
    "INCOMPLETE": ("INCOMPLETE: evidence of this run is missing",
                   "ONVOLLEDIG: bewijs van deze run ontbreekt"),
    "violations": ("violations", "schendingen"),
    "reviews": ("to review", "te beoordelen"),
    "summary": ("Summary", "Samenvatting"),
    "office_versions": ("Office versions seen", "Geziene Office-versies"),
    "windows_versions": ("Windows versions seen", "Geziene Windows-versies"),
    "scenario": ("Scenario", "Scenario"),
    "policy": ("Policy", "Beleid"),
    "captures": ("Capture files", "Opnamebestanden"),
    "time_window": ("Time window", "Tijdvenster"),
    "tool": ("Tool", "Hulpmiddel"),
    "requests": ("Telemetry requests", "Telemetrieverzoeken"),
    "events": ("Events", "Gebeurtenissen"),
    "undecodable": ("Undecodable requests", "Niet te decoderen verzoeken"),
    "bytes": ("Bytes sent", "Verzonden bytes"),
    "by_rule": ("Findings per rule", "Bevindingen per regel"),
    "rule": ("Rule", "Regel"),
    "severity": ("Severity", "Ernst"),
    "count": ("Count", "Aantal"),
    "charts": ("At a glance", "In één oogopslag"),
    "events_over_time": ("Events over time (red: violating)",
                         "Gebeurtenissen in de tijd (rood: in strijd)"),
    "events_per_endpoint": ("Events per endpoint", "Gebeurtenissen per eindpunt"),
    "level_distribution": ("Diagnostic levels", "Diagnostische niveaus"),
    "purpose_distribution": ("Purposes", "Doeleinden"),
    "overview": ("Overview of telemetry observed, by level",
                 "Overzicht van waargenomen telemetrie, per niveau"),
    "level": ("Level", "Niveau"),
    "name": ("Event name", "Naam gebeurtenis"),
    "product": ("Product", "Product"),
    "purpose": ("Purpose", "Doel"),
    "endpoints": ("Endpoints contacted", "Benaderde eindpunten"),
    "host": ("Host", "Host"),
    "region": ("Region", "Regio"),
    "allowed": ("Allowed", "Toegestaan"),
    "yes": ("yes", "ja"),
    "no": ("no", "nee"),
    "not_listed": ("not listed", "niet vermeld"),
    "steps": ("Per scenario step", "Per stap van het scenario"),
    "step_line": ("Step {n}{title}: {events} events, {violations} violations, {reviews} to "
                  "review", "Stap {n}{title}: {events} gebeurtenissen, {violations} "
                  "schendingen, {reviews} te beoordelen"),
    "before_steps": ("Before the first step: {events} events, {violations} violations, "
                     "{reviews} to review", "Voor de eerste stap: {events} gebeurtenissen, "
                     "{violations} schendingen, {reviews} te beoordelen"),
    "envelope_ids": ("Pseudonymous identifiers the policy accepts",
                     "Pseudonieme identificatoren die het beleid aanvaardt"),
    "envelope_note": ("Sent without a finding, as the policy allows; counted, never shown.",
                      "Verzonden zonder bevinding, zoals het beleid toestaat; geteld, nooit "
                      "getoond."),
    "distinct": ("Distinct values", "Verschillende waarden"),
    "gone_endpoints": ("Endpoints no longer contacted", "Niet meer benaderde eindpunten"),
    "volume": ("Volume", "Volume"),
    "before": ("Before", "Voor"),
    "after": ("After", "Na"),
    "prefixes": ("Prefixes", "Voorvoegsels"),
    "findings": ("Findings", "Bevindingen"),
    "field": ("Field", "Veld"),
    "value": ("Value (masked)", "Waarde (gemaskeerd)"),
    "detail": ("Detail", "Toelichting"),
    "clause": ("Clause", "Bepaling"),
    "evidence": ("Evidence", "Bewijs"),
    "no_findings": ("No findings.", "Geen bevindingen."),
    "truncated": ("Only the first {n} of {total} distinct findings are shown; the JSON report "
                  "holds them all.",
                  "Alleen de eerste {n} van {total} verschillende bevindingen staan hier; het "
                  "JSON-rapport bevat ze allemaal."),
    "occurrences": ("{n} times in {flows} requests, first in", "{n} keer in {flows} verzoeken, "
                    "het eerst in"),
    "diff": ("Changes since the baseline run", "Wijzigingen sinds de referentierun"),
    "new_events": ("New event names", "Nieuwe gebeurtenissen"),
    "gone_events": ("Event names no longer seen", "Niet meer geziene gebeurtenissen"),
    "changed_events": ("Changed level or purpose", "Gewijzigd niveau of doel"),
    "new_findings": ("New findings", "Nieuwe bevindingen"),
    "resolved_findings": ("Resolved findings", "Opgeloste bevindingen"),
    "new_endpoints": ("New endpoints", "Nieuwe eindpunten"),
    "integrity": ("Integrity", "Integriteit"),
    "chain": ("Hash chain head over {n} stored rows",
              "Kop van de hashketen over {n} opgeslagen rijen"),
    "masked_note": ("Values are masked. The raw telemetry is kept as evidence in the database "
                    "and may contain personal data.",
                    "Waarden zijn gemaskeerd. De ruwe telemetrie is als bewijs bewaard in de "
                    "database en kan persoonsgegevens bevatten."),
    "generated": ("Generated", "Gegenereerd"),
    "none": ("none", "geen"),
    "warning": ("Warning", "Waarschuwing"),
    "intended": ("settings to test", "te testen instellingen"),
    "configured": ("Configured on the test machine", "Ingesteld op de testmachine"),
    "canaries": ("canaries planted", "geplante canaries"),
}


#: Rule names, verdict words and the default policy's purposes in Dutch; a name missing here
#: (a lab policy's own purpose) is shown as it is.
_DUTCH_RULES = {
    "level": "niveau",
    "purpose": "doel",
    "unknown-event": "onbekende gebeurtenis",
    "undocumented-field": "ongedocumenteerd veld",
    "personal-data": "persoonsgegevens",
    "destination": "bestemming",
    "transport": "transport",
    "undecodable": "niet te decoderen",
}
_DUTCH_VERDICTS = {"ok": "in orde", "review": "te beoordelen", "violation": "schending"}
# The processor agreement's own words for its purposes (Verwerkersovereenkomst 2019).
_DUTCH_PURPOSES = {
    "performing": "uitvoeren",
    "security": "beveiliging",
    "up-to-date": "actueel",
    "business-operations": "legitieme bedrijfsvoering",
    "analytics": "data-analyse",
    "profiling": "profilering",
    "advertising": "adverteren",
    "market-research": "marktonderzoek",
    "unknown": "onbekend",
}


def _key(clause: str) -> str:
    # Folded YAML and stored findings may differ in line breaks, never in words.
    return " ".join(clause.split())


class Wording:
    """The words of one report: its texts (`t("title")`), and rule names, verdict words,
    purposes and the policy's clauses in the report's language."""

    def __init__(self, lang: str, clauses: Mapping[str, str] | None = None) -> None:
        self.lang = lang
        self._index = LANGUAGES.index(lang)
        dutch = lang == "nl"
        self._rules = _DUTCH_RULES if dutch else {}
        self._verdicts = _DUTCH_VERDICTS if dutch else {}
        self._purposes = _DUTCH_PURPOSES if dutch else {}
        self._clauses = {_key(k): v for k, v in (clauses or {}).items()} if dutch else {}

    def __call__(self, key: str, **kw: object) -> str:
        text = _TEXT[key][self._index] if key in _TEXT else key
        return text.format(**kw) if kw else text

    def rule(self, name: str) -> str:
        return self._rules.get(name, name)

    def verdict(self, word: str) -> str:
        """An event's verdict or a finding's severity."""
        return self._verdicts.get(word, word)

    def purpose(self, purpose: str) -> str:
        return self._purposes.get(purpose, purpose)

    def clause(self, text: str) -> str:
        return self._clauses.get(_key(text), text)


def translator(lang: str, clauses: Mapping[str, str] | None = None) -> Wording:
    """The wording of a report in `lang`; `clauses` maps a policy's clause texts to its
    Dutch ones (`dutch_clauses`)."""
    return Wording(lang, clauses)


def _mappings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def dutch_clauses(policy: Mapping[str, Any]) -> dict[str, str]:
    """A policy's clause texts (as JSON, `Policy.model_dump`) mapped to the Dutch texts it
    gives beside them: every `...clause` field with a non-empty `...clause_nl` twin."""
    found: dict[str, str] = {}
    for mapping in _mappings(dict(policy)):
        for key, value in mapping.items():
            dutch = mapping.get(key + DUTCH_SUFFIX)
            if key.endswith("clause") and isinstance(value, str) and isinstance(dutch, str) \
                    and dutch.strip():
                found[value] = dutch
    return found


@lru_cache(maxsize=16)
def bundled_dutch_clauses(name: str, sha256: str) -> dict[str, str]:
    """The Dutch clauses of the bundled policy `name`, when it is byte for byte the policy
    a run was judged by (the same sha256 over it and all it extends); else none, and the
    clauses are cited as the run stored them."""
    from diagscope.policy.load import PolicyError, bundled_names, load_policy

    if name not in bundled_names():
        return {}
    try:
        loaded = load_policy(name)
    except PolicyError:
        return {}
    if loaded.sha256 != sha256:
        return {}
    return dutch_clauses(loaded.policy.model_dump(mode="json"))
