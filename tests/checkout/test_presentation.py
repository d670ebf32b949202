"""How amounts read on the hosted pages: the reader's locale, CLDR's currency spacing."""

from decimal import Decimal

import pytest

from checkout.presentation import money

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("currency", "language", "shown"),
    [
        # A letter code is kept from the digits; a symbol is not.
        ("UAH", "en", f"UAH{NBSP}2,126.68"),
        ("USD", "en", "$2,126.68"),
        ("BRL", "en", "R$2,126.68"),
        ("UAH", "uk", f"2{NBSP}126,68{NBSP}₴"),
        ("EUR", "uk", f"2{NBSP}126,68{NBSP}EUR"),
    ],
)
def test_amounts_read_in_the_readers_way(currency, language, shown):
    assert money(Decimal("2126.68"), currency, language) == shown
