"""The requisites each display kind needs (contract section 3)."""

from collections.abc import Mapping
from typing import Any

from invoices.statuses import DisplayKind

BARCODE_FORMATS = ("code128", "itf", "ean13")

# By display kind; looked up with the service's column, a plain string.
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    DisplayKind.INVOICE: ("receiver_name",),
    DisplayKind.QR: ("qr_code",),
    DisplayKind.BARCODE: ("barcode", "barcode_format"),
    DisplayKind.CARD_TRANSFER: ("card_number",),
    DisplayKind.DEEPLINK: ("deeplink",),
    DisplayKind.TEST: ("invoice_receipt_number",),
}


def requisites_problems(display_kind: str, requisites: Mapping[str, Any]) -> list[str]:
    """What keeps `requisites` from being shown as `display_kind`; empty when nothing."""
    if display_kind not in _REQUIRED_KEYS:
        return [f"unknown display kind {display_kind!r}"]
    problems = [
        f"{key!r} must be a non-empty string"
        for key in _REQUIRED_KEYS[display_kind]
        if not isinstance(requisites.get(key), str) or not requisites[key].strip()
    ]
    problems += [
        f"{key!r} must be a string"
        for key, value in requisites.items()
        if not isinstance(value, str) and key not in _REQUIRED_KEYS[display_kind]
    ]
    if display_kind == DisplayKind.INVOICE and not (
        requisites.get("iban") or requisites.get("account_number")
    ):
        problems.append("bank details need 'iban' or 'account_number'")
    if (
        display_kind == DisplayKind.BARCODE
        and requisites.get("barcode_format") not in BARCODE_FORMATS
    ):
        problems.append(f"'barcode_format' must be one of {', '.join(BARCODE_FORMATS)}")
    return problems
