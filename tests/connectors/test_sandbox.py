"""The `test` connector: the seed's schema and its deterministic outcomes."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.base import InvoiceData, ProviderRejected
from connectors.registry import UnknownConnector, connector_names, get_connector
from connectors.sandbox import CONFIRMATION_SCHEMA

# `flow_data.confirmation.payload` of the seed's response sample, as sent.
SEED_CONFIRMATION_PAYLOAD = (
    '{"invoice_receipt_number":{"required":true,"regexp":"^\\\\d{1,100}$","type":"text",'
    '"example":null},"message":{"required":true,"regexp":"^.{1,100}$","type":"text",'
    '"example":null}}'
)

sandbox = get_connector("test")


def _invoice(amount="2126.68", currency="UAH", status="created", receipt="1764077421"):
    return InvoiceData(
        id="cpi_0123456789abcdef",
        reference_id="order-1",
        amount=Decimal(amount),
        currency=currency,
        test_mode=True,
        display_kind="test",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        status=status,
        requisites={"invoice_receipt_number": receipt},
    )


def test_registry_knows_the_shipped_connectors():
    assert {"test", "static"} <= set(connector_names())
    with pytest.raises(UnknownConnector):
        get_connector("nope")


def test_the_schema_is_the_seeds_letter_for_letter():
    assert json.loads(SEED_CONFIRMATION_PAYLOAD) == CONFIRMATION_SCHEMA
    # and serialised the same way the seed shows it
    assert json.dumps(CONFIRMATION_SCHEMA, separators=(",", ":")) == SEED_CONFIRMATION_PAYLOAD


def test_requisites_are_ten_digits_and_differ_per_invoice():
    numbers = set()
    for _ in range(200):
        issued = sandbox.issue_requisites(_invoice())
        number = issued.requisites["invoice_receipt_number"]
        assert len(number) == 10 and number.isdigit() and number[0] != "0"
        assert issued.provider_reference == number
        assert issued.confirmation_schema == CONFIRMATION_SCHEMA
        numbers.add(number)
    assert len(numbers) == 200


@pytest.mark.parametrize(
    ("receipt", "message", "status", "resolution", "processed"),
    [
        ("1764077421", "paid, thanks", "processed", "ok", "2126.68"),
        ("1764077421", "fail", "process_failed", "declined", None),
        ("1764077421", "partial", "partially_processed", "insufficient_amount", "1063.34"),
        ("1764077421", "pending", "process_pending", "ok", None),
        ("1111111111", "paid", "process_failed", "invalid_details", None),
        ("1111111111", "fail", "process_failed", "invalid_details", None),
    ],
)
def test_confirmation_outcomes(receipt, message, status, resolution, processed):
    answer = sandbox.forward_confirmation(
        _invoice(), {"invoice_receipt_number": receipt, "message": message}
    )
    assert (answer.status, answer.resolution) == (status, resolution)
    assert answer.processed_amount == (Decimal(processed) if processed else None)


@pytest.mark.parametrize(
    ("amount", "currency", "half"),
    [
        ("0.03", "UAH", "0.01"),
        ("5", "JPY", "2"),
        ("1.001", "KWD", "0.500"),
        ("2126.69", "UAH", "1063.34"),
    ],
)
def test_partial_pays_half_rounded_down_to_the_minor_unit(amount, currency, half):
    answer = sandbox.simulate(_invoice(amount=amount, currency=currency), outcome="partial")
    assert answer.processed_amount == Decimal(half)
    assert str(answer.processed_amount) == half


def test_pending_settles_at_the_next_poll():
    assert sandbox.fetch_status(_invoice(status="process_pending")).status == "processed"
    assert sandbox.fetch_status(_invoice(status="processing")).status == "processing"


def test_the_sandbox_has_no_notifications():
    with pytest.raises(ProviderRejected):
        sandbox.parse_notification(None, {})
