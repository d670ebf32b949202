import pytest

from connectors.codes import PaymentCodeError
from connectors.codes.emv import crc16_ccitt_false, emv_payload, tlv


def test_crc_check_value():
    # CRC RevEng catalogue, CRC-16/IBM-3740 (alias CRC-16/CCITT-FALSE): check=0x29b1.
    assert crc16_ccitt_false(b"123456789") == 0x29B1


def test_crc_of_nothing_is_the_initial_value():
    assert crc16_ccitt_false(b"") == 0xFFFF


def test_crc_of_the_bcb_static_example():
    # Manual de Padrões para Iniciação do Pix (BCB), section 2: the static example ends in 1D3D.
    payload = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
        "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***6304"
    )
    assert f"{crc16_ccitt_false(payload.encode()):04X}" == "1D3D"


def test_tlv_writes_tag_length_value():
    assert tlv("00", "01") == "000201"
    assert tlv("59", "Fulano de Tal") == "5913Fulano de Tal"
    assert tlv("62", "x" * 99) == "6299" + "x" * 99


@pytest.mark.parametrize(
    ("tag", "value", "problem"),
    [
        ("0", "01", "two digits"),
        ("AB", "01", "two digits"),
        ("59", "", "non-empty"),
        ("59", "x" * 100, "at most 99"),
        ("59", "São Paulo", "printable ASCII"),
        ("59", "line\nbreak", "printable ASCII"),
    ],
)
def test_tlv_refuses_what_emv_forbids(tag, value, problem):
    with pytest.raises(PaymentCodeError, match=problem):
        tlv(tag, value)


def test_payload_ends_with_the_crc_over_everything_before_it():
    payload = emv_payload([("00", "01"), ("58", "BR")])
    assert payload.startswith("0002015802BR6304")
    assert payload[-4:] == f"{crc16_ccitt_false(payload[:-4].encode()):04X}"


def test_payload_refuses_a_crc_field_and_oversized_payloads():
    with pytest.raises(PaymentCodeError, match="tag 63 is the CRC"):
        emv_payload([("63", "ABCD")])
    with pytest.raises(PaymentCodeError, match="at most 512"):
        emv_payload([(f"{tag:02d}", "x" * 99) for tag in range(10, 16)])
