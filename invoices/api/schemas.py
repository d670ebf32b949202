"""The merchant API's documents, as pydantic models.

Requests are validated with these models (strict types: a number is not a
string, `"true"` is not a boolean); responses are built by
`invoices.resources` and described here for the OpenAPI document.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
)

from invoices.languages import Locale
from invoices.statuses import Status

_NUMERIC_STRING = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_TEXT_LENGTH = 500


def _amount(value: Any) -> Decimal:
    # Bodies are parsed with Decimal for every JSON number, so an amount
    # never passes through a float.
    if isinstance(value, bool):
        raise ValueError("must be a number or a numeric string")
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, str) and _NUMERIC_STRING.fullmatch(value):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError("must be a number or a numeric string") from None
    else:
        raise ValueError('must be a number or a numeric string, e.g. 2126.68 or "2126.68"')
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    return amount


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": f"^{_NUMERIC_STRING.pattern}$"},
            ],
            "description": "More than 0, with at most the currency's minor-unit digits.",
            "examples": [2126.68],
        }
    ),
]

_ResponseAmount = Annotated[
    Decimal, WithJsonSchema({"type": "number", "description": "Exact decimal amount."})
]


MAX_EXACT_DIGITS = 15


def _exact_number(value: Decimal) -> int | float | None:
    """The int or float that is exactly `value`, or None when a float would change it."""
    if value == value.to_integral_value() and value.adjusted() < MAX_EXACT_DIGITS:
        return int(value)
    if len(value.normalize().as_tuple().digits) <= MAX_EXACT_DIGITS:
        number = float(value)
        if Decimal(repr(number)) == value:
            return number
    return None


def _plain_json(value: object, *, strict: bool) -> object:
    """Numbers parsed as Decimal back to int/float, for JSON columns.

    A number no float holds exactly is refused (`strict`) or kept as its
    text; nesting is already bounded when the body was read.
    """
    if isinstance(value, Decimal):
        number = _exact_number(value)
        if number is not None:
            return number
        if strict:
            raise ValueError(
                f"numbers have at most {MAX_EXACT_DIGITS} significant digits; "
                f"send {value} as a string"
            )
        return str(value)
    if isinstance(value, dict):
        return _plain_json_object(value, strict=strict)
    if isinstance(value, list):
        return [_plain_json(item, strict=strict) for item in value]
    return value


def _plain_json_object(value: dict[str, Any], *, strict: bool) -> dict[str, Any]:
    """`_plain_json` of an object, typed as one."""
    return {key: _plain_json(item, strict=strict) for key, item in value.items()}


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference_id: StrictStr | None = Field(None, max_length=255)
    email: StrictStr | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: StrictStr | None = Field(None, max_length=255)
    phone: StrictStr | None = Field(None, max_length=32, pattern=r"^\+?[0-9 ()\-]{3,32}$")


class ReturnUrls(BaseModel):
    model_config = ConfigDict(extra="forbid")

    success: StrictStr | None = Field(None, max_length=2048)
    pending: StrictStr | None = Field(None, max_length=2048)
    fail: StrictStr | None = Field(None, max_length=2048)
    expired: StrictStr | None = Field(None, max_length=2048)


class InvoiceAttributes(BaseModel):
    """`data.attributes` of a create request. Unknown attributes are ignored."""

    model_config = ConfigDict(extra="ignore")

    reference_id: StrictStr = Field(min_length=1, max_length=255)
    amount: Amount
    currency: StrictStr = Field(pattern=r"^[A-Z]{3}$", examples=["UAH"])
    service: StrictStr = Field(min_length=1, max_length=100, examples=["test_uah_invoice"])
    flow: Literal["charge"] = "charge"
    test_mode: StrictBool | None = None
    description: StrictStr | None = Field(None, max_length=2048)
    descriptor: StrictStr | None = Field(None, max_length=255)
    callback_url: StrictStr | None = Field(None, max_length=2048)
    return_url: StrictStr | None = Field(None, max_length=2048)
    return_urls: ReturnUrls | None = None
    customer: Customer | None = None
    metadata: dict[str, Any] | None = Field(
        None,
        description="A flat object of strings, numbers, booleans or nulls; echoed back and "
        "in callbacks.",
    )
    locale: Locale | None = None
    expires: StrictInt | None = Field(None, gt=0, description="UNIX time.")
    options: dict[str, Any] | None = Field(None, description="Unknown keys are ignored.")

    @field_validator("metadata")
    @classmethod
    def _flat_and_small(cls, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
        if metadata is None:
            return None
        if len(metadata) > MAX_METADATA_KEYS:
            raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
        for key, value in metadata.items():
            if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
                raise ValueError(f"keys are 1 to {MAX_METADATA_KEY_LENGTH} characters")
            if value is not None and not isinstance(value, str | int | float | Decimal):
                raise ValueError("must be flat: values are strings, numbers, booleans or null")
            if isinstance(value, str) and len(value) > MAX_METADATA_TEXT_LENGTH:
                raise ValueError(f"values are at most {MAX_METADATA_TEXT_LENGTH} characters")
        return _plain_json_object(metadata, strict=True)

    @field_validator("options")
    @classmethod
    def _storable(cls, options: dict[str, Any] | None) -> dict[str, Any] | None:
        # Options are stored for operators and otherwise ignored: never refused.
        return _plain_json_object(options, strict=False) if options is not None else None


class InvoiceCreateData(BaseModel):
    type: Literal["payment-invoices"]
    attributes: InvoiceAttributes


class InvoiceCreateDocument(BaseModel):
    data: InvoiceCreateData


class InvoiceFollowAttributes(BaseModel):
    """`data.attributes` of a reissue or remainder request: all optional."""

    model_config = ConfigDict(extra="ignore")

    # `default=` by name: type checkers read a positional default as none, and
    # InvoiceFollowData builds this model without arguments.
    expires: StrictInt | None = Field(
        default=None, gt=0, description="UNIX time; default: now + the service's lifetime."
    )


class InvoiceFollowData(BaseModel):
    type: Literal["payment-invoices"] = "payment-invoices"
    attributes: InvoiceFollowAttributes = InvoiceFollowAttributes()


class InvoiceFollowDocument(BaseModel):
    """The body of a reissue or remainder request; an empty body takes every default."""

    data: InvoiceFollowData = InvoiceFollowData()


class ConfirmDocument(BaseModel):
    payload: dict[str, Any] = Field(
        description="The confirmation fields, checked against flow_data.confirmation.",
        examples=[{"invoice_receipt_number": "1764077421", "message": "paid"}],
    )


# Responses (for the OpenAPI document) -------------------------------------


class Method(BaseModel):
    code: str
    name: str
    logo: str | None


class Confirmation(BaseModel):
    payload: str = Field(description="A JSON string: {field: {required, regexp, type, example}}.")
    required: bool


class FlowData(BaseModel):
    method: Method
    requisites: dict[str, str]
    is_otp_flow: bool
    confirmation: Confirmation
    checkout_page: str | None


class ResponseReturnUrls(BaseModel):
    fail: str | None
    pending: str | None
    success: str | None
    expired: str | None = None


class ResourceLinks(BaseModel):
    self: str


class RelatedInvoiceLink(BaseModel):
    id: str
    relation: Literal["reissue", "remainder"] = Field(
        description="How the later invoice of the two was made from the earlier."
    )
    links: ResourceLinks


class RelatedInvoice(BaseModel):
    previous: RelatedInvoiceLink | None = Field(description="The invoice this one was made from.")
    next: RelatedInvoiceLink | None = Field(description="The invoice made from this one.")


class InvoiceAttributesOut(BaseModel):
    serial_number: str
    status: Status  # the model's own vocabulary (contract section 4)
    resolution: str
    resolution_message: str | None
    reference_id: str
    test_mode: bool
    amount: _ResponseAmount
    currency: str
    service: str
    description: str | None
    descriptor: str | None
    customer: dict[str, Any] | None
    metadata: dict[str, Any] | None
    locale: str | None
    callback_url: str | None
    return_url: str | None
    return_urls: ResponseReturnUrls
    flow: Literal["invoice"]
    payment_flow: Literal["charge"]
    payment_amount: _ResponseAmount
    processed_amount: _ResponseAmount | None
    created: int
    updated: int
    processed: int | None
    expires: int
    sequence: int
    hpp_url: str
    related_invoice: RelatedInvoice | None = Field(
        None, description="Only on an invoice of an order with more than one invoice."
    )
    payload: None
    flow_data: FlowData


class InvoiceResource(BaseModel):
    type: Literal["payment-invoices"]
    id: str = Field(pattern=r"^cpi_[A-Za-z0-9]{16}$")
    attributes: InvoiceAttributesOut
    links: ResourceLinks


class InvoiceDocument(BaseModel):
    data: InvoiceResource


class ListLinks(BaseModel):
    next: str | None


class InvoiceListDocument(BaseModel):
    data: list[InvoiceResource]
    links: ListLinks


class ErrorSource(BaseModel):
    pointer: str | None = None
    parameter: str | None = None
    header: str | None = None


class Error(BaseModel):
    status: str
    code: str
    title: str
    detail: str
    source: ErrorSource | None = None
    meta: dict[str, Any] | None = None


class ErrorDocument(BaseModel):
    errors: list[Error]


# The error answers every endpoint may give, for the OpenAPI document.
ERROR_RESPONSES = {status: ErrorDocument for status in (400, 401, 404, 409, 413, 415, 422, 429)}
