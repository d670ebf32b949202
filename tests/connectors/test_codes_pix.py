from decimal import Decimal

import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.emv import crc16_ccitt_false
from connectors.codes.pix import pix_dynamic, pix_static

# Banco Central do Brasil, "Manual de Padrões para Iniciação do Pix", section 2 (examples of a
# static and a dynamic BR Code, CRC included).
BCB_STATIC_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)
BCB_DYNAMIC_EXAMPLE = (
    "00020101021226700014br.gov.bcb.pix2548pix.example.com/8b3da2f39a4140d1a91abd93113bd441"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***630464E4"
)


def fields(payload: str) -> dict[str, str]:
    """The top-level EMV objects of a payload, by tag."""
    found, position = {}, 0
    while position < len(payload):
        tag, length = payload[position : position + 2], int(payload[position + 2 : position + 4])
        found[tag] = payload[position + 4 : position + 4 + length]
        position += 4 + length
    return found


def test_reproduces_the_bcb_static_example():
    assert (
        pix_static(
            key="123e4567-e12b-12d1-a456-426655440000",
            merchant_name="Fulano de Tal",
            merchant_city="BRASILIA",
        )
        == BCB_STATIC_EXAMPLE
    )


def test_reproduces_the_bcb_dynamic_example():
    assert (
        pix_dynamic(
            location="pix.example.com/8b3da2f39a4140d1a91abd93113bd441",
            merchant_name="Fulano de Tal",
            merchant_city="BRASILIA",
        )
        == BCB_DYNAMIC_EXAMPLE
    )


def test_amount_txid_and_description_land_in_their_tags():
    payload = pix_static(
        key="+5561912345678",
        merchant_name="Loja Exemplo",
        merchant_city="SAO PAULO",
        amount=Decimal("1234.5"),
        txid="PEDIDO42",
        description="Pedido 42",
    )
    found = fields(payload)
    assert found["54"] == "1234.50"
    assert found["62"] == "0508PEDIDO42"
    assert found["26"] == "0014br.gov.bcb.pix0114+55619123456780209Pedido 42"
    assert "01" not in found  # a static code may be paid more than once
    assert found["63"] == f"{crc16_ccitt_false(payload[:-4].encode()):04X}"


def test_dynamic_code_is_single_use_and_may_carry_an_amount():
    payload = pix_dynamic(
        location="pix.example.com/qr/v2/cob/1",
        merchant_name="Loja",
        merchant_city="RECIFE",
        amount=Decimal("10"),
    )
    found = fields(payload)
    assert found["01"] == "12"
    assert found["54"] == "10.00"
    assert found["62"] == "0503***"


@pytest.mark.parametrize(
    "key",
    [
        "12345678909",  # CPF
        "11222333000181",  # CNPJ
        "+5511987654321",  # phone
        "loja@example.com.br",  # e-mail
        "123e4567-e12b-12d1-a456-426655440000",  # random key (EVP)
    ],
)
def test_every_pix_key_format_is_accepted(key):
    assert f"01{len(key):02d}{key}" in pix_static(key=key, merchant_name="A", merchant_city="B")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "not a key"}, "key"),
        ({"key": "Loja@Example.com"}, "key"),
        ({"key": "11987654321x"}, "key"),
        ({"merchant_name": "x" * 26}, "merchant_name"),
        ({"merchant_name": ""}, "merchant_name"),
        ({"merchant_name": "José"}, "merchant_name"),
        ({"merchant_city": "x" * 16}, "merchant_city"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": Decimal("0.001")}, "amount"),
        ({"amount": Decimal("10000000000")}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"txid": "x" * 26}, "txid"),
        ({"txid": "pedido-42"}, "txid"),
        ({"description": "x" * 60}, "description"),
        ({"description": "tab\there"}, "description"),
    ],
)
def test_static_refuses_what_the_standard_forbids(changes, field):
    arguments = {
        "key": "123e4567-e12b-12d1-a456-426655440000",
        "merchant_name": "Fulano de Tal",
        "merchant_city": "BRASILIA",
    }
    with pytest.raises(PaymentCodeError, match=field):
        pix_static(**{**arguments, **changes})


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("https://pix.example.com/qr/1", "without a scheme"),
        ("pix.example.com", "host name followed by a path"),
        ("pix example.com/qr", "host name followed by a path"),
        ("pix.example.com/" + "x" * 62, "at most 77"),
    ],
)
def test_dynamic_refuses_a_bad_location(location, problem):
    with pytest.raises(PaymentCodeError, match=f"location.*{problem}|{problem}"):
        pix_dynamic(location=location, merchant_name="A", merchant_city="B")
