"""`POST /api/statements`: a bank statement file imported, and what the import found.

The body is the statement file itself, as the bank gave it, so a merchant can
post it with `curl --data-binary @file`: JSON around it would only add base64.
Its content type names the format; its size is limited on its own (statements
outgrow the limit of a JSON request), read from the stream without letting
Django buffer more than the limit.
"""

from datetime import UTC
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Router

from invoices import statements
from invoices.api.auth import MerchantKeyAuth, api_caller
from invoices.api.errors import ApiError, json_response
from invoices.api.schemas import ERROR_RESPONSES
from invoices.resources import render_json

# The format each accepted content type names; `auto` tells XML from MT940 by the bytes.
STATEMENT_CONTENT_TYPES = {
    "application/xml": "camt",
    "text/xml": "camt",
    "text/plain": "mt940",
    "application/octet-stream": "auto",
}
_FILE_NAME_LENGTH = 255

router = Router()


def statement_read(request: HttpRequest) -> tuple[bytes, str, str]:
    """The file's bytes, its format and its name, or an `ApiError` saying what is wrong."""
    file_format = STATEMENT_CONTENT_TYPES.get(request.content_type or "")
    if file_format is None:
        raise ApiError.single(
            415,
            "unsupported_media_type",
            "Send the statement file as the body: application/xml for camt.053/054, "
            f"text/plain for MT940, not {request.content_type or 'nothing'}.",
            header="Content-Type",
        )
    limit = settings.STATEMENT_MAX_BYTES
    too_large = ApiError.single(
        413, "body_too_large", f"Statement files are at most {limit} bytes."
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    data = request.read(limit + 1)
    if len(data) > limit:
        raise too_large
    if not data:
        raise ApiError.single(422, "empty_statement", "The body is empty: send the file.")
    file_name = request.GET.get("file_name", "").strip() or "api upload"
    if len(file_name) > _FILE_NAME_LENGTH or not file_name.isprintable():
        raise ApiError.single(
            422,
            "invalid_parameter",
            f"At most {_FILE_NAME_LENGTH} printable characters.",
            parameter="file_name",
        )
    return data, file_format, file_name


def statement_import_document(result: statements.ImportResult) -> bytes:
    record = result.statement_import
    attributes: dict[str, Any] = {
        "file_name": record.file_name,
        "file_format": record.file_format,
        "test_mode": record.test_mode,
        "created": int(record.created_at.astimezone(UTC).timestamp()),
        "entries_read": record.entries_read,
        "matched": record.matched,
        "unmatched": record.unmatched,
        "duplicates": record.duplicates,
        "debits_ignored": record.debits_ignored,
        "entries": [
            {
                "bank_reference": entry.bank_reference,
                "amount": entry.amount,
                "currency": entry.currency,
                "state": entry.state,
                "duplicate": entry.duplicate,
                "invoice_id": entry.invoice_id,
                "overpaid": entry.overpaid,
                "outcome": entry.outcome,
            }
            for entry in result.entries
        ],
    }
    return render_json(
        {"data": {"type": "statement-imports", "id": str(record.pk), "attributes": attributes}}
    )


@router.post(
    "",
    auth=MerchantKeyAuth(),
    response={201: dict, **ERROR_RESPONSES},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in STATEMENT_CONTENT_TYPES
            },
        },
        "parameters": [
            {"name": "file_name", "in": "query", "required": False, "schema": {"type": "string"}}
        ],
    },
    summary="Import a bank statement",
    description="The body is a camt.053/camt.054 (application/xml) or MT940 (text/plain) "
    "file. Its credits settle your invoices of static bank-transfer services paid into the "
    "statement's account, in the key's mode, by RF creditor reference or reference_id; "
    "each credit is applied once, however often the file is sent.",
)
def import_statement(request: HttpRequest) -> HttpResponse:
    caller = api_caller(request)
    data, file_format, file_name = statement_read(request)
    try:
        result = statements.statement_import(
            data=data,
            file_name=file_name,
            file_format=file_format,
            imported_by=str(caller.actor),
            test_mode=caller.test_mode,
            merchant=caller.merchant,
        )
    except statements.StatementFormatError as error:
        raise ApiError.single(422, "unreadable_statement", str(error)) from None
    return json_response(statement_import_document(result), 201)
