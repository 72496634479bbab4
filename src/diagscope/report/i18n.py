"""Report wording in English and Dutch: the first readers are Dutch privacy officers."""

from __future__ import annotations

LANGUAGES = ("en", "nl")

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Verification report", "Verificatierapport"),
    "run": ("Run", "Run"),
    "label": ("Build under test", "Geteste build"),
    "verdict": ("Verdict", "Oordeel"),
    "PASS": ("PASS: no violation of the agreement was found",
             "GESLAAGD: geen schending van de afspraken gevonden"),
    "FAIL": ("FAIL: violations of the agreement were found",
             "NIET GESLAAGD: schendingen van de afspraken gevonden"),
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
    "envelope_ids": ("Pseudonymous identifiers the policy accepts",
                     "Pseudonieme identificatoren die het beleid aanvaardt"),
    "envelope_note": ("Sent without a finding, as the policy allows; counted, never shown.",
                      "Verzonden zonder bevinding, zoals het beleid toestaat; geteld, nooit "
                      "getoond."),
    "distinct": ("Distinct values", "Verschillende waarden"),
    "prefixes": ("Prefixes", "Voorvoegsels"),
    "findings": ("Findings", "Bevindingen"),
    "field": ("Field", "Veld"),
    "value": ("Value (masked)", "Waarde (gemaskeerd)"),
    "detail": ("Detail", "Toelichting"),
    "clause": ("Clause", "Bepaling"),
    "evidence": ("Evidence", "Bewijs"),
    "no_findings": ("No findings.", "Geen bevindingen."),
    "truncated": ("Only the first {n} findings are shown; the JSON report holds all {total}.",
                  "Alleen de eerste {n} bevindingen staan hier; het JSON-rapport bevat alle "
                  "{total}."),
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


def translator(lang: str):
    index = LANGUAGES.index(lang)

    def t(key: str, **kw: object) -> str:
        text = _TEXT[key][index] if key in _TEXT else key
        return text.format(**kw) if kw else text

    return t
