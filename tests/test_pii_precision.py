"""Detector fixes for real-world misses and false alarms, one behaviour per test."""

from __future__ import annotations

import pytest

from diagscope.pii.base import Detector
from diagscope.pii.email import EmailDetector
from diagscope.pii.iban import IbanDetector, iban_length, iban_shaped_spans
from diagscope.pii.payment_card import PaymentCardDetector
from diagscope.pii.phone import PhoneDetector
from diagscope.pii.scan import DETECTORS

# The kinds these fixes are about; other detectors have tests of their own.
KINDS = {"email", "ip-address", "bsn", "iban", "payment-card", "phone", "mac-address"}


def found(key: str, value: str) -> set[tuple[str, str]]:
    """(kind, value) of everything the default detectors of KINDS report for one field."""
    return {(h.kind, h.value) for d in DETECTORS if d.kind in KINDS
            for h in d.scan(f"data.{key}", key, value)}


def values(detector: Detector, key: str, value: str) -> list[str]:
    return [h.value for h in detector.scan(f"data.{key}", key, value)]


# IBAN


@pytest.mark.parametrize(("text", "number"), [
    ("ES91 2100 0418 4502 0005 1332 EUR", "ES9121000418450200051332"),
    ("AL47212110090000000235698741 ALL CAPS", "AL47212110090000000235698741"),
    ("this is an iban VG96 VPVG 0000 0123 4567 8901 X in a sentence",
     "VG96VPVG0000012345678901"),
])
def test_iban_followed_by_a_capitalised_word(text, number):
    assert values(IbanDetector(), "Text", text) == [number]


def test_iban_next_to_another_iban_keeps_both():
    text = "NL91ABNA0417164300 NL91ABNA0417164300, XX12 NL91 ABNA 0417 1643 00"
    assert values(IbanDetector(), "Text", text) == ["NL91ABNA0417164300"] * 3


@pytest.mark.parametrize("text", [
    "NL91-ABNA-0417-1643-00",
    "Dash as iban separator: AL47-2121-1009-0000-0002-3569-8741",
    "NO 02 15037577003",  # national print formats: check digits apart, odd groups, dots
    "NO07.8380.08.06006",
    "TL 38 008 00123456789101 57",
    "pay to nl91abna0417164300 today",  # one case throughout, even lower
])
def test_iban_in_other_print_formats(text):
    assert len(values(IbanDetector(), "Text", text)) == 1


@pytest.mark.parametrize("text", [
    "GI75 aWBK 0000 0000 7099 453",  # mixed case: a typo or a code, not a written IBAN
    "AL47/2121/1009/0000/0002/3569/8741",  # slashes separate path parts
    "CY17 0020 0128 0000 0012 0052 7601 failed",  # checksum
    "IL15 0120 6900 0000 3111 0120 6900 0000 3111 141",  # longer than any Israeli IBAN
    "ES2121000418450200051331",  # Spanish national check digits wrong
])
def test_iban_look_alikes(text):
    assert values(IbanDetector(), "Text", text) == []


def test_iban_at_a_bank_missing_from_stdnums_bank_list():
    # The IBAN registry's own Belgian example; its bank code 539 is not in stdnum's list.
    assert values(IbanDetector(), "Iban", "BE68539007547034") == ["BE68539007547034"]
    assert values(IbanDetector(), "Iban", "BE68539007547035") == []


def test_iban_lengths_come_from_the_registry():
    assert (iban_length("NL"), iban_length("no"), iban_length("QQ")) == (18, 15, None)


# Other kinds inside an IBAN


def test_no_card_number_inside_an_iban():
    assert found("Text", "RS35 2600 0560 1001 6113 79") == {("iban", "RS35260005601001611379")}
    # Mistyped (checksum fails): still an account number, still no card.
    assert found("Text", "RS35 2600 0560 1001 6113 70") == set()
    assert iban_shaped_spans("RS35 2600 0560 1001 6113 70") == [(0, 27)]


@pytest.mark.parametrize(("key", "text", "number"), [
    ("Text", "Paid from NL61 ABNA 0222 7592 83 today", "NL61ABNA0222759283"),  # 0222 759283
    ("Text", "GB93 NWBK 0052 8172 5756 47", "GB93NWBK00528172575647"),  # 00 52 8172…
    ("Phone", "NL61 ABNA 0222 7592 83", "NL61ABNA0222759283"),
])
def test_no_phone_number_inside_an_iban(key, text, number):
    assert found(key, text) == {("iban", number)}


def test_card_after_an_iban_or_after_a_country_is_still_a_card():
    text = "NL91ABNA0417164300 4111 1111 1111 1111"
    assert found("Text", text) == {("iban", "NL91ABNA0417164300"),
                                   ("payment-card", "4111111111111111")}
    assert found("Text", "NL 4111 1111 1111 1111") == {("payment-card", "4111111111111111")}


# Payment cards


def test_uatp_cards():
    detector = PaymentCardDetector()
    assert values(detector, "CardNumber", "122000000000003") == ["122000000000003"]
    assert values(detector, "Text", "uatp 1220 00000 000003") == ["122000000000003"]
    assert values(detector, "CardNumber", "122000000000004") == []  # Luhn
    assert values(detector, "CardNumber", "1748503543012") == []  # 13 digits: no network
    assert values(detector, "Counter", "122000000000003") == []  # bare, and not a card field


