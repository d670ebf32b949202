"""What several models' columns share: the currencies known, and how amounts are stored."""

from typing import Final, TypedDict

from invoices.currencies import MINOR_UNIT_DIGITS

CURRENCY_CHOICES: Final[list[tuple[str, str]]] = [
    (code, code) for code in sorted(MINOR_UNIT_DIGITS)
]


class AmountFieldOptions(TypedDict):
    """The `DecimalField` arguments of every amount, typed so `**AMOUNT_FIELD` checks."""

    max_digits: int
    decimal_places: int


# Enough for 10^16 in any currency and for the four fraction digits of CLF/UYW;
# each amount is shown with its own currency's exponent.
AMOUNT_FIELD: Final[AmountFieldOptions] = {"max_digits": 20, "decimal_places": 4}
