"""The invoice's QR code and barcode, named by their content so they are cached for good."""

import hashlib
from collections.abc import Callable

from django.core.cache import cache, caches
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from checkout import presentation
from checkout.pages import not_found
from config.redis_circuit import REDIS_ERRORS, redis_circuit
from connectors.codes import PaymentCodeError
from connectors.codes.barcodes import barcode_svg
from connectors.codes.qr import qr_png, qr_svg
from invoices import selectors
from invoices.models import Invoice

# What an image is drawn as: its content's identity, how to render it, its content type.
Drawing = tuple[str, Callable[[], bytes], str]
# How an image is drawn from an invoice's payment code; None when the code has no such image.
Draw = Callable[[selectors.PaymentCode], Drawing | None]


def _image_version(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def image_src(invoice: Invoice, url_name: str, draw: Draw) -> str | None:
    """The image's URL as the page links it: named by its content, so it is cached for good."""
    drawing = draw(selectors.PaymentCode(invoice.service.display_kind, invoice.requisites))
    if drawing is None:
        return None
    return f"{reverse(url_name, args=[invoice.id])}?v={_image_version(drawing[0])}"


def _rendered_image_get(version: str) -> bytes | None:
    """An image another process rendered; None without Redis, or while it fails."""
    if redis_circuit.open():
        return None
    try:
        body = cache.get(f"image:{version}")
    except REDIS_ERRORS as error:
        redis_circuit.trip(error)
        return None
    return body if isinstance(body, bytes) else None  # only bytes are kept there


def _rendered_image_keep(version: str, body: bytes) -> None:
    if redis_circuit.open():
        return
    try:
        cache.set(f"image:{version}", body, timeout=24 * 3600)
    except REDIS_ERRORS as error:
        redis_circuit.trip(error)


def _image(request: HttpRequest, invoice_id: str, *, image: str, draw: Draw) -> HttpResponse:
    """An invoice's image with a strong ETag from its content's identity.

    `draw(code)` gives (identity, render, content type) for the invoice's
    payment code, or None when it has no such image. Images never change, so
    this process remembers the last ones it served, and every process shares
    what any of them rendered. Asked for by its content's version (`?v=`, as
    the page links it), the answer may be kept for good; Django's
    ConditionalGetMiddleware answers a repeated ETag with 304.
    """
    images = caches["images"]
    remembered_as = f"{image}:{invoice_id}"
    remembered: tuple[str, str, bytes] | None = images.get(remembered_as)
    if remembered is None:
        code = selectors.invoice_payment_code_get(invoice_id=invoice_id)
        drawing = draw(code) if code else None
        if drawing is None:
            return not_found(request)
        identity, render_image, content_type = drawing
        version = _image_version(identity)
        body = _rendered_image_get(version)
        if body is None:
            try:
                body = render_image()
            except PaymentCodeError:
                return not_found(request)
            _rendered_image_keep(version, body)
        remembered = (version, content_type, body)
        images.set(remembered_as, remembered)
    version, content_type, body = remembered
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = f'"{version}"'
    if request.GET.get("v") == version:
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "private, max-age=3600"
    return response


def qr_drawing(png: bool) -> Draw:
    def draw(code: selectors.PaymentCode) -> Drawing | None:
        text = presentation.qr_text_of(code.display_kind, code.requisites)
        if not text:
            return None
        if png:
            return f"qr.png:{text}", lambda: qr_png(text), "image/png"
        return f"qr.svg:{text}", lambda: qr_svg(text), "image/svg+xml"

    return draw


def barcode_drawing(code: selectors.PaymentCode) -> Drawing | None:
    value, barcode_format = code.requisites.get("barcode"), code.requisites.get("barcode_format")
    if not value or not barcode_format:
        return None
    return (
        f"barcode:{barcode_format}:{value}",
        lambda: barcode_svg(value=value, barcode_format=barcode_format),
        "image/svg+xml",
    )


@require_GET
def qr_image_svg(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _image(request, invoice_id, image="qr.svg", draw=qr_drawing(png=False))


@require_GET
def qr_image_png(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _image(request, invoice_id, image="qr.png", draw=qr_drawing(png=True))


@require_GET
def barcode_image_svg(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _image(request, invoice_id, image="barcode.svg", draw=barcode_drawing)
