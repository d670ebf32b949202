"""Linear barcodes: EAN-13, Code 128, ITF, the FEBRABAN boleto, and their rendering."""

import io
import re
from collections.abc import Mapping
from decimal import Decimal

import barcode as python_barcode
from barcode.writer import BaseWriter, ImageWriter, SVGWriter
from stdnum import ean, luhn

from connectors.codes import PaymentCodeError
from connectors.codes.amounts import checked_amount

BARCODE_FORMATS = ("code128", "itf", "ean13")
# Longer symbols grow too wide for a phone camera or a hand scanner to read in one pass;
# 48 still fits a 44-digit boleto.
MAX_LINEAR_LENGTH = 48
# The boleto barcode's value field holds ten digits of cents.
MAX_BOLETO_AMOUNT = Decimal("99999999.99")
_DIGITS = re.compile(r"[0-9]+")
# The python-barcode SVG writer stamps its version into a comment; it says nothing about
# the code and would change the bytes on every upgrade.
_SVG_COMMENT = re.compile(rb"\s*<!--.*?-->", re.DOTALL)
# Whole pixels per module, so every bar in the PNG has exactly the width it should.
_PNG_OPTIONS: dict[str, float] = {"module_width": 0.254, "dpi": 200}


def ean13(digits: str) -> str:
    """The 13-digit EAN: 12 digits get their check digit appended, 13 have it verified."""
    if not isinstance(digits, str) or not _DIGITS.fullmatch(digits) or len(digits) not in (12, 13):
        raise PaymentCodeError(f"EAN-13 value must be 12 or 13 digits, got {digits!r}")
    check = _ean_check_digit(digits[:12])
    if len(digits) == 13 and digits[12] != check:
        raise PaymentCodeError(f"EAN-13 check digit of {digits} should be {check}")
    return digits[:12] + check


def code128_value(text: str) -> str:
    """`text` when Code 128 can carry it: printable ASCII, 1 to 48 characters."""
    if not isinstance(text, str) or not text:
        raise PaymentCodeError("Code 128 value must be a non-empty string")
    for character in text:
        if not " " <= character <= "~":
            raise PaymentCodeError(
                f"Code 128 value may only contain printable ASCII characters, not {character!r}"
            )
    if len(text) > MAX_LINEAR_LENGTH:
        raise PaymentCodeError(
            f"Code 128 value is {len(text)} characters long; at most {MAX_LINEAR_LENGTH} scan well"
        )
    return text


def itf_value(digits: str) -> str:
    """`digits` when Interleaved 2 of 5 can carry them: an even count, at most 48."""
    if not isinstance(digits, str) or not _DIGITS.fullmatch(digits):
        raise PaymentCodeError(f"ITF value must be digits only, got {digits!r}")
    if len(digits) % 2:
        # ITF encodes digits in pairs; padding with a zero would change the number.
        raise PaymentCodeError(f"ITF value must have an even number of digits, got {len(digits)}")
    if len(digits) > MAX_LINEAR_LENGTH:
        raise PaymentCodeError(
            f"ITF value is {len(digits)} digits long; at most {MAX_LINEAR_LENGTH} scan well"
        )
    return digits


