import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.cards import card_number_grouped, luhn_valid, normalize_card_number


@pytest.mark.parametrize(
    "number",
    [
        "79927398713",  # Wikipedia "Luhn algorithm" worked example
        "4111111111111111",  # Visa test card (payment provider test card lists)
        "5555555555554444",  # Mastercard test card
        "378282246310005",  # American Express test card
        "6011111111111117",  # Discover test card
        "0",
    ],
)
def test_luhn_valid_numbers(number):
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number",
    ["79927398710", "79927398711", "4111111111111112", "", "4111 1111 1111 1111", "abc"],
)
def test_luhn_invalid_numbers(number):
    assert not luhn_valid(number)


def test_normalize_strips_spaces_and_dashes():
    assert normalize_card_number(" 4111 1111-1111 1111 ") == "4111111111111111"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("4111111111111112", "Luhn"),
        ("79927398713", "12 to 19 digits"),
        ("4" + "0" * 18 + "00", "12 to 19 digits"),
        ("4111.1111.1111.1111", "only contain digits"),
        ("", "12 to 19 digits"),
    ],
)
def test_normalize_refuses_invalid_numbers(text, problem):
    with pytest.raises(PaymentCodeError, match=f"card number.*{problem}"):
        normalize_card_number(text)


@pytest.mark.parametrize(
    ("number", "grouped"),
    [
        ("4111111111111111", "4111 1111 1111 1111"),
        ("378282246310005", "3782 822463 10005"),
        ("30569309025904", "3056 930902 5904"),
        ("6011111111111117", "6011 1111 1111 1117"),
        ("4111111111111111110", "4111 1111 1111 1111 110"),
    ],
)
def test_grouping_as_printed_on_cards(number, grouped):
    assert luhn_valid(number)
    assert card_number_grouped(number) == grouped


def test_grouping_refuses_an_invalid_number():
    with pytest.raises(PaymentCodeError, match="Luhn"):
        card_number_grouped("4111111111111112")
