import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.iban import IBAN_LENGTHS, normalize_iban


# Examples printed in the SWIFT IBAN Registry ("IBAN electronic format example"), covering the
# shortest (NO, 15) and longest (RU, 33) lengths and a letter-bearing BBAN (MT, BR).
@pytest.mark.parametrize(
    "iban",
    [
        "GB29NWBK60161331926819",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NO9386011117947",
        "RU0304452522540817810538091310419",
        "MT84MALT011000012345MTLCAST001S",
        "BR1800360305000010009795493C1",
        "UA213223130000026007233566001",
        "CH9300762011623852957",
    ],
)
def test_registry_examples_are_valid(iban):
    assert normalize_iban(iban) == iban


def test_print_format_is_normalized():
    # The registry's print format of the GB example: groups of four, upper case.
    assert normalize_iban("GB29 NWBK 6016 1331 9268 19") == "GB29NWBK60161331926819"
    assert normalize_iban("gb29 nwbk 6016 1331 9268 19") == "GB29NWBK60161331926819"


def test_registry_has_every_country_once_with_plausible_lengths():
    assert len(IBAN_LENGTHS) == 89  # SWIFT IBAN Registry release 101
    assert all(15 <= length <= 33 for length in IBAN_LENGTHS.values())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("GB28NWBK60161331926819", "check digits do not match"),
        ("GB29NWBK60161331926818", "check digits do not match"),
        ("GB29NWBK6016133192681", "must have 22 characters"),
        ("US64SVBKUS6S3300958879", "does not issue IBANs"),
        ("GB29-NWBK-6016-1331-9268-19", "country code, two check digits"),
        ("", "country code, two check digits"),
    ],
)
def test_invalid_ibans_are_refused_with_the_reason(text, problem):
    with pytest.raises(PaymentCodeError, match="IBAN") as error:
        normalize_iban(text)
    assert problem in str(error.value)


def test_non_string_is_refused():
    with pytest.raises(PaymentCodeError, match="IBAN must be a string"):
        normalize_iban(None)
