"""National Bank of Ukraine QR code for credit transfers, formats 002 and 003.

Rules: NBU Board resolution No. 97 of 19 August 2025 ("Правила формування, передачі та
обробки структури даних і графічного зображення QR-коду для обміну реквізитами кредитових
та миттєвих кредитових переказів"), in force since 1 November 2025; appendix 3 is format
002, appendix 4 format 003.

In both formats the QR code holds a hyperlink, not the text: the app-start prefix followed
by the Base64URL of the data structure. `nbu_qr_text` returns that data structure (what a
payment app reads after decoding), `nbu_qr_link` the hyperlink to put in the QR image.
"""

import base64
import re
from decimal import Decimal

from connectors.codes import PaymentCodeError
from connectors.codes.amounts import checked_amount
from connectors.codes.iban import normalize_iban
from connectors.codes.texts import checked_text, require_printable_ascii

# Appendix 3, table 1 allows either prefix for format 002; the NBU's examples use this one.
# Appendix 4, table 1 allows only qr.bank.gov.ua (or a payment provider's own domain) for 003.
LINK_PREFIXES = {2: "https://bank.gov.ua/qr/", 3: "https://qr.bank.gov.ua/"}
# Field 3 "Кодування": 1 is UTF-8, 2 is Windows-1251.
CHARSETS = {"utf-8": "1", "windows-1251": "2"}
MAX_ENCODED_LENGTH = 475  # table 1, "Закодована структура даних QR"
MAX_AMOUNT = Decimal("999999999.99")
# Format 003 lets the payer change only field 8 (the amount) with FEFF, nothing with FFFF
# (appendix 4, item 4.14 and the examples).
_AMOUNT_EDITABLE = "FEFF"
_NOTHING_EDITABLE = "FFFF"
# Every published format 003 example writes RFU into field 17, the reserved signature.
_RESERVED_SIGNATURE = "RFU"
# EDRPOU (8 digits), RNOKPP (10 digits), ID-card passport (9 digits) or a passport book
# (two Cyrillic capitals and 6 digits), the codes a Ukrainian credit transfer names.
_RECEIVER_CODE = re.compile(r"[0-9]{8}|[0-9]{9}|[0-9]{10}|[А-ЯҐЄІЇ]{2}[0-9]{6}")
# ISO 20022 category purpose and purpose codes, CCCC/PPPP (appendix 4, field 10).
_CATEGORY_PURPOSE = re.compile(r"[A-Z0-9]{4}/[A-Z0-9]{4}")
# Appendix 1, item 4: characters 32 to 255 of Windows-1251 except 127, 152 and 160, or
# their Unicode equivalents when the structure is UTF-8.
_FORBIDDEN_BYTES = {0x7F, 0x98, 0xA0}


def nbu_qr_text(
    *,
    receiver_name: str,
    iban: str,
    amount: Decimal | None,
    receiver_code: str,
    purpose: str,
    version: int = 2,
    category_purpose: str | None = None,
    reference: str | None = None,
    charset: str = "utf-8",
) -> str:
    """The open data structure of format 002 (13 fields) or 003 (17 fields), Lf-separated.

    Format 003 requires `category_purpose` (field 10) and may carry `reference` (field 11);
    in format 002 both fields are reserved and must stay empty.
    """
    if version not in LINK_PREFIXES:
        raise PaymentCodeError(f"version must be 2 or 3 (formats 002 and 003), got {version!r}")
    if charset not in CHARSETS:
        raise PaymentCodeError(f"charset must be one of {', '.join(CHARSETS)}, got {charset!r}")
    common = [
        "BCD",
        f"{version:03d}",
        CHARSETS[charset],
        "UCT",  # Ukrainian Credit Transfer
        "",  # 5: BIC (002) or receiver identifier (003), reserved
        _nbu_text(receiver_name, field="receiver_name", max_length=140),
        _ukrainian_iban(iban),
        _amount_element(amount),
        _checked_receiver_code(receiver_code),
    ]
    payment_purpose = _nbu_text(purpose, field="purpose", max_length=420)
    if version == 2:
        for field, value in (("category_purpose", category_purpose), ("reference", reference)):
            if value is not None:
                raise PaymentCodeError(f"{field} is reserved in format 002; use version 3")
        # Every field ends with a line end, the empty ones too (appendix 3, items 6-9).
        text = "".join(f"{field}\n" for field in [*common, "", "", payment_purpose, ""])
    else:
        fields = [
            *common,
            _checked_category_purpose(category_purpose),
            _checked_reference(reference),
            payment_purpose,
            "",  # 13: display text
            _NOTHING_EDITABLE if amount is not None else _AMOUNT_EDITABLE,
            "",  # 15: valid until, unlimited
            "",  # 16: issued at
            _RESERVED_SIGNATURE,
        ]
        # The NBU's format 003 examples separate fields with Lf and end on field 17.
        text = "\n".join(fields)
    encoded_length = len(_base64url(text.encode(charset)))
    if encoded_length > MAX_ENCODED_LENGTH:
        raise PaymentCodeError(
            f"NBU QR data encodes to {encoded_length} characters; at most {MAX_ENCODED_LENGTH} "
            "fit, so shorten purpose or receiver_name"
        )
    return text


