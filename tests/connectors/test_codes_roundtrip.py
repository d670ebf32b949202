"""What the images carry, read back with zbar exactly as a scanner reads them."""

import io
from decimal import Decimal

import pytest
from PIL import Image

from connectors.codes.barcodes import barcode_png, boleto_barcode
from connectors.codes.epc import epc_qr_text
from connectors.codes.nbu import nbu_qr_link, nbu_qr_text
from connectors.codes.pix import pix_dynamic, pix_static
from connectors.codes.qr import qr_png
from connectors.codes.upi import upi_link
from tests.zbar import pyzbar_module, read_qr_bytes


@pytest.fixture
def read_qr():
    pyzbar_module()
    return read_qr_bytes


NBU = {
    "receiver_name": "ТОВ «ФК „ЕВО“»",
    "iban": "UA213223130000026007233566001",
    "amount": Decimal("1034.28"),
    "receiver_code": "40723824",
    "purpose": "Оплата рахунку № 42 від 01.11.2025, без ПДВ",
}

QR_TEXTS = {
    "upi": upi_link(
        vpa="shop@okhdfcbank",
        payee_name="Shop & Co",
        amount=Decimal("499.00"),
        note="Order 42",
        reference="ORD42",
    ),
    "pix static": pix_static(
        key="loja@example.com.br",
        merchant_name="Loja Exemplo",
        merchant_city="SAO PAULO",
        amount=Decimal("99.90"),
        txid="PEDIDO42",
        description="Pedido 42",
    ),
    "pix dynamic": pix_dynamic(
        location="pix.example.com/qr/v2/9d36b84fc70b478fb95c12729b90ca25",
        merchant_name="Loja Exemplo",
        merchant_city="SAO PAULO",
    ),
    "nbu 002 text": nbu_qr_text(**NBU),
    "nbu 002 link": nbu_qr_link(**NBU),
    "nbu 003 link": nbu_qr_link(**NBU, version=3, category_purpose="OTHR/GDDS", reference="42"),
    "epc": epc_qr_text(
        name="Franz Mustermänn",
        iban="DE71110220330123456789",
        amount=Decimal("12.30"),
        bic="BHBLDEHHXXX",
        purpose="GDDS",
        reference="RF18539007547034",
    ),
    "epc at its size limit": epc_qr_text(
        name="Ä" * 70,
        iban="DE89370400440532013000",
        amount=Decimal("999999999.99"),
        text="x" * 134,
    ),
}


@pytest.mark.parametrize("text", QR_TEXTS.values(), ids=QR_TEXTS.keys())
def test_qr_carries_the_builders_text_as_utf8(read_qr, text):
    assert read_qr(qr_png(text)) == [text.encode("utf-8")]


def test_largest_epc_payload_fits_qr_version_13():
    # EPC069-12: "Maximum QR code version 13, equivalent to module size 69 or 331 byte payload".
    text = QR_TEXTS["epc at its size limit"]
    assert len(text.encode("utf-8")) == 331
    width = Image.open(io.BytesIO(qr_png(text, scale=1))).width
    assert width - 2 * 4 == 69


@pytest.mark.parametrize(
    ("value", "barcode_format", "symbology"),
    [
        ("INV-2026/0815 #42", "code128", "CODE128"),
        ("~" * 48, "code128", "CODE128"),
        ("12345678", "itf", "I25"),
        (
            boleto_barcode(
                bank_code="001",
                due_factor=3737,
                amount=Decimal("1.00"),
                free_field="0500940144816060680935031",
            ),
            "itf",
            "I25",
        ),
        ("4006381333931", "ean13", "EAN13"),
        ("9780306406157", "ean13", "EAN13"),
    ],
)
def test_barcode_carries_its_value(value, barcode_format, symbology):
    pyzbar = pyzbar_module()
    found = pyzbar.decode(
        Image.open(io.BytesIO(barcode_png(value=value, barcode_format=barcode_format)))
    )
    assert [(symbol.type, symbol.data.decode("ascii")) for symbol in found] == [(symbology, value)]
