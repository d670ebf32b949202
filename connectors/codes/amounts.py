"""Checks shared by every builder that carries an amount of money."""

from decimal import Decimal

from connectors.codes import PaymentCodeError

CENT = Decimal("0.01")


def checked_amount(amount: object, *, field: str, minimum: Decimal, maximum: Decimal) -> Decimal:
    """`amount` when it is an exact Decimal in whole cents within [minimum, maximum].

    Floats are refused outright: a float cannot hold most cent values exactly, and a code
    that asks for 0.30000000000000004 is not what the merchant meant.
    """
    if not isinstance(amount, Decimal):
        raise PaymentCodeError(f"{field} must be a decimal.Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise PaymentCodeError(f"{field} must be a finite number, got {amount}")
    if amount != amount.quantize(CENT):
        # Rounding here would silently charge a different sum than the one asked for.
        raise PaymentCodeError(f"{field} must not have more than two decimal places: {amount}")
    if not minimum <= amount <= maximum:
        raise PaymentCodeError(f"{field} must be between {minimum} and {maximum}, got {amount}")
    return amount


def two_decimals(amount: Decimal) -> str:
    """`amount` in plain notation with exactly two decimals: "10.00", never "1E+1"."""
    return f"{amount:.2f}"
