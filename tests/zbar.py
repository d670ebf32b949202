"""Reading QR codes back as a phone's scanner does, with zbar (pyzbar + libzbar0)."""

import io
import os
from contextlib import contextmanager

import pytest
from PIL import Image

# zbar's ZBAR_CFG_BINARY: hand back the QR's bytes as they are. Without it zbar guesses a
# character set and may re-encode UTF-8 it mistakes for Shift JIS.
ZBAR_CFG_BINARY = 4


def pyzbar_module():
    """pyzbar, or a skip (a failure with REQUIRE_SERVICES=1: CI installs libzbar0)."""
    try:
        from pyzbar import pyzbar
    except ImportError as error:  # pyzbar raises ImportError when libzbar0 is missing
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but zbar is unusable: {error}", pytrace=False)
        pytest.skip(f"zbar is unusable: {error}")
    return pyzbar


def read_qr_bytes(png: bytes) -> list[bytes]:
    """The bytes of every QR code zbar finds in a PNG."""
    pyzbar = pyzbar_module()
    create_scanner = pyzbar._image_scanner

    @contextmanager
    def binary_scanner():
        with create_scanner() as scanner:
            pyzbar.zbar_image_scanner_set_config(
                scanner, pyzbar.ZBarSymbol.QRCODE, ZBAR_CFG_BINARY, 1
            )
            yield scanner

    pyzbar._image_scanner = binary_scanner
    try:
        found = pyzbar.decode(Image.open(io.BytesIO(png)), symbols=[pyzbar.ZBarSymbol.QRCODE])
    finally:
        pyzbar._image_scanner = create_scanner
    return [symbol.data for symbol in found]