def boleto_barcode(
    *,
    bank_code: str,
    currency_code: str = "9",
    due_factor: int,
    amount: Decimal,
    free_field: str,
) -> str:
    """The 44-digit FEBRABAN boleto barcode: bank, currency, check digit, due factor,
    amount in cents and the bank's 25-digit free field."""
    if not isinstance(bank_code, str) or not re.fullmatch(r"[0-9]{3}", bank_code):
        raise PaymentCodeError(f"bank_code must be the 3-digit bank number, got {bank_code!r}")
    if currency_code not in ("9", "0"):
        raise PaymentCodeError(
            f"currency_code must be 9 (real) or 0 (other), got {currency_code!r}"
        )
    # 0000 marks a boleto without due date; otherwise the factor counts days and runs
    # 1000..9999 (it restarted at 1000 on 22 February 2025).
    if (
        not isinstance(due_factor, int)
        or isinstance(due_factor, bool)
        or not (due_factor == 0 or 1000 <= due_factor <= 9999)
    ):
        raise PaymentCodeError(f"due_factor must be 0 or from 1000 to 9999, got {due_factor!r}")
    amount = checked_amount(amount, field="amount", minimum=Decimal("0"), maximum=MAX_BOLETO_AMOUNT)
    if not isinstance(free_field, str) or not re.fullmatch(r"[0-9]{25}", free_field):
        raise PaymentCodeError(f"free_field must be 25 digits, got {free_field!r}")
    cents = int(amount * 100)
    without_check = f"{bank_code}{currency_code}{due_factor:04d}{cents:010d}{free_field}"
    check = _boleto_check_digit(without_check)
    return without_check[:4] + check + without_check[4:]


def boleto_digitable_line(barcode: str) -> str:
    """The 47-digit linha digitável of a boleto barcode, written in its five groups:
    AAABC.CCCCX DDDDD.DDDDDY EEEEE.EEEEEZ K UUUUVVVVVVVVVV."""
    if not isinstance(barcode, str) or not re.fullmatch(r"[0-9]{44}", barcode):
        raise PaymentCodeError(f"boleto barcode must be 44 digits, got {barcode!r}")
    expected = _boleto_check_digit(barcode[:4] + barcode[5:])
    if barcode[4] != expected:
        raise PaymentCodeError(f"boleto barcode check digit should be {expected}, not {barcode[4]}")
    field1 = barcode[0:4] + barcode[19:24]
    field2 = barcode[24:34]
    field3 = barcode[34:44]
    groups = [field + _mod10(field) for field in (field1, field2, field3)]
    dotted = [f"{group[:5]}.{group[5:]}" for group in groups]
    return " ".join([*dotted, barcode[4], barcode[5:19]])


def barcode_svg(*, value: str, barcode_format: str) -> bytes:
    """The barcode as SVG; the same value always gives the same bytes."""
    rendered = _render(value=value, barcode_format=barcode_format, writer=SVGWriter(), options={})
    return _SVG_COMMENT.sub(b"", rendered)


def barcode_png(*, value: str, barcode_format: str) -> bytes:
    """The barcode as PNG; the same value always gives the same bytes."""
    return _render(
        value=value, barcode_format=barcode_format, writer=ImageWriter(), options=_PNG_OPTIONS
    )


def _render(
    *, value: str, barcode_format: str, writer: BaseWriter, options: Mapping[str, float]
) -> bytes:
    if barcode_format == "ean13":
        # python-barcode takes the 12 data digits and adds the check digit itself.
        symbol = python_barcode.get("ean13", ean13(value)[:12], writer=writer)
    elif barcode_format == "itf":
        symbol = python_barcode.get("itf", itf_value(value), writer=writer)
    elif barcode_format == "code128":
        symbol = python_barcode.get("code128", code128_value(value), writer=writer)
    else:
        raise PaymentCodeError(
            f"barcode_format must be one of {', '.join(BARCODE_FORMATS)}, got {barcode_format!r}"
        )
    output = io.BytesIO()
    symbol.write(output, options)
    return output.getvalue()


def _ean_check_digit(data: str) -> str:
    # GS1's check digit: weights 3 and 1 from the right.
    return ean.calc_check_digit(data)


def _boleto_check_digit(digits: str) -> str:
    """FEBRABAN modulo 11 over the 43 other digits, weights 2..9 from the right; a result of
    10 or 11 becomes 1, so the check digit is never 0."""
    total = sum(int(digit) * (2 + index % 8) for index, digit in enumerate(reversed(digits)))
    check = 11 - total % 11
    return "1" if check > 9 else str(check)


def _mod10(digits: str) -> str:
    """Modulo 10 of the digitable line fields: weights 2, 1, 2, ... from the right, the
    digits of each product summed, which is Luhn's check digit."""
    return luhn.calc_check_digit(digits)
