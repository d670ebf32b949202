import base64
from decimal import Decimal

import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.iban import normalize_iban
from connectors.codes.nbu import nbu_qr_link, nbu_qr_text

# NBU Board resolution No. 97 of 19 August 2025 (bank.gov.ua/admin_uploads/law/19082025_97.pdf),
# appendix 3, example 2 "Оплата комунальних послуг", table 6 row 2: the Base64URL of the
# format 002 structure of table 5 (Windows-1251), published after the prefix
# https://bank.gov.ua/qr/.
FORMAT_002_EXAMPLE_2 = (
    "QkNECjAwMgoyClVDVAoKz_DA0iDAyiCTwu7k7u_u8fLg9-Dt7f-UClVBNzgzMjI2NjkwMDAwMDI2MDA1MDEyMTA3MTMy"
    "ClVBSDU3Ni40NQo0MDcyMzgyNQoKCs7v6-Dy4CDn4CD35fDi5e38IDIwMTksIOLz6y4g0eLu4e7k6CAxLCDq4i4gMjQs"
    "IM_l8vDl7eruINEuILIuIM_u6uDn4O3t_yDrs_fo6_zt6OrgIDIzNTc4LDMKCg"
)
# The same resolution, appendix 4, example 4 "Оплата товару в інтернет-магазині", table 10
# row 2: a format 003 structure (table 9, Windows-1251), published after https://qr.bank.gov.ua/.
FORMAT_003_EXAMPLE_4 = (
    "QkNECjAwMwoyCklDVAoK0s7CIKvUyiCExcLOk7sKVUE2NzMwMDUyODAwMDAwMjY1MDA1MDQzNTQwNzcKVUFIMTUwCjM3"
    "MTkzMDcxCk9USFIvR0REUwoxMjI1MTAyNTc2Cj9NZXJjaGFudEJ1c2luZXNzTmFtZT0iUk9aRVRLQS5VQSIsIM_u6vPv"
    "6uAg8u7i4PCz4iwg5-Ds7uLr5e3t_yC5ODIxNTU4OTY1Lgo_PEluc3RyRm9yQ2R0ckFndD48SW5zdHJJbmY-TWVyY2hJ"
    "RDowMTIzNC1UZXJtSWQ6NDMyMTA8L0luc3RySW5mPjwvSW5zdHJGb3JDZHRyQWd0PgpGRkZGCjI1MDMyMTEyMDAwMAoy"
    "NTAxMjkxMjAwMDAKUkZV"
)
# SWIFT IBAN Registry example for Ukraine.
VALID_UA_IBAN = "UA213223130000026007233566001"


