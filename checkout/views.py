"""The hosted pages (contract section 2). Each view makes one call into services or selectors."""

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Protocol, TypedDict
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.functional import Promise
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from checkout import images, presentation, services
from checkout.pages import is_htmx, not_found, page_language, render_page
from checkout.presentation import RequisiteRow
from checkout.security import framing_allow
from invoices import ratelimit, selectors
from invoices import services as invoice_services
from invoices.languages import LOCALES
from invoices.models import Invoice, Service
from invoices.services import second_chance
from invoices.services.second_chance import SecondChance
from invoices.state_machine import Actor
from invoices.statuses import Status

POLL_SECONDS = 3
RETURN_AFTER_SECONDS = 5


class StatusContext(TypedDict):
    """The status box (checkout/partials/status.html)."""

    invoice: Invoice
    status_key: str
    swapped_in: bool
    second_chance: SecondChance | None
    second_chance_amount: str | None
    amount: str
    processed_amount: str | None
    final: bool
    status_text: Promise
    status_tone: str
    poll_seconds: int
    return_url: str | None
    return_after: int


class FormField(TypedDict):
    """One field of the confirm form, from the invoice's confirmation schema."""

    name: str
    label: str | Promise
    required: bool
    pattern: str
    example: str
    inputmode: str
    input_type: str
    value: str
    error: str | None


class InvoiceContext(StatusContext):
    """The invoice's page (checkout/invoice.html) and its state (partials/state.html).

    The callables are called by the template only where a fragment is rendered.
    """

    display_key: str
    details: Invoice
    service: Service
    method_name: str
    merchant_name: str
    rows: Callable[[], list[RequisiteRow]]
    has_qr: Callable[[], bool]
    qr_src: Callable[[], str | None]
    barcode_src: Callable[[], str | None]
    show_form: bool
    fields: Callable[[], list[FormField]]
    fields_key: str | None
    notice: str | None
    test_panel: bool


@xframe_options_exempt  # framing is governed by the CSP frame-ancestors of the merchant
@require_GET
def hosted_page(request: HttpRequest) -> HttpResponse:
    if "cpi" in request.GET:
        hosted = selectors.hosted_invoice_get(invoice_id=request.GET["cpi"])
        if hosted is None:
            return not_found(request)
        return _invoice_page(request, hosted)
    if "public_key" in request.GET:
        return _checkout_link(request)
    return not_found(request)


def _status_context(invoice: Invoice, *, language: str, swapped_in: bool) -> StatusContext:
    """What the status box needs, and no more: the poll renders only this.

    `swapped_in`: htmx puts the box in place, so it also clears the confirm form
    once the status is final.
    """
    final = presentation.is_final(invoice)
    offered = second_chance.second_chance_offered(invoice=invoice)
    status = Status(invoice.status)
    return {
        "invoice": invoice,
        "status_key": presentation.status_fragment_key(invoice),
        "swapped_in": swapped_in,
        "second_chance": offered,
        "second_chance_amount": (
            presentation.money(offered.amount, invoice.currency, language) if offered else None
        ),
        "amount": presentation.money(invoice.amount, invoice.currency, language),
        "processed_amount": (
            presentation.money(invoice.processed_amount, invoice.currency, language)
            if invoice.processed_amount is not None
            else None
        ),
        "final": final,
        "status_text": presentation.STATUS_TEXT[status],
        "status_tone": presentation.STATUS_TONE.get(status, "info"),
        "poll_seconds": POLL_SECONDS,
        "return_url": services.return_url(invoice),
        "return_after": RETURN_AFTER_SECONDS,
    }


