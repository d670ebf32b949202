import pytest
from schwifty import registry

from connectors.codes import PaymentCodeError
from connectors.codes.iban import normalize_iban


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


def test_the_registry_knows_every_country_of_the_swift_registry_release_101():
    # The 89 countries of the SWIFT IBAN Registry release 101, with their lengths.
    release_101 = {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
        "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
        "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
        "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
        "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
        "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
        "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
        "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
        "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
        "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
        "YE": 30,
    }  # fmt: skip
    assert {
        country: registry.get_iban_spec(country).iban_length for country in release_101
    } == release_101


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
