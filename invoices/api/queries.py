"""The query parameters of the invoice list, as a ninja `Query` schema.

Each parameter's validator gives the detail a merchant reads in the 422
naming it; `WithJsonSchema` says in the OpenAPI document what it takes.
"""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from invoices.statuses import Status

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_REFERENCE_ID_LENGTH = 255


def _reference_id(value: Any) -> Any:
    if isinstance(value, str) and (len(value) > MAX_REFERENCE_ID_LENGTH or "\x00" in value):
        raise ValueError(f"At most {MAX_REFERENCE_ID_LENGTH} characters, and no NUL.")
    return value


def _statuses(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    statuses = [status for status in value.split(",") if status]
    if unknown := [status for status in statuses if status not in Status.values]:
        raise ValueError(f"Unknown status: {', '.join(unknown)}.")
    return statuses


def _page_size(value: Any) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"A whole number from 1 to {MAX_PAGE_SIZE}.")
    return size


ReferenceIdFilter = Annotated[
    str | None,
    BeforeValidator(_reference_id),
    WithJsonSchema({"type": "string", "maxLength": MAX_REFERENCE_ID_LENGTH}),
]
StatusFilter = Annotated[
    list[Status],
    BeforeValidator(_statuses),
    WithJsonSchema(
        {"type": "string", "description": "One status, or several separated by commas."}
    ),
]
PageSize = Annotated[
    int,
    BeforeValidator(_page_size),
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "default": DEFAULT_PAGE_SIZE,
        }
    ),
]
PageCursor = Annotated[
    str | None,
    WithJsonSchema(
        {"type": "string", "description": "The cursor from `links.next` of the previous page."}
    ),
]


class InvoiceListQuery(BaseModel):
    """The filters and the page of `GET /api/payment-invoices`; an empty parameter is absent."""

    reference_id: ReferenceIdFilter = Field(None, alias="filter[reference_id]")
    statuses: StatusFilter = Field(default_factory=list, alias="filter[status]")
    page_size: PageSize = Field(DEFAULT_PAGE_SIZE, alias="page[size]")
    after: PageCursor = Field(None, alias="page[after]")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        # The contract's own example sends every parameter empty: it lists everything.
        if isinstance(data, dict):
            return {name: value for name, value in data.items() if value != ""}
        return data