def nbu_qr_link(
    *,
    receiver_name: str,
    iban: str,
    amount: Decimal | None,
    receiver_code: str,
    purpose: str,
    version: int = 2,
    category_purpose: str | None = None,
    reference: str | None = None,
    charset: str = "utf-8",
) -> str:
    """The hyperlink the QR code of format 002 or 003 holds: prefix + Base64URL(structure)."""
    text = nbu_qr_text(
        receiver_name=receiver_name,
        iban=iban,
        amount=amount,
        receiver_code=receiver_code,
        purpose=purpose,
        version=version,
        category_purpose=category_purpose,
        reference=reference,
        charset=charset,
    )
    return LINK_PREFIXES[version] + _base64url(text.encode(charset))


def _base64url(data: bytes) -> str:
    # The NBU's examples carry no "=" padding.
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _nbu_text(value: str, *, field: str, max_length: int) -> str:
    text = checked_text(value, field=field, max_length=max_length)
    for character in text:
        try:
            byte = character.encode("windows-1251")
        except UnicodeEncodeError:
            byte = b"\x00"
        if byte[0] < 0x20 or byte[0] in _FORBIDDEN_BYTES:
            raise PaymentCodeError(
                f"{field} contains {character!r}, which the NBU QR character set does not allow"
            )
    return text


def _ukrainian_iban(iban: str) -> str:
    iban = normalize_iban(iban)
    if not iban.startswith("UA"):
        raise PaymentCodeError(f"iban must be a Ukrainian IBAN (UA, 29 characters), got {iban}")
    return iban


def _amount_element(amount: Decimal | None) -> str:
    if amount is None:
        return ""  # the payer enters the amount
    amount = checked_amount(amount, field="amount", minimum=Decimal("0.01"), maximum=MAX_AMOUNT)
    # "as short as possible": UAH3 rather than UAH3.00, but a fraction always has two digits.
    if amount == amount.to_integral_value():
        return f"UAH{amount:.0f}"
    return f"UAH{amount:.2f}"


def _checked_receiver_code(receiver_code: str) -> str:
    code = checked_text(receiver_code, field="receiver_code", max_length=10)
    if not _RECEIVER_CODE.fullmatch(code):
        raise PaymentCodeError(
            "receiver_code must be an EDRPOU (8 digits), RNOKPP (10 digits) or passport "
            f"number, got {code!r}"
        )
    return code


def _checked_category_purpose(category_purpose: str | None) -> str:
    if category_purpose is None:
        raise PaymentCodeError("category_purpose (CCCC/PPPP) is required in format 003")
    if not isinstance(category_purpose, str) or not _CATEGORY_PURPOSE.fullmatch(category_purpose):
        raise PaymentCodeError(
            "category_purpose must be two ISO 20022 codes as CCCC/PPPP, such as OTHR/GDDS, "
            f"got {category_purpose!r}"
        )
    return category_purpose


def _checked_reference(reference: str | None) -> str:
    if reference is None:
        return ""
    reference = checked_text(reference, field="reference", max_length=35)
    return require_printable_ascii(reference, field="reference")