def test_amex_grouped_four_six_five():
    assert values(PaymentCardDetector(), "Text", "amex 3714 496353 98431") == ["371449635398431"]


# IP addresses


@pytest.mark.parametrize(("text", "address"), [
    ("Server IP: 2400:c401::5054:ff:fe1b:b031.", "2400:c401::5054:ff:fe1b:b031"),
    ("connected to 2a02:a450:1c2::1. Retrying", "2a02:a450:1c2::1"),
])
def test_ipv6_before_a_full_stop(text, address):
    assert found("Text", text) == {("ip-address", address)}


def test_ipv6_carrying_ipv4_is_judged_by_the_ipv4_address():
    assert found("Peer", "::ffff:10.0.0.1") == {("ip-address", "::ffff:10.0.0.1")}
    assert found("Peer", "64:ff9b::8.8.8.8") == {("ip-address", "64:ff9b::8.8.8.8")}
    assert found("Peer", "::ffff:127.0.0.1") == set()  # loopback
    assert found("Peer", "2001:db8::10.0.0.1") == set()  # documentation prefix
    assert found("Peer", "0.1.2.3") == set()  # "this network"


USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0")


@pytest.mark.parametrize(("key", "value"), [
    ("userAgent", USER_AGENT),
    ("Text", "Chrome/141.0.0.0"),  # a product's version, whatever the field
    ("ua", "Edge/18.17763 Version/14.0.3 AppleWebKit/537.36"),
    ("agent", "Microsoft Office/16.0 (Windows NT 10.0.0.1; Microsoft Outlook 16.0.1.2)"),
    ("ClientUA", "Excel 16.0.1.2"),
    ("OsVersion", "10.0.19043.985"),
    ("AppVer", "16.0.0.1"),
])
def test_versions_in_agent_and_version_fields_are_no_addresses(key, value):
    assert found(key, value) == set()


@pytest.mark.parametrize(("key", "value", "address"), [
    ("userAgent", "8.8.8.8", "8.8.8.8"),
    ("userAgent", "Mozilla/5.0 (8.8.4.4) via=145.1.2.3", "8.8.4.4"),
    ("Url", "http://8.8.8.8/path", "8.8.8.8"),
    ("Text", "Windows NT 16.0.1.2", "16.0.1.2"),  # outside agent fields a space is no product
    ("DnsServer", "8.8.8.8", "8.8.8.8"),  # "Server" ends in "ver" but is no version field
])
def test_addresses_in_agent_strings_and_urls_are_still_found(key, value, address):
    assert ("ip-address", address) in found(key, value)


# E-mail


@pytest.mark.parametrize("address", [
    "a@xn--d1acufc.xn--p1ai", "user@xn--80ak6aa92e.com", "jan@voorbeeld.рф", "jörg@bücher.de",
])
def test_internationalised_domains(address):
    assert values(EmailDetector(), "Text", f"mail {address} today") == [address]


@pytest.mark.parametrize("text", ["x@xn--zzzz.com", "x@xn--a.com", "name@host_x.nl",
                                  "my email is info@presidio."])
def test_invalid_domains_are_no_addresses(text):
    assert values(EmailDetector(), "Text", text) == []


# Phone numbers


def test_phone_fields_try_the_fallback_regions():
    detector = PhoneDetector()
    assert values(detector, "Phone", "(415) 555-0132") == ["+14155550132"]
    assert values(detector, "Phone", "0470 12 34 56") == ["+32470123456"]  # Belgian mobile
    assert values(detector, "Phone", "0612345678") == ["+31612345678"]  # NL comes first
    # Both numbers of one field, each read in the region where it is valid.
    assert values(detector, "Phone", "(415) 555-0132 or +44 20 7123 4567") == [
        "+442071234567", "+14155550132"]


def test_free_text_reads_national_numbers_in_the_region_only():
    assert values(PhoneDetector(), "Text", "call (415) 555-0132") == []
    assert values(PhoneDetector(region="US"), "Text", "call (415) 555-0132") == ["+14155550132"]
    assert values(PhoneDetector(fallback_regions=()), "Phone", "(415) 555-0132") == []
    assert values(PhoneDetector(), "Text", "bel (020) 123 4567 morgen") == ["+31201234567"]


@pytest.mark.parametrize("key", ["TelemetryId", "HotelName", "CellCount"])
def test_phone_words_inside_other_words_name_no_phone(key):
    assert values(PhoneDetector(), key, "31612345678") == []
    assert values(PhoneDetector(), "Telephone", "31612345678") == ["+31612345678"]


# BSN context words


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("UserSsn", "123456782", {("bsn", "123456782")}),
    ("ClassName", "123456782", set()),  # "ssn" inside a word
    ("Text", "classname 123456782", set()),
    ("Text", "Sofia 123456782", set()),  # "sofi" inside a name
    ("Text", "sofinummer 123456782", {("bsn", "123456782")}),
])
def test_bsn_context_words_must_be_words(key, value, expected):
    assert found(key, value) == expected
