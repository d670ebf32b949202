from decimal import Decimal

import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.barcodes import (
    barcode_png,
    barcode_svg,
    boleto_barcode,
    boleto_digitable_line,
    code128_value,
    ean13,
    itf_value,
)

# Two published boleto pairs, barcode and linha digitável, both used as valid vectors in
# mcrvaz/boleto-brasileiro-validator (test/boleto-bancario.js and test/conversor.js): a Banco
# do Brasil boleto of R$ 1,00 and a Bradesco boleto of R$ 3.700,00.
BOLETO_BB = ("00193373700000001000500940144816060680935031",
             "00190.50095 40144.816069 06809.350314 3 37370000000100")  # fmt: skip
BOLETO_BRADESCO = ("23799755200003700003381260007827139500006330",
                   "23793.38128 60007.827136 95000.063305 9 75520000370000")  # fmt: skip


@pytest.mark.parametrize(
    ("data", "full"),
    [
        ("400638133393", "4006381333931"),  # Wikipedia "International Article Number" example
        ("629104150021", "6291041500213"),  # GS1 check digit calculation example (GTIN-13)
        ("978030640615", "9780306406157"),  # ISBN-13 example of ISO 2108 / Wikipedia "ISBN"
    ],
)
def test_ean13_check_digits(data, full):
    assert ean13(data) == full
    assert ean13(full) == full


@pytest.mark.parametrize(
    ("digits", "problem"),
    [
        ("4006381333932", "check digit of 4006381333932 should be 1"),
        ("40063813339", "12 or 13 digits"),
        ("40063813339311", "12 or 13 digits"),
        ("40063813339a", "12 or 13 digits"),
    ],
)
def test_ean13_refuses_bad_values(digits, problem):
    with pytest.raises(PaymentCodeError, match=f"EAN-13 .*{problem}|{problem}"):
        ean13(digits)


def test_code128_value():
    assert code128_value("INV-2026/0815") == "INV-2026/0815"
    assert code128_value("~" * 48) == "~" * 48
    for bad, problem in [("", "non-empty"), ("x" * 49, "at most 48"), ("São", "ASCII")]:
        with pytest.raises(PaymentCodeError, match=f"Code 128 value.*{problem}"):
            code128_value(bad)


def test_itf_value():
    assert itf_value("12345678") == "12345678"
    assert itf_value(BOLETO_BB[0]) == BOLETO_BB[0]
    for bad, problem in [("123", "even number"), ("12a4", "digits only"), ("1" * 50, "at most")]:
        with pytest.raises(PaymentCodeError, match=f"ITF value.*{problem}"):
            itf_value(bad)


@pytest.mark.parametrize(("barcode", "line"), [BOLETO_BB, BOLETO_BRADESCO])
def test_boleto_digitable_line_of_published_pairs(barcode, line):
    assert boleto_digitable_line(barcode) == line


def test_boleto_barcode_rebuilds_the_published_barcodes():
    assert (
        boleto_barcode(
            bank_code="001",
            due_factor=3737,
            amount=Decimal("1.00"),
            free_field="0500940144816060680935031",
        )
        == BOLETO_BB[0]
    )
    assert (
        boleto_barcode(
            bank_code="237",
            due_factor=7552,
            amount=Decimal("3700"),
            free_field="3381260007827139500006330",
        )
        == BOLETO_BRADESCO[0]
    )


def test_boleto_without_due_date_or_amount():
    barcode = boleto_barcode(
        bank_code="341", due_factor=0, amount=Decimal("0"), free_field="1" * 25
    )
    assert barcode[5:19] == "0" * 14
    assert boleto_digitable_line(barcode).endswith(" 00000000000000")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bank_code": "1"}, "bank_code"),
        ({"currency_code": "1"}, "currency_code"),
        ({"due_factor": 999}, "due_factor"),
        ({"due_factor": 10000}, "due_factor"),
        ({"due_factor": "3737"}, "due_factor"),
        ({"amount": Decimal("100000000")}, "amount"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"amount": 1.0}, "amount"),
        ({"free_field": "1" * 24}, "free_field"),
        ({"free_field": "x" * 25}, "free_field"),
    ],
)
def test_boleto_barcode_refuses_what_febraban_forbids(changes, field):
    arguments = {
        "bank_code": "001",
        "due_factor": 3737,
        "amount": Decimal("1.00"),
        "free_field": "0500940144816060680935031",
    }
    with pytest.raises(PaymentCodeError, match=field):
        boleto_barcode(**{**arguments, **changes})


def test_digitable_line_refuses_a_wrong_check_digit_or_length():
    # mcrvaz/boleto-brasileiro-validator's invalid variant: one digit changed.
    with pytest.raises(PaymentCodeError, match="check digit should be"):
        boleto_digitable_line("00153373700000001000500940144816060680935031")
    with pytest.raises(PaymentCodeError, match="44 digits"):
        boleto_digitable_line(BOLETO_BB[0][:-1])


@pytest.mark.parametrize(
    ("value", "barcode_format"),
    [("INV-2026/0815", "code128"), ("12345678", "itf"), ("4006381333931", "ean13")],
)
def test_rendering_is_deterministic(value, barcode_format):
    svg = barcode_svg(value=value, barcode_format=barcode_format)
    png = barcode_png(value=value, barcode_format=barcode_format)
    assert svg == barcode_svg(value=value, barcode_format=barcode_format)
    assert png == barcode_png(value=value, barcode_format=barcode_format)
    assert svg.startswith(b"<?xml") and b"<!--" not in svg
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_rendering_refuses_unknown_formats_and_invalid_values():
    with pytest.raises(PaymentCodeError, match="barcode_format must be one of"):
        barcode_svg(value="123", barcode_format="qr")
    with pytest.raises(PaymentCodeError, match="EAN-13"):
        barcode_png(value="4006381333932", barcode_format="ean13")
    with pytest.raises(PaymentCodeError, match="even number"):
        barcode_svg(value="123", barcode_format="itf")
