from decimal import Decimal

import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.epc import epc_qr_text

# EPC069-12 "Quick Response Code: Guidelines to Enable Data Capture for the Initiation of a
# SEPA Credit Transfer", section 2.3 examples (v2.1 of 9 February 2012 and later versions):
# example 1 "95 characters ... 96 byte UTF-8 code payload", example 2 "103 characters ...
# 103 byte ISO 8859-1 code payload". heuer/segno's tests/test_epc.py checks the same sizes.
EPC_EXAMPLE_1 = (
    "BCD\n001\n1\nSCT\nBHBLDEHHXXX\nFranz Mustermänn\nDE71110220330123456789\nEUR12.3\n"
    "GDDS\nRF18539007547034"
)
EPC_EXAMPLE_2 = (
    "BCD\n002\n2\nSCT\n\nFrançois D'Alsace S.A.\nFR1420041010050500013M02606\nEUR12.3\n\n\n"
    "Client:Marie Louise La Lune"
)


def test_example_1_apart_from_the_version_line():
    text = epc_qr_text(
        name="Franz Mustermänn",
        iban="DE71110220330123456789",
        amount=Decimal("12.30"),
        bic="BHBLDEHHXXX",
        purpose="GDDS",
        reference="RF18539007547034",
    )
    # This builder always writes version 002; example 1 is version 001, all else identical.
    assert text == EPC_EXAMPLE_1.replace("BCD\n001\n", "BCD\n002\n", 1)
    assert len(text) == 95
    assert len(text.encode("utf-8")) == 96


def test_example_2_apart_from_the_character_set_line():
    text = epc_qr_text(
        name="François D'Alsace S.A.",
        iban="FR14 2004 1010 0505 0001 3M02 606",
        amount=Decimal("12.3"),
        text="Client:Marie Louise La Lune",
    )
    # This builder always declares UTF-8 (1); example 2 declares ISO 8859-1 (2).
    assert text == EPC_EXAMPLE_2.replace("BCD\n002\n2\n", "BCD\n002\n1\n", 1)
    assert len(text) == 103


def test_trailing_empty_elements_are_left_out():
    assert epc_qr_text(name="A", iban="DE89370400440532013000") == (
        "BCD\n002\n1\nSCT\n\nA\nDE89370400440532013000"
    )
    assert epc_qr_text(name="A", iban="DE89370400440532013000", information="Danke") == (
        "BCD\n002\n1\nSCT\n\nA\nDE89370400440532013000\n\n\n\n\nDanke"
    )


@pytest.mark.parametrize(
    ("amount", "element"),
    [
        (Decimal("1"), "EUR1"),
        (Decimal("1.00"), "EUR1"),
        (Decimal("0.01"), "EUR0.01"),
        (Decimal("100"), "EUR100"),
        (Decimal("999999999.99"), "EUR999999999.99"),
    ],
)
def test_amount_is_written_as_the_examples_write_it(amount, element):
    lines = epc_qr_text(name="A", iban="DE89370400440532013000", amount=amount).split("\n")
    assert lines[7] == element


def test_non_eea_account_needs_a_bic():
    with pytest.raises(PaymentCodeError, match="bic is required"):
        epc_qr_text(name="A", iban="CH9300762011623852957")
    lines = epc_qr_text(name="A", iban="CH9300762011623852957", bic="ubswchzh80a").split("\n")
    assert lines[4] == "UBSWCHZH80A"


def test_payload_over_331_bytes_is_refused():
    longest = {
        "name": "x" * 70,
        "iban": "DE89370400440532013000",
        "amount": Decimal("999999999.99"),
        "text": "y" * 140,
    }
    assert len(epc_qr_text(**longest).encode()) == 267
    # Every element at its own limit no longer fits: 338 bytes.
    with pytest.raises(PaymentCodeError, match="338 bytes; at most 331"):
        epc_qr_text(**longest, information="z" * 70)
    with pytest.raises(PaymentCodeError, match="331"):
        epc_qr_text(name="€" * 70, iban="DE89370400440532013000", text="ä" * 140)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 71}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"iban": "DE89370400440532013001"}, "IBAN"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("1000000000")}, "amount"),
        ({"amount": Decimal("12.345")}, "amount"),
        ({"amount": 12.3}, "amount"),
        ({"bic": "DEUT"}, "bic"),
        ({"bic": "DEUTDEFF5"}, "bic"),
        ({"purpose": "GDS"}, "purpose"),
        ({"purpose": "gdds"}, "purpose"),
        ({"reference": "x" * 36}, "reference"),
        ({"reference": "RF19539007547034"}, "reference"),
        ({"reference": "RF18 5390 0754 7034"}, "reference"),
        ({"text": "x" * 141}, "text"),
        ({"reference": "RF18539007547034", "text": "both"}, "reference and text"),
        ({"information": "x" * 71}, "information"),
    ],
)
def test_refuses_what_the_standard_forbids(changes, field):
    with pytest.raises(PaymentCodeError, match=field):
        epc_qr_text(**{"name": "A", "iban": "DE89370400440532013000", **changes})
