"""A labelled corpus for the personal-data detectors, generated from a fixed seed.

Each sample is (key, value, expected kinds). Planted values must be found; look-alikes
(versions, counters, GUIDs, hashes, timestamps, numbers failing the checksums) must not.

    python tests/pii_corpus.py   # prints the corpus as JSON lines
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from dataclasses import dataclass

from stdnum import iban, luhn
from stdnum.nl import bsn


@dataclass(frozen=True)
class Sample:
    key: str
    value: str
    kinds: frozenset[str]


def _bsn(rng: random.Random, valid: bool) -> str:
    while True:
        digits = f"{rng.randrange(10**8, 10**9):09d}"
        if bsn.is_valid(digits) == valid:
            return digits


def _iban(rng: random.Random) -> str:
    bank = rng.choice(["ABNA", "INGB", "RABO", "SNSB", "TRIO"])
    account = f"{rng.randrange(10**9, 10**10)}"
    body = f"{bank}{account}"
    check = iban.calc_check_digits(f"NL00{body}")
    return f"NL{check}{body}"


def _card(rng: random.Random, prefix: str, length: int) -> str:
    partial = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return partial + luhn.calc_check_digit(partial)


def _not_luhn(rng: random.Random) -> str:
    while True:
        digits = "4" + "".join(str(rng.randrange(10)) for _ in range(15))
        if not luhn.is_valid(digits):
            return digits


def corpus(seed: int = 2019, per_kind: int = 12) -> list[Sample]:
    rng = random.Random(seed)
    names = ["jjansen", "m.devries", "pbakker", "e.visser", "s.smit", "a.meijer"]
    out: list[Sample] = []
    add = lambda key, value, *kinds: out.append(Sample(key, value, frozenset(kinds)))  # noqa: E731

    for i in range(per_kind):
        who = rng.choice(names).replace(".", "")
        add("User.Email", f"{who}{i}@minjenv.nl", "email")
        add("Url", f"https://portal.example.org/?login={who}%40rijksoverheid.nl&x={i}", "email")
        add("Message", f"Contact {who}@gemeente-{i}.nl about the file", "email")
        add("ClientIp", f"145.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "ip-address")
        add("Peer", f"connected to 10.{rng.randrange(256)}.{rng.randrange(256)}.{i + 2}:443",
            "ip-address")
        add("Ipv6", f"2a02:a45{i % 10}:1c2:0:{rng.randrange(1, 9999):x}::1", "ip-address")
        add("Bsn", _bsn(rng, True), "bsn")
        add("Note", f"burgerservicenummer {_bsn(rng, True)} van de aanvrager", "bsn")
        number = _iban(rng)
        add("Iban", number, "iban")
        add("Payment", f"Paid from {' '.join(number[j:j + 4] for j in range(0, 18, 4))}",
            "iban")
        visa = _card(rng, "4", 16)
        add("CardNumber", visa, "payment-card")
        mastercard = _card(rng, str(rng.randrange(51, 56)), 16)
        add("Text", "card " + " ".join(mastercard[j:j + 4] for j in range(0, 16, 4)),
            "payment-card")
        add("Text", f"amex {_card(rng, '37', 15)[:4]}-{_card(rng, '37', 15)[4:10]}-x", )
        add("PhoneNumber", f"06{rng.choice('12345')}{rng.randrange(10**6, 10**7)}", "phone")
        add("Contact", f"bel +31 20 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            "phone")
        add("Document.Path", f"C:\\Users\\{rng.choice(names)}\\Documents\\notes{i}.txt",
            "user-path", "document-name")
        add("File", f"/home/{rng.choice(names)}/projects/report-{i}.pdf", "user-path",
            "document-name")
        add("Share", f"\\\\fileserver{i}\\afdeling\\budget", "user-path")
        add("FileName", f"Ontslagbrief {rng.choice(names)} {i}.docx", "document-name")
        add("Attachment", f"offerte-{i}.xlsx", "document-name")
        add("Mac", ":".join(f"{rng.randrange(256):02x}" for _ in range(6)), "mac-address")
        add("Adapter", "-".join(f"{rng.randrange(256):02X}" for _ in range(6)), "mac-address")
        add("Location", f"{rng.uniform(50.7, 53.5):.5f}, {rng.uniform(3.3, 7.2):.5f}", "gps")

    # Look-alikes: none of these is personal data.
    for i in range(per_kind * 3):
        add("Version", f"16.0.{rng.randrange(10000, 19999)}.{rng.randrange(10000, 29999)}")
        add("OsBuild", f"10.0.{rng.randrange(19041, 26100)}.{rng.randrange(1, 5000)}")
        add("AppVersion", "10.0.0.1")
        add("SdkVersion", f"EVT-Windows-C++-No-3.{rng.randrange(1, 9)}.{i}.1")
        add("Count", str(rng.randrange(10**9, 10**12)))
        add("Counter", _bsn(rng, False))
        add("Ticks", str(rng.randrange(638_000_000_000_000_000, 639_000_000_000_000_000)))
        add("EpochMs", str(rng.randrange(1_700_000_000_000, 1_800_000_000_000)))
        add("Id", str(uuid.UUID(int=rng.getrandbits(128))))
        add("Hash", hashlib.sha256(str(i).encode()).hexdigest())
        add("Md5", hashlib.md5(str(i).encode()).hexdigest())
        add("Timestamp", f"2026-11-02T09:{i % 60:02d}:{rng.randrange(60):02d}.123Z")
        add("Time", f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}")
        add("Number", _not_luhn(rng))
        add("Resolution", f"{rng.choice([1920, 2560, 3840])}x{rng.choice([1080, 1440, 2160])}")
        add("Locale", rng.choice(["nl-NL", "en-US", "de-DE", "fr-FR"]))
        add("DocIp", f"192.0.2.{rng.randrange(1, 255)}")
        add("Loopback", "127.0.0.1")
        add("LinkLocal", f"169.254.{rng.randrange(256)}.{rng.randrange(1, 255)}")
        add("Extension", rng.choice([".docx", "*.xlsx", "docx", "pdf"]))
        add("TemplateName", rng.choice(["Document1.docx", "Book1.xlsx", "Presentation2.pptx"]))
        add("Path", rng.choice(["C:\\Users\\Public\\Documents", "C:\\Program Files\\Microsoft "
                                "Office\\root\\Office16\\WINWORD.EXE", "/usr/lib/office"]))
        add("Coordinates", f"{rng.uniform(1, 9):.1f}, {rng.uniform(1, 9):.1f}")
        add("Session.Id", f"{rng.randrange(16**8):08x}-{rng.randrange(16**4):04x}")
        add("ErrorCode", f"0x{rng.randrange(16**8):08X}")
        add("Duration", str(rng.randrange(10**9)))
        add("Model", rng.choice(["Surface Laptop 5", "HP EliteBook 840 G9", "Latitude 7440"]))
        add("Mac", "00:00:00:00:00:00")
        add("Email", "user@localhost")
    _as_real_clients_send_it(random.Random(seed + 1), per_kind, add)
    return out


def _as_real_clients_send_it(rng: random.Random, per_kind: int, add) -> None:
    """Visited pages, device and account ids, titles and typed text, shaped like the fields
    real Windows and Edge events carry them in, and their look-alikes: Microsoft's own
    collector and settings URLs, URL templates, O.E.M. placeholders, activity GUIDs, default
    window titles, queries that are SQL."""
    sites = ["www.rechtspraak.nl", "mijn.belastingdienst.nl", "www.nu.nl", "intranet.minjenv.nl"]
    for i in range(per_kind):
        site = rng.choice(sites)
        add("navigationUrl", f"https://{site}/zaken/{i}?sid={rng.getrandbits(32):08x}", "url")
        add("Message", f"zie https://{site}/dossier/{i} voor details", "url")
        add("referrer", f"{site}/pagina-{i}", "url")
        add("OEMSerialNumber", f"PF{rng.getrandbits(24):06X}", "identifier")
        add("ProductKeyID2", f"00330-{rng.randrange(10**5):05d}-{rng.randrange(10**5):05d}-"
                             f"AA{rng.randrange(1000):03d}", "identifier")
        add("muid", f"{rng.getrandbits(128):032X}", "identifier")
        add("xuid", str(2533274800000000 + rng.randrange(10**7)), "identifier")
        partial = "35" + "".join(str(rng.randrange(10)) for _ in range(12))
        add("IMEI0", partial + luhn.calc_check_digit(partial), "identifier")
        add("PageTitle", f"Uitslag {rng.choice(['bloedonderzoek', 'sollicitatie', 'bezwaar'])} "
                         f"{i} - Microsoft Edge", "title")
        add("WindowTitle", f"Ontslagbrief {i} - Word", "title")
        add("searchQuery", f"ontslag aanvragen {i}", "customer-content")
        words = [{"word": w} for w in rng.sample(["ontslag", "brief", "advocaat", "ziek"], 2)]
        add("userText", json.dumps({"runs": [{"locale": "nl-NL", "words": words}]}),
            "customer-content")
    for i in range(per_kind * 3):
        add("ServiceUrl", "https://settings-win.data.microsoft.com/settings/v2.0/telemetry?os=W")
        add("Endpoint", f"https://eu-office.events.data.microsoft.com/OneCollector/1.0/?seq={i}")
        add("HelpLink", f"https://go.microsoft.com/fwlink/?LinkId={rng.randrange(10**6)}")
        add("UrlTemplate", "https://{tenant}.sharepoint.com/sites/{site}")
        add("Server", "https://www.nu.nl")
        add("OEMSerialNumber", rng.choice(["To be filled by O.E.M.", "#", "Default string", "0"]))
        add("OA3xOriginalProductKey", "#")
        add("ActivityID", str(uuid.UUID(int=rng.getrandbits(128))).upper())
        add("editId", str(uuid.UUID(int=rng.getrandbits(128))))
        add("IMEI0", "#")
        add("PageTitle", rng.choice(["New Tab - Microsoft Edge", "#", "", "Microsoft Edge"]))
        add("WindowTitle", rng.choice(["Document1 - Word", "Book1 - Excel", "Word"]))
        add("query", rng.choice(["SELECT * FROM Win32_Processor", "a=1&b=2"]))
        add("Blob", base64.b64encode(uuid.UUID(int=rng.getrandbits(128)).bytes).decode())


if __name__ == "__main__":
    for sample in corpus():
        print(json.dumps({"key": sample.key, "value": sample.value,
                          "kinds": sorted(sample.kinds)}))