def _invoice_context(
    request: HttpRequest,
    hosted: selectors.HostedInvoice,
    *,
    language: str,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> InvoiceContext:
    invoice, details = hosted.invoice, hosted.details
    final = presentation.is_final(invoice)
    # The summary, the details and the confirm form's fields are kept rendered
    # under this key: they change only with the status fields, the service and
    # the merchant's name (the rest of what they show is written at creation).
    display_key = presentation.fragment_key(
        presentation.status_fragment_key(invoice),
        [getattr(hosted.service, field.attname) for field in Service._meta.concrete_fields],
        hosted.merchant.name,
    )
    return {
        **_status_context(invoice, language=language, swapped_in=is_htmx(request)),
        "display_key": display_key,
        "details": details,
        "service": hosted.service,
        "method_name": selectors.service_method_name(service=hosted.service, language=language),
        "merchant_name": hosted.merchant.name,
        # Callables: the template calls them only where a fragment is rendered, so
        # a page kept rendered never reads the whole row.
        "rows": lambda: presentation.requisite_rows(details),
        "has_qr": lambda: presentation.qr_text(details) is not None,
        "qr_src": lambda: images.image_src(details, "hpp-qr-svg", images.qr_drawing(png=False)),
        "barcode_src": lambda: images.image_src(details, "hpp-barcode-svg", images.barcode_drawing),
        "show_form": invoice.status == Status.CREATED
        and bool(invoice.confirmation_schema)
        and not final,
        "fields": lambda: _form_fields(invoice, errors or {}, values or {}),
        # A form as first shown is the same for every visitor; one with their
        # values and errors is theirs.
        "fields_key": None if errors or values else display_key,
        "notice": notice,
        "test_panel": invoice.test_mode and not final,
    }


def _form_fields(
    invoice: Invoice, errors: Mapping[str, str], values: Mapping[str, str]
) -> list[FormField]:
    fields: list[FormField] = []
    for name, spec in invoice.confirmation_schema.items():
        fields.append(
            {
                "name": name,
                "label": spec.get("label")
                or presentation.FIELD_LABELS.get(name, name.replace("_", " ").capitalize()),
                "required": bool(spec.get("required")),
                "pattern": spec.get("regexp", ""),
                "example": spec.get("example") or "",
                "inputmode": "numeric" if spec.get("type") == "number" else "text",
                "input_type": {"email": "email", "tel": "tel"}.get(spec.get("type"), "text"),
                "value": values.get(name, ""),
                "error": errors.get(name),
            }
        )
    return fields


def _invoice_page(
    request: HttpRequest,
    hosted: selectors.HostedInvoice,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HttpResponse:
    language = page_language(request, hosted.invoice)
    context = _invoice_context(
        request, hosted, language=language, errors=errors, values=values, notice=notice
    )
    response = render_page(
        request, "checkout/invoice.html", context, language=language, status=status
    )
    framing_allow(response, origins=hosted.merchant.frame_ancestors)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _checkout_link(request: HttpRequest) -> HttpResponse:
    language = page_language(request)
    try:
        link = services.checkout_link_read(query=request.GET)
        if not (link.parameters.get("service") or link.parameters.get("method")):
            choices = [
                {
                    "service": service,
                    "name": selectors.service_method_name(service=service, language=language),
                    "href": link.with_service(service.code),
                }
                for service in services.checkout_services(link=link)
            ]
            return render_page(
                request,
                "checkout/select.html",
                {
                    "merchant_name": link.merchant.name,
                    "test_mode": link.test_mode,
                    "choices": choices,
                    "currency": link.parameters["currency"],
                    "amount": _link_amount(link, language),
                },
                language=language,
            )
        invoice = services.checkout_invoice_for_link(link=link)
    except services.LinkRefused as refused:
        return render_page(
            request,
            "checkout/message.html",
            {"kind": "refused", "detail": str(refused)},
            language=language,
            status=403,
        )
    except services.LinkInvalid as invalid:
        return render_page(
            request,
            "checkout/message.html",
            {"kind": "invalid", "problems": invalid.problems},
            language=language,
            status=400,
        )
    return HttpResponseRedirect(_page_url(invoice.id))


def _page_url(invoice_id: str) -> str:
    """The invoice's hosted page, where every flow of the page ends."""
    return f"{reverse('hpp')}?{urlencode({'cpi': invoice_id})}"


def _link_amount(link: services.CheckoutLink, language: str) -> str:
    amount, currency = link.parameters["amount"], link.parameters["currency"]
    try:
        return presentation.money(Decimal(amount), currency, language)
    except (InvalidOperation, KeyError, ValueError):
        # Not a currency or amount we know: shown as written; choosing will say what is wrong.
        return f"{amount} {currency}"


@require_POST
def confirm(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None:
        return not_found(request)
    values = {
        name: request.POST[name].strip()
        for name in invoice.confirmation_schema
        if request.POST.get(name, "").strip()
    }
    errors: dict[str, str] = {}
    notice: str | None = None
    if not ratelimit.allow(
        f"confirm:{ratelimit.client_address(request)}",
        limit=settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE,
        window_seconds=60,
    ):
        notice = "rate_limited"
    else:
        try:
            invoice_services.invoice_confirm(
                invoice_id=invoice_id, payload=values, actor=Actor("customer", "hosted_page")
            )
        except invoice_services.ConfirmationRejected as rejected:
            errors = {problem.field: problem.code for problem in rejected.problems}
        except invoice_services.ConfirmationLocked:
            notice = "locked"
        except invoice_services.InvoiceNotConfirmable:
            notice = "not_confirmable"
    confirmed = selectors.invoice_get(invoice_id=invoice_id)
    if confirmed is None:
        return not_found(request)
    hosted = selectors.HostedInvoice.of(confirmed)
    failed = bool(errors or notice)
    if is_htmx(request):
        language = page_language(request, hosted.invoice)
        context = _invoice_context(
            request, hosted, language=language, errors=errors, values=values, notice=notice
        )
        return render_page(request, "checkout/partials/state.html", context, language=language)
    if failed:
        return _invoice_page(
            request, hosted, errors=errors, values=values, notice=notice, status=422
        )
    return HttpResponseRedirect(_page_url(invoice_id), status=303)


@require_GET
def status(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = selectors.invoice_status_get(invoice_id=invoice_id)
    if invoice is None:
        return not_found(request)
    language = page_language(request, invoice)
    response = render_page(
        request,
        "checkout/partials/status.html",
        _status_context(invoice, language=language, swapped_in=is_htmx(request)),
        language=language,
    )
    patch_vary_headers(response, ["HX-Request"])
    add_never_cache_headers(response)  # a status is only ever true now
    return response


@require_POST
def simulate(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice: Invoice | None
    try:
        invoice = services.invoice_simulate(
            invoice_id=invoice_id, outcome=request.POST.get("outcome", "")
        )
    except services.SimulationRefused:
        invoice = selectors.invoice_get(invoice_id=invoice_id)
        if invoice is None:
            return not_found(request)
    if is_htmx(request):
        language = page_language(request, invoice)
        return render_page(
            request,
            "checkout/partials/state.html",
            _invoice_context(request, selectors.HostedInvoice.of(invoice), language=language),
            language=language,
        )
    return HttpResponseRedirect(_page_url(invoice_id), status=303)


# The payer's second chance -------------------------------------------------------

# What the page says when the new invoice cannot be made (partials/notice.html).
_FOLLOW_NOTICES: dict[type[Exception], str] = {
    second_chance.SecondChanceRefused: "second_chance_refused",
    second_chance.RequisitesUnavailable: "provider_unavailable",
    invoice_services.InvoiceRejected: "second_chance_refused",
}


@require_POST
def reissue(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _follow(request, invoice_id, second_chance.invoice_reissue)


@require_POST
def remainder(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _follow(request, invoice_id, second_chance.invoice_remainder_issue)


class _Follow(Protocol):
    """A way of making the invoice that follows `invoice_id` (a reissue, the remainder)."""

    def __call__(self, *, invoice_id: str, actor: Actor) -> Invoice: ...


def _follow(request: HttpRequest, invoice_id: str, follow: _Follow) -> HttpResponse:
    """Make the new invoice and take the payer to its page; asked twice (a double click, a
    second tab), the invoice made first."""
    if not ratelimit.allow(
        f"follow:{ratelimit.client_address(request)}",
        limit=settings.CONFIRM_ATTEMPTS_PER_CLIENT_PER_MINUTE,
        window_seconds=60,
    ):
        return _follow_refused(request, invoice_id, "rate_limited", status=429)
    try:
        next_id = follow(invoice_id=invoice_id, actor=Actor("customer", "hosted_page")).id
    except invoice_services.InvoiceNotFound:
        return not_found(request)
    except second_chance.AlreadyFollowed as followed:
        # A stale tab: on to where the order stands now.
        next_id = selectors.invoice_chain_end(invoice_id=followed.next_invoice_id)
    except tuple(_FOLLOW_NOTICES) as refused:
        status = 503 if isinstance(refused, second_chance.RequisitesUnavailable) else 409
        return _follow_refused(request, invoice_id, _FOLLOW_NOTICES[type(refused)], status=status)
    query = {"cpi": next_id}
    if request.GET.get("locale") in LOCALES:
        query["locale"] = request.GET["locale"]
    return HttpResponseRedirect(f"{reverse('hpp')}?{urlencode(query)}", status=303)


def _follow_refused(
    request: HttpRequest, invoice_id: str, notice: str, *, status: int
) -> HttpResponse:
    invoice = selectors.invoice_get(invoice_id=invoice_id)
    if invoice is None:
        return not_found(request)
    return _invoice_page(request, selectors.HostedInvoice.of(invoice), notice=notice, status=status)
