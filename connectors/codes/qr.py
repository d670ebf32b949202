"""QR code images of a payment code's text."""

import io

import segno

# Error correction M: EPC069-12 requires it, and it survives a crease or a smudge while
# keeping the symbol small enough for a phone screen.
ERROR_CORRECTION = "M"
# ISO/IEC 18004 asks for a quiet zone of four modules around the symbol.
QUIET_ZONE = 4


def qr_svg(text: str) -> bytes:
    """`text` as an SVG QR code; the same text always gives the same bytes."""
    output = io.BytesIO()
    _symbol(text).save(output, kind="svg", border=QUIET_ZONE, xmldecl=True, svgns=True)
    return output.getvalue()


def qr_png(text: str, *, scale: int = 8) -> bytes:
    """`text` as a PNG QR code, `scale` pixels a module; the same text gives the same bytes."""
    output = io.BytesIO()
    _symbol(text).save(output, kind="png", scale=scale, border=QUIET_ZONE)
    return output.getvalue()


def _symbol(text: str) -> segno.QRCode:
    # UTF-8 bytes, not str: given a str, segno would pick ISO 8859-1 where it fits, and an
    # EPC or NBU code that declares UTF-8 would then carry other bytes than it says.
    # boost_error=False keeps level M even when a higher level would fit the same version.
    return segno.make_qr(text.encode("utf-8"), error=ERROR_CORRECTION, boost_error=False)
