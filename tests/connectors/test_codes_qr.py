import io

import pytest
from PIL import Image

from connectors.codes.qr import qr_png, qr_svg

TEXT = "upi://pay?pa=shop@ybl&pn=Shop&am=10.00&cu=INR"


def dark(image: Image.Image, *, row: int, column: int, scale: int) -> bool:
    """Whether the module at (row, column), counted from the image's top-left, is dark."""
    return image.getpixel((column * scale + scale // 2, row * scale + scale // 2)) == 0


def test_png_and_svg_are_deterministic():
    assert qr_png(TEXT) == qr_png(TEXT)
    assert qr_svg(TEXT) == qr_svg(TEXT)
    assert qr_png(TEXT) != qr_png(TEXT + "&tn=x")


def test_svg_is_a_standalone_document():
    svg = qr_svg(TEXT)
    assert svg.startswith(b"<?xml")
    assert b'xmlns="http://www.w3.org/2000/svg"' in svg


@pytest.mark.parametrize("scale", [1, 4, 8])
def test_png_has_a_four_module_quiet_zone(scale):
    image = Image.open(io.BytesIO(qr_png(TEXT, scale=scale))).convert("L")
    modules = image.width // scale
    assert image.width == image.height == modules * scale
    assert (modules - 8 - 17) % 4 == 0  # a QR symbol is 17 + 4 * version modules wide
    border = [
        (row, column)
        for row in range(modules)
        for column in range(modules)
        if min(row, column) < 4 or max(row, column) >= modules - 4
    ]
    assert not any(dark(image, row=row, column=column, scale=scale) for row, column in border)
    # The finder pattern's corner starts right after the quiet zone.
    assert dark(image, row=4, column=4, scale=scale)


def test_error_correction_level_is_m():
    # ISO/IEC 18004 format information: its two level bits, masked with 10, sit in row 8,
    # columns 0 and 1 of the symbol; level M (00) reads dark, light.
    image = Image.open(io.BytesIO(qr_png(TEXT, scale=4))).convert("L")
    assert dark(image, row=4 + 8, column=4 + 0, scale=4)
    assert not dark(image, row=4 + 8, column=4 + 1, scale=4)
