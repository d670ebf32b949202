"""EMVCo Merchant-Presented QR (MPM) data objects: tag, length, value and the closing CRC."""

import re

from connectors.codes import PaymentCodeError
from connectors.codes.texts import require_printable_ascii

CRC_TAG = "63"
# EMV QRCPS MPM 4.7.1: the whole payload, CRC included, is at most 512 characters.
MAX_PAYLOAD_LENGTH = 512
_TAG = re.compile(r"[0-9]{2}")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no xor-out.

    This is the checksum EMV MPM (and so Pix) puts in tag 63.
    """
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    """One data object: the two-digit tag, the two-digit length and the value."""
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise PaymentCodeError(f"EMV tag must be two digits, got {tag!r}")
    field = f"EMV tag {tag} value"
    if not isinstance(value, str) or not value:
        # EMV lengths run from 01 to 99: an absent object is left out, never written empty.
        raise PaymentCodeError(f"{field} must be a non-empty string")
    # The length counts characters while the CRC covers bytes; keeping to ASCII keeps both
    # counts equal, so no reader can be misled about where the object ends.
    require_printable_ascii(value, field=field)
    if len(value) > 99:
        raise PaymentCodeError(f"{field} is {len(value)} characters long; at most 99 fit")
    return f"{tag}{len(value):02d}{value}"


def emv_payload(fields: list[tuple[str, str]]) -> str:
    """The data objects in order, closed by tag 63 holding the CRC over everything before it."""
    body = "".join(tlv(tag, value) for tag, value in fields)
    if any(tag == CRC_TAG for tag, _ in fields):
        raise PaymentCodeError("EMV tag 63 is the CRC, which emv_payload adds itself")
    unsigned = f"{body}{CRC_TAG}04"
    if len(unsigned) + 4 > MAX_PAYLOAD_LENGTH:
        raise PaymentCodeError(
            f"EMV payload would be {len(unsigned) + 4} characters; at most "
            f"{MAX_PAYLOAD_LENGTH} are allowed"
        )
    return f"{unsigned}{crc16_ccitt_false(unsigned.encode('ascii')):04X}"