def published(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("windows-1251")


def base64url(text: str, charset: str) -> str:
    return base64.urlsafe_b64encode(text.encode(charset)).decode().rstrip("=")


UTILITIES = {
    "receiver_name": "ПрАТ АК “Водопостачання”",
    "amount": Decimal("576.45"),
    "receiver_code": "40723825",
    "purpose": (
        "Оплата за червень 2019, вул. Свободи 1, кв. 24, Петренко С. І. "
        "Показання лічильника 23578,3"
    ),
}


def test_format_002_example_2_with_a_valid_iban():
    example = published(FORMAT_002_EXAMPLE_2)
    example_iban = example.split("\n")[6]
    # The example's account number fails the ISO 13616 check, so the builder cannot take it;
    # everything else (order, line ends, amount, Windows-1251 bytes) must match exactly.
    assert example_iban == "UA783226690000026005012107132"
    with pytest.raises(PaymentCodeError, match="check digits"):
        normalize_iban(example_iban)
    expected = example.replace(example_iban, VALID_UA_IBAN)

    arguments = {**UTILITIES, "iban": VALID_UA_IBAN, "charset": "windows-1251"}
    assert nbu_qr_text(**arguments) == expected
    assert nbu_qr_link(**arguments) == "https://bank.gov.ua/qr/" + base64url(
        expected, "windows-1251"
    )


def test_format_002_has_thirteen_fields_each_ending_in_a_line_feed():
    text = nbu_qr_text(**UTILITIES, iban=VALID_UA_IBAN)
    assert text.endswith("\n") and "\r" not in text
    fields = text.split("\n")[:-1]
    assert len(fields) == 13
    assert fields[:5] == ["BCD", "002", "1", "UCT", ""]  # UTF-8 unless asked otherwise
    assert fields[9:11] == ["", ""] and fields[12] == ""  # reserved and display fields


def test_format_003_follows_example_4_in_every_field_it_fills():
    example = published(FORMAT_003_EXAMPLE_4).split("\n")
    ours = nbu_qr_text(
        receiver_name="ТОВ «ФК „ЕВО“»",
        iban="UA673005280000026500504354077",
        amount=Decimal("150"),
        receiver_code="37193071",
        purpose='?MerchantBusinessName="ROZETKA.UA", Покупка товарів, замовлення №821558965.',
        version=3,
        category_purpose="OTHR/GDDS",
        reference="1225102576",
        charset="windows-1251",
    ).split("\n")
    assert len(ours) == len(example) == 17
    # Fields this builder leaves at their defaults: 4 function (UCT, the example is an instant
    # ICT transfer), 13 display text, 15 and 16 validity and issue dates.
    defaults = {3: "UCT", 12: "", 14: "", 15: ""}
    for index, (mine, theirs) in enumerate(zip(ours, example, strict=True)):
        assert mine == defaults.get(index, theirs), f"field {index + 1}"


def test_format_003_link_uses_the_qr_bank_gov_ua_prefix():
    arguments = {**UTILITIES, "iban": VALID_UA_IBAN, "version": 3, "category_purpose": "SUPP/SUPP"}
    text = nbu_qr_text(**arguments)
    assert nbu_qr_link(**arguments) == "https://qr.bank.gov.ua/" + base64url(text, "utf-8")


def test_format_003_lets_the_payer_type_the_amount_only_when_none_is_given():
    arguments = {**UTILITIES, "iban": VALID_UA_IBAN, "version": 3, "category_purpose": "SUPP/SUPP"}
    assert nbu_qr_text(**arguments).split("\n")[13] == "FFFF"
    assert nbu_qr_text(**{**arguments, "amount": None}).split("\n")[13] == "FEFF"


@pytest.mark.parametrize(
    ("amount", "element"),
    [
        (None, ""),
        (Decimal("3"), "UAH3"),
        (Decimal("3.00"), "UAH3"),
        (Decimal("3.5"), "UAH3.50"),
        (Decimal("1034.28"), "UAH1034.28"),
        (Decimal("999999999.99"), "UAH999999999.99"),
    ],
)
def test_amount_is_as_short_as_possible_with_two_digit_fractions(amount, element):
    text = nbu_qr_text(**{**UTILITIES, "amount": amount}, iban=VALID_UA_IBAN)
    assert text.split("\n")[7] == element


@pytest.mark.parametrize("code", ["40723825", "3182710695", "123456789", "АБ123456"])
def test_receiver_codes(code):
    text = nbu_qr_text(**{**UTILITIES, "receiver_code": code}, iban=VALID_UA_IBAN)
    assert text.split("\n")[8] == code


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"iban": "DE89370400440532013000"}, "Ukrainian IBAN"),
        ({"iban": "UA213223130000026007233566002"}, "IBAN"),
        ({"receiver_name": ""}, "receiver_name"),
        ({"receiver_name": "х" * 141}, "receiver_name"),
        ({"receiver_name": "Zażółć"}, "receiver_name"),
        ({"receiver_name": "ТОВ\u00a0Ромашка"}, "receiver_name"),
        ({"purpose": "х" * 421}, "purpose"),
        ({"purpose": "рядок\nрядок"}, "purpose"),
        ({"receiver_code": "1234567"}, "receiver_code"),
        ({"receiver_code": "12345678901"}, "receiver_code"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("1000000000")}, "amount"),
        ({"amount": Decimal("1.005")}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"version": 1}, "version"),
        ({"charset": "koi8-u"}, "charset"),
        ({"category_purpose": "OTHR/GDDS"}, "category_purpose is reserved in format 002"),
        ({"reference": "1225102576"}, "reference is reserved in format 002"),
        ({"version": 3}, "category_purpose .* is required"),
        ({"version": 3, "category_purpose": "OTHR"}, "category_purpose"),
        ({"version": 3, "category_purpose": "OTHR/GDDS", "reference": "№1"}, "reference"),
        ({"version": 3, "category_purpose": "OTHR/GDDS", "reference": "r" * 36}, "reference"),
        ({"purpose": "ї" * 300}, "shorten purpose"),
    ],
)
def test_refuses_what_the_rules_forbid(changes, field):
    arguments = {**UTILITIES, "iban": VALID_UA_IBAN, **changes}
    with pytest.raises(PaymentCodeError, match=field):
        nbu_qr_text(**arguments)
    with pytest.raises(PaymentCodeError, match=field):
        nbu_qr_link(**arguments)
