import pytest

from connectors.requisites import requisites_problems


@pytest.mark.parametrize(
    ("kind", "requisites"),
    [
        ("invoice", {"receiver_name": "Shop", "iban": "UA213223130000026007233566001"}),
        ("invoice", {"receiver_name": "Shop", "account_number": "26007233566001"}),
        ("qr", {"qr_code": "upi://pay?pa=shop@upi"}),
        ("barcode", {"barcode": "93000001234567", "barcode_format": "code128"}),
        ("card_transfer", {"card_number": "4111111111111111"}),
        ("deeplink", {"deeplink": "https://bank.example/pay"}),
        ("test", {"invoice_receipt_number": "1764077421"}),
    ],
)
def test_complete_requisites_pass(kind, requisites):
    assert requisites_problems(kind, requisites) == []


@pytest.mark.parametrize(
    ("kind", "requisites", "problem"),
    [
        ("invoice", {"receiver_name": "Shop"}, "'iban' or 'account_number'"),
        ("invoice", {"iban": "UA21"}, "'receiver_name'"),
        ("qr", {}, "'qr_code'"),
        ("qr", {"qr_code": "   "}, "'qr_code'"),
        ("barcode", {"barcode": "123", "barcode_format": "qr"}, "barcode_format"),
        ("card_transfer", {"card_number": 4111111111111111}, "'card_number'"),
        ("deeplink", {"deeplink": "x", "extra": 5}, "'extra' must be a string"),
        ("hologram", {}, "unknown display kind"),
    ],
)
def test_incomplete_requisites_say_what_is_missing(kind, requisites, problem):
    problems = requisites_problems(kind, requisites)
    assert any(problem in p for p in problems), problems
