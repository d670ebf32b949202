from decimal import Decimal
from urllib.parse import unquote

import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.upi import upi_link

# NPCI, "UPI Linking Specifications" version 1.6 (November 2017), section 2 "Implementation
# Samples" (2.1 hyperlink, 2.2 QR code use the same link).
NPCI_SAMPLE = (
    "upi://pay?pa=nadeem@npci&pn=nadeem%20chinna&mc=0000&tid=cxnkjcnkjdfdvjndkjfvn"
    "&tr=4894398cndhcd23&tn=Pay%20to%20mystar%20store&am=10&mam=null&cu=INR"
    "&url=https://mystar.com/orderid=9298yw89e8973e87389e78923ue892"
)


def query(link: str) -> dict[str, str]:
    """The raw (still percent-encoded) parameters of a upi://pay link."""
    scheme, _, parameters = link.partition("?")
    assert scheme == "upi://pay"
    return dict(parameter.split("=", 1) for parameter in parameters.split("&"))


def test_encodes_the_npci_sample_parameters_identically():
    link = upi_link(
        vpa="nadeem@npci",
        payee_name="nadeem chinna",
        amount=Decimal("10"),
        note="Pay to mystar store",
        reference="4894398cndhcd23",
    )
    assert link == (
        "upi://pay?pa=nadeem@npci&pn=nadeem%20chinna&am=10.00&cu=INR"
        "&tn=Pay%20to%20mystar%20store&tr=4894398cndhcd23"
    )
    ours, sample = query(link), query(NPCI_SAMPLE)
    for name in ("pa", "pn", "tr", "tn", "cu"):
        assert ours[name] == sample[name]
    # The sample writes am=10; the same amount is written here with two decimals.
    assert Decimal(ours["am"]) == Decimal(sample["am"])


def test_optional_parameters_are_left_out():
    assert upi_link(vpa="shop@okhdfcbank", payee_name="Shop") == (
        "upi://pay?pa=shop@okhdfcbank&pn=Shop&cu=INR"
    )


def test_reserved_characters_are_percent_encoded():
    link = upi_link(
        vpa="shop@ybl",
        payee_name="Tom & Jerry's = #1",
        note="50% off + free/fast",
    )
    parameters = query(link)
    assert parameters["pn"] == "Tom%20%26%20Jerry%27s%20%3D%20%231"
    assert parameters["tn"] == "50%25%20off%20%2B%20free%2Ffast"
    assert unquote(parameters["tn"]) == "50% off + free/fast"


def test_non_ascii_names_are_utf8_percent_encoded():
    parameters = query(upi_link(vpa="shop@ybl", payee_name="दुकान"))
    assert unquote(parameters["pn"]) == "दुकान"
    assert parameters["pn"].startswith("%E0%A4%A6")


def test_amount_has_exactly_two_decimals():
    assert query(upi_link(vpa="a.b@upi", payee_name="A", amount=Decimal("1.5")))["am"] == "1.50"
    assert query(upi_link(vpa="a.b@upi", payee_name="A", amount=Decimal("1E+2")))["am"] == "100.00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vpa": "shop"}, "vpa"),
        ({"vpa": "shop@"}, "vpa"),
        ({"vpa": "@ybl"}, "vpa"),
        ({"vpa": "sh op@ybl"}, "vpa"),
        ({"vpa": "shop@ybl@ybl"}, "vpa"),
        ({"payee_name": ""}, "payee_name"),
        ({"payee_name": "x" * 100}, "payee_name"),
        ({"payee_name": "line\nbreak"}, "payee_name"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"note": "x" * 51}, "note"),
        ({"reference": "x" * 36}, "reference"),
        ({"reference": "order-42"}, "reference"),
    ],
)
def test_refuses_what_the_standard_forbids(changes, field):
    with pytest.raises(PaymentCodeError, match=field):
        upi_link(**{"vpa": "shop@ybl", "payee_name": "Shop", **changes})
