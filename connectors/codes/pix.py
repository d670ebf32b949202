"""Pix BR Code (Banco Central do Brasil, Manual de Padrões para Iniciação do Pix) on EMV MPM."""

import re
from decimal import Decimal

from connectors.codes import PaymentCodeError
from connectors.codes.amounts import checked_amount, two_decimals
from connectors.codes.emv import emv_payload, tlv
from connectors.codes.texts import checked_text, require_printable_ascii

PIX_GUI = "br.gov.bcb.pix"
NO_TXID = "***"
# Tag 54 holds at most 13 characters, "9999999999.99".
MAX_AMOUNT = Decimal("9999999999.99")

# Pix key formats as the DICT (the Pix key directory) accepts them.
_KEY_FORMATS = {
    "CPF": re.compile(r"[0-9]{11}"),
    "CNPJ": re.compile(r"[0-9]{14}"),
    "phone": re.compile(r"\+[1-9][0-9]{1,14}"),
    "email": re.compile(
        r"[a-z0-9.!#$&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
        r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    ),
    "random key": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
}
_MAX_KEY_LENGTH = 77
_MAX_LOCATION_LENGTH = 77
_LOCATION = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?/[!-~]*")
_TXID = re.compile(r"[A-Za-z0-9]{1,25}")


def pix_static(
    *,
    key: str,
    merchant_name: str,
    merchant_city: str,
    amount: Decimal | None = None,
    txid: str = NO_TXID,
    description: str | None = None,
) -> str:
    """A static BR Code paying `key`; without `amount` the payer types the sum."""
    account = [("00", PIX_GUI), ("01", _checked_key(key))]
    if description is not None:
        description = require_printable_ascii(
            checked_text(description, field="description", max_length=99), field="description"
        )
        # Tag 26 as a whole holds 99 characters: the GUI and the key leave the rest.
        room = 99 - len(tlv("00", PIX_GUI)) - len(tlv("01", account[1][1])) - 4
        if len(description) > room:
            raise PaymentCodeError(
                f"description is {len(description)} characters long; with this key at most "
                f"{room} fit"
            )
        account.append(("02", description))
    return _br_code(
        dynamic=False,
        account=account,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        amount=amount,
        txid=_checked_txid(txid),
    )


def pix_dynamic(
    *,
    location: str,
    merchant_name: str,
    merchant_city: str,
    amount: Decimal | None = None,
) -> str:
    """A dynamic BR Code: the payer's bank fetches the charge from the PSP at `location`."""
    location = checked_text(location, field="location", max_length=_MAX_LOCATION_LENGTH)
    if "://" in location:
        raise PaymentCodeError("location must be given without a scheme such as https://")
    if not _LOCATION.fullmatch(location):
        raise PaymentCodeError(f"location must be a host name followed by a path, got {location!r}")
    return _br_code(
        dynamic=True,
        account=[("00", PIX_GUI), ("25", location)],
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        amount=amount,
        # The charge behind the location carries its own txid; the code itself says "***".
        txid=NO_TXID,
    )


def _br_code(
    *,
    dynamic: bool,
    account: list[tuple[str, str]],
    merchant_name: str,
    merchant_city: str,
    amount: Decimal | None,
    txid: str,
) -> str:
    fields = [("00", "01")]
    if dynamic:
        # Point of initiation method 12: the code may be paid once only.
        fields.append(("01", "12"))
    fields += [
        ("26", "".join(tlv(tag, value) for tag, value in account)),
        ("52", "0000"),
        ("53", "986"),
    ]
    if amount is not None:
        amount = checked_amount(amount, field="amount", minimum=Decimal("0.01"), maximum=MAX_AMOUNT)
        fields.append(("54", two_decimals(amount)))
    fields += [
        ("58", "BR"),
        ("59", _ascii_text(merchant_name, field="merchant_name", max_length=25)),
        ("60", _ascii_text(merchant_city, field="merchant_city", max_length=15)),
        ("62", tlv("05", txid)),
    ]
    return emv_payload(fields)


def _checked_key(key: str) -> str:
    key = checked_text(key, field="key", max_length=_MAX_KEY_LENGTH)
    if not any(pattern.fullmatch(key) for pattern in _KEY_FORMATS.values()):
        raise PaymentCodeError(
            f"key must be a Pix key ({', '.join(_KEY_FORMATS)}), got {key!r}; "
            "e-mail keys are written in lower case and phone keys as +55 and digits"
        )
    return key


def _checked_txid(txid: str) -> str:
    if txid == NO_TXID:
        return txid
    if not isinstance(txid, str) or not _TXID.fullmatch(txid):
        raise PaymentCodeError(
            f"txid must be 1 to 25 letters or digits (A-Z, a-z, 0-9) or '***', got {txid!r}"
        )
    return txid


def _ascii_text(value: str, *, field: str, max_length: int) -> str:
    return require_printable_ascii(
        checked_text(value, field=field, max_length=max_length), field=field
    )
