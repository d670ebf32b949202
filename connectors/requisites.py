"""The requisites each display kind needs (contract section 3)."""

from collections.abc import Mapping
from typing import Any

BARCODE_FORMATS = ("code128", "itf", "ean13")

_REQUIRED_KEYS = {
    "invoice": ("receiver_name",),
    "qr": ("qr_code",),
    "barcode": ("barcode", "barcode_format"),
    "card_transfer": ("card_number",),
    "deeplink": ("deeplink",),
    "test": ("invoice_receipt_number",),
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
    if display_kind == "invoice" and not (
        requisites.get("iban") or requisites.get("account_number")
    ):
        problems.append("bank details need 'iban' or 'account_number'")
    if display_kind == "barcode" and requisites.get("barcode_format") not in BARCODE_FORMATS:
        problems.append(f"'barcode_format' must be one of {', '.join(BARCODE_FORMATS)}")
    return problems
