"""What several models' columns share: the currencies known, and how amounts are stored."""

from invoices.currencies import MINOR_UNIT_DIGITS

CURRENCY_CHOICES = [(code, code) for code in sorted(MINOR_UNIT_DIGITS)]
# Enough for 10^16 in any currency and for the four fraction digits of CLF/UYW;
# each amount is shown with its own currency's exponent.
AMOUNT_FIELD = {"max_digits": 20, "decimal_places": 4}
