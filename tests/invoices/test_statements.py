"""Bank statements settle invoices: each line of the files in tests/data/ ends where it should,
once, through every door (the service, the admin, the command, the merchant API)."""

import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from invoices import callback_delivery
from invoices.models import (
    CallbackDelivery,
    InvoiceEvent,
    OperatorAction,
    StatementEntry,
    StatementImport,
)
from invoices.services.second_chance import invoice_reissue
from invoices.state_machine import Actor, invoice_move_status
from invoices.statements import StatementEntryRefused, statement_entry_assign, statement_import
from tests.api import MerchantApi, basic_auth
from tests.operators import operator_in_group
from tests.receiver import CallbackReceiver
from tests.statements import CAMT053, CAMT054, MT940, shop_invoice, snapshot, statement_world

pytestmark = pytest.mark.django_db


def _import(path, **options):
    return statement_import(
        data=path.read_bytes(),
        file_name=path.name,
        file_format=options.pop("file_format", "auto"),
        imported_by="test",
        test_mode=options.pop("test_mode", True),
        **options,
    )


def _state(reference_id, merchant="Demo Shop"):
    invoice = shop_invoice(reference_id, merchant)
    return invoice.status, invoice.processed_amount, invoice.resolution


def _entry(bank_reference):
    return StatementEntry.objects.get(bank_reference=bank_reference)


def _counts(record):
    return (
        record.entries_read,
        record.matched,
        record.unmatched,
        record.duplicates,
        record.debits_ignored,
    )


def test_a_camt053_statement_settles_each_line_where_described():
    statement_world()
    result = _import(CAMT053)

    assert result.statement_import.file_format == "camt.053.001.02"
    assert _counts(result.statement_import) == (8, 4, 3, 1, 1)
    assert _state("order-full") == ("processed", Decimal("100.00"), "ok")
    assert _state("order-short") == ("partially_processed", Decimal("40.00"), "insufficient_amount")
    # More than asked: processed with what was received, and flagged for the operator.
    assert _state("order-over") == ("processed", Decimal("120.00"), "ok")
    assert _entry("2026120400003").overpaid
    assert "20.00 more than asked" in shop_invoice("order-over").resolution_message
    # Paid after expiry: never dropped, a late payment.
    assert _state("order-late") == ("processed", Decimal("100.00"), "late_payment")

    # The same bank reference twice in the file: moved once, reported as a duplicate.
    assert [r.duplicate for r in result.entries if r.bank_reference == "2026120400001"] == [
        False,
        True,
    ]
    assert InvoiceEvent.objects.filter(invoice=shop_invoice("order-full")).count() == 1

    unknown, two, typo = (_entry(f"202612040000{n}") for n in (5, 6, 7))
    assert unknown.state == "unmatched" and unknown.outcome.startswith("no invoice")
    assert two.state == "unmatched" and two.outcome.startswith("several invoices match")
    # A mistyped RF fails its check digits: it settles nothing, least of all another invoice.
    assert typo.state == "unmatched" and typo.invoice is None
    assert _state("shared-ref") == _state("shared-ref", "Other Shop") == ("created", None, "ok")

    event = InvoiceEvent.objects.get(invoice=shop_invoice("order-short"))
    assert event.cause == "statement"
    assert event.actor == f"statement:{result.statement_import.pk}"
    assert event.details["bank_reference"] == "2026120400002"


def test_importing_the_same_file_again_changes_nothing():
    statement_world()
    _import(CAMT053)
    before = (snapshot(), StatementEntry.objects.count(), InvoiceEvent.objects.count())

    again = _import(CAMT053)

    assert (snapshot(), StatementEntry.objects.count(), InvoiceEvent.objects.count()) == before
    assert _counts(again.statement_import) == (8, 0, 0, 8, 1)
    assert all(r.duplicate and r.outcome.startswith("duplicate") for r in again.entries)
    assert CallbackDelivery.objects.count() == 0  # no callback URL anywhere: nothing to send


def test_a_camt054_notification_matches_by_reference_id_and_holds_a_currency_mismatch():
    statement_world()
    result = _import(CAMT054)

    assert result.statement_import.file_format == "camt.054.001.02"
    assert _counts(result.statement_import) == (2, 1, 1, 0, 0)
    assert _state("order-note") == ("processed", Decimal("75.00"), "ok")
    mismatch = _entry("N2026120400043")
    assert (mismatch.state, mismatch.invoice_id) == ("unmatched", "cpi_StmtCurr00000001")
    assert mismatch.outcome == "currency mismatch: paid in USD, invoiced in EUR"
    assert _state("order-curr") == ("created", None, "ok")

    before = snapshot()
    assert _counts(_import(CAMT054).statement_import) == (2, 0, 0, 2, 0)
    assert snapshot() == before


def test_an_mt940_statement_settles_each_line_where_described():
    statement_world()
    result = _import(MT940, file_format="mt940")

    assert result.statement_import.file_format == "MT940"
    assert _counts(result.statement_import) == (6, 3, 2, 1, 1)
    # The RF in groups of four, upper-cased by the bank.
    assert _state("order-mt-full") == ("processed", Decimal("100.00"), "ok")
    # A German bank's structured :86:, matched by the reference_id in its purpose.
    assert _state("order-mt-short") == (
        "partially_processed",
        Decimal("40.00"),
        "insufficient_amount",
    )
    assert _entry("MT-20261204-02").debtor_name == "Bernd Beispiel"
    assert _state("order-mt-over") == ("processed", Decimal("60.00"), "ok")
    assert _entry("MT-20261204-03").overpaid
    assert _entry("MT-20261204-05").state == "unmatched"
    assert _entry("MT-20261204-06").outcome.startswith("several invoices match")

    before = (snapshot(), StatementEntry.objects.count())
    assert _counts(_import(MT940).statement_import) == (6, 0, 0, 6, 1)
    assert (snapshot(), StatementEntry.objects.count()) == before


def test_test_and_live_imports_are_kept_apart():
    statement_world(test_mode=True)
    live = _import(CAMT053, test_mode=False)
    assert _counts(live.statement_import) == (8, 0, 7, 1, 1)
    assert _state("order-full") == ("created", None, "ok")

    # The live import's entries do not make the test import's duplicates.
    assert _counts(_import(CAMT053, test_mode=True).statement_import) == (8, 4, 3, 1, 1)


def test_an_operator_assigns_an_unmatched_credit_once_and_the_move_is_the_statements():
    statement_world()
    _import(CAMT053)
    two = _entry("2026120400006")
    invoice = shop_invoice("shared-ref")

    statement_entry_assign(
        entry_id=two.pk, invoice_id=invoice.id, reason="Emil is our customer", operator="fin"
    )

    assert _state("shared-ref") == ("processed", Decimal("30.00"), "ok")
    assert _state("shared-ref", "Other Shop") == ("created", None, "ok")
    two.refresh_from_db()
    assert (two.state, two.invoice_id, two.resolved_by) == ("assigned", invoice.id, "fin")
    event = InvoiceEvent.objects.get(invoice=invoice)
    assert (event.cause, event.actor) == ("statement", "operator:fin")
    action = OperatorAction.objects.get(invoice=invoice)
    assert (action.action, action.reason) == ("statement_assign", "Emil is our customer")
    with pytest.raises(StatementEntryRefused, match="assigned already"):
        statement_entry_assign(entry_id=two.pk, invoice_id=invoice.id, reason="again", operator="x")


def test_an_assignment_that_cannot_settle_is_refused_and_changes_nothing():
    statement_world()
    _import(CAMT054)
    mismatch = _entry("N2026120400043")
    for invoice_id, refusal in [
        ("cpi_StmtCurr00000001", "paid in USD, invoiced in EUR"),
        ("cpi_NoSuchInvoice000", "No invoice"),
    ]:
        with pytest.raises(StatementEntryRefused, match=refusal):
            statement_entry_assign(
                entry_id=mismatch.pk, invoice_id=invoice_id, reason="try", operator="fin"
            )
    mismatch.refresh_from_db()
    assert mismatch.state == "unmatched"
    assert not OperatorAction.objects.exists()


# The admin ----------------------------------------------------------------------------


def _upload(client, path, **fields):
    with path.open("rb") as file:
        return client.post(
            reverse("admin:invoices_statementimport_upload"),
            {"file": file, "file_format": "auto", "test_mode": "on", **fields},
        )


def test_finance_imports_a_statement_in_the_admin_and_resolves_what_waits(client):
    statement_world()
    client.force_login(operator_in_group("finance"))

    listed = client.get(reverse("admin:invoices_statementimport_changelist"))
    assert "Import a bank statement" in listed.content.decode()
    assert client.get(reverse("admin:invoices_statementimport_upload")).status_code == 200
    uploaded = _upload(client, CAMT053)
    assert uploaded.status_code == 302
    record = StatementImport.objects.get()
    assert record.imported_by == "operator:finance-operator"
    assert _counts(record) == (8, 4, 3, 1, 1)
    assert _state("order-full") == ("processed", Decimal("100.00"), "ok")

    unmatched = client.get(
        reverse("admin:invoices_statemententry_changelist"), {"state__exact": "unmatched"}
    )
    assert unmatched.content.decode().count("assign or dismiss") == 3

    resolve = reverse("admin:invoices_statemententry_resolve", args=[_entry("2026120400005").pk])
    assert client.get(resolve).status_code == 200
    refused = client.post(resolve, {"decision": "assign", "invoice_id": "", "reason": "r"})
    assert "Name the invoice" in refused.content.decode()
    dismissed = client.post(resolve, {"decision": "dismiss", "reason": "Refunded to Dora"})
    assert dismissed.status_code == 302
    entry = _entry("2026120400005")
    assert (entry.state, entry.resolved_by, entry.resolution_reason) == (
        "dismissed",
        "finance-operator",
        "Refunded to Dora",
    )

    two = reverse("admin:invoices_statemententry_resolve", args=[_entry("2026120400006").pk])
    invoice = shop_invoice("shared-ref")
    assigned = client.post(
        two, {"decision": "assign", "invoice_id": invoice.id, "reason": "Emil is ours"}
    )
    assert assigned.status_code == 302
    assert _state("shared-ref") == ("processed", Decimal("30.00"), "ok")

    # Garbage is a form error, never a 500.
    garbage = client.post(
        reverse("admin:invoices_statementimport_upload"),
        {"file": io.BytesIO(b"%PDF-1.7 not a statement"), "file_format": "auto"},
    )
    assert garbage.status_code == 200
    assert "Not a statement this reads" in garbage.content.decode()


def test_who_may_not_reconcile_gets_403_and_nothing_is_written(client):
    statement_world()
    _import(CAMT053)
    entry = _entry("2026120400005")
    for group in ("support", "viewer"):
        client.force_login(operator_in_group(group, username=f"{group}-op"))
        assert client.get(reverse("admin:invoices_statementimport_changelist")).status_code == 200
        listed = client.get(reverse("admin:invoices_statemententry_changelist"))
        assert listed.status_code == 200 and "assign or dismiss" not in listed.content.decode()
        assert client.get(reverse("admin:invoices_statementimport_upload")).status_code == 403
        assert _upload(client, CAMT054).status_code == 403
        resolve = reverse("admin:invoices_statemententry_resolve", args=[entry.pk])
        assert client.post(resolve, {"decision": "dismiss", "reason": "x"}).status_code == 403
    assert StatementImport.objects.count() == 1
    assert _state("order-note") == ("created", None, "ok")
    entry.refresh_from_db()
    assert entry.state == "unmatched"


def test_only_finance_and_admin_groups_may_reconcile():
    holders = set(
        Group.objects.filter(permissions__codename="reconcile_statement").values_list(
            "name", flat=True
        )
    )
    assert holders == {"finance", "admin"}


# The command ------------------------------------------------------------------------


def test_the_command_imports_a_file_and_prints_a_summary():
    statement_world()
    out = io.StringIO()
    call_command("import_statement", str(MT940), "--format", "mt940", "--test-mode", stdout=out)
    printed = out.getvalue()
    assert "(MT940, test mode)" in printed
    assert "6 credits read: 3 matched, 2 unmatched, 1 duplicates; 1 debits ignored" in printed
    assert "MT-20261204-01" in printed and "cpi_StmtMt9400000001" in printed
    assert _state("order-mt-full") == ("processed", Decimal("100.00"), "ok")

    out = io.StringIO()
    call_command("import_statement", str(MT940), "--test-mode", stdout=out)
    assert "0 matched, 0 unmatched, 6 duplicates" in out.getvalue()


def test_the_command_refuses_what_is_no_statement(tmp_path):
    not_a_statement = tmp_path / "notes.txt"
    not_a_statement.write_text("shopping list: milk, eggs")
    with pytest.raises(CommandError, match="is not a statement we read"):
        call_command("import_statement", str(not_a_statement))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_statement", str(tmp_path / "missing.xml"))
    with pytest.raises(CommandError, match="is not a statement we read: not well-formed XML"):
        call_command("import_statement", str(MT940), "--format", "camt")


# The merchant API -----------------------------------------------------------------------


def _post_statement(api, path, *, live=False, content_type="application/xml", **headers):
    return api.post(
        "/api/statements?file_name=" + path.name,
        path.read_bytes(),
        live=live,
        content_type=content_type,
        **headers,
    )


def test_a_merchant_imports_a_statement_and_settles_only_its_own_invoices():
    _service, shop, _other = statement_world()
    api = MerchantApi(shop)

    response = _post_statement(api, CAMT053)

    assert response.status_code == 201, response.content
    document = json.loads(response.content, parse_float=Decimal)["data"]
    assert document["type"] == "statement-imports"
    attributes = document["attributes"]
    assert attributes["file_format"] == "camt.053.001.02"
    assert attributes["test_mode"] is True
    # shared-ref has one candidate among this merchant's invoices: its own.
    assert [attributes[k] for k in ("entries_read", "matched", "unmatched", "duplicates")] == [
        8,
        5,
        2,
        1,
    ]
    by_reference = {(e["bank_reference"], e["duplicate"]): e for e in attributes["entries"]}
    assert by_reference[("2026120400003", False)]["overpaid"] is True
    assert by_reference[("2026120400006", False)]["invoice_id"] == shop_invoice("shared-ref").id
    assert by_reference[("2026120400001", True)]["state"] == "matched"
    assert _state("shared-ref") == ("processed", Decimal("30.00"), "ok")
    assert _state("shared-ref", "Other Shop") == ("created", None, "ok")
    assert StatementImport.objects.get().imported_by == f"merchant:{shop.account_id}"

    before = snapshot()
    again = _post_statement(api, CAMT053)
    assert again.status_code == 201
    assert again.json()["data"]["attributes"]["duplicates"] == 8
    assert snapshot() == before


def test_the_other_merchant_cannot_settle_the_shops_invoices():
    _service, _shop, other = statement_world()
    response = _post_statement(MerchantApi(other), CAMT053)
    assert response.status_code == 201
    attributes = response.json()["data"]["attributes"]
    assert attributes["matched"] == 1  # its own shared-ref only
    assert _state("shared-ref", "Other Shop") == ("processed", Decimal("30.00"), "ok")
    for reference_id in ("order-full", "order-short", "order-over", "order-late"):
        assert shop_invoice(reference_id).processed_amount is None


def test_a_live_key_settles_no_test_mode_invoice_and_a_test_key_no_live_one():
    _service, shop, _other = statement_world(test_mode=True)
    api = MerchantApi(shop)
    live = _post_statement(api, CAMT053, live=True)
    assert live.status_code == 201
    assert live.json()["data"]["attributes"]["matched"] == 0
    assert live.json()["data"]["attributes"]["test_mode"] is False
    assert _state("order-full") == ("created", None, "ok")

    test = _post_statement(api, CAMT053)
    assert test.json()["data"]["attributes"]["matched"] == 5


def test_the_statement_endpoint_refuses_bad_requests_with_json_errors(settings):
    _service, shop, _other = statement_world()
    api = MerchantApi(shop)
    wrong_key = basic_auth(shop.account_id, "sk_test_" + "x" * 32)

    def error(response):
        return response.status_code, response.json()["errors"][0]["code"]

    assert error(_post_statement(api, CAMT053, auth=False)) == (401, "unauthorized")
    assert error(_post_statement(api, CAMT053, HTTP_AUTHORIZATION=wrong_key)) == (
        401,
        "unauthorized",
    )
    assert error(_post_statement(api, CAMT053, content_type="application/json")) == (
        415,
        "unsupported_media_type",
    )
    assert error(api.post("/api/statements", b"<Document/>", content_type="text/xml")) == (
        422,
        "unreadable_statement",
    )
    assert error(api.post("/api/statements", b"garbage", content_type="text/plain")) == (
        422,
        "unreadable_statement",
    )
    # The test client drops the content type of an empty body; a real client sends it.
    empty = api.post("/api/statements", b"", content_type="text/plain", CONTENT_TYPE="text/plain")
    assert error(empty) == (
        422,
        "empty_statement",
    )
    settings.STATEMENT_MAX_BYTES = 1000
    assert error(_post_statement(api, CAMT053)) == (413, "body_too_large")
    assert not StatementImport.objects.exists()
    assert _state("order-full") == ("created", None, "ok")


# Callbacks ---------------------------------------------------------------------------


def test_a_statement_match_calls_the_merchant_back():
    receiver = CallbackReceiver()
    try:
        statement_world(callback_url=receiver.url)
        _import(CAMT054)
        invoice = shop_invoice("order-note")

        assert callback_delivery.invoice_callbacks_deliver(invoice_id=invoice.id) == 1

        (request,) = receiver.received
        attributes = json.loads(request.body, parse_float=Decimal)["data"]["attributes"]
        assert (attributes["status"], attributes["processed_amount"]) == (
            "processed",
            Decimal("75.00"),
        )
    finally:
        receiver.close()


def test_a_reference_id_names_its_order_and_pays_the_invoice_the_payer_was_shown_last():
    service, _, _ = statement_world()
    service.reissue_limit = 1
    service.save()
    expired = shop_invoice("order-note")
    invoice_move_status(
        invoice_id=expired.id,
        to_status="expired",
        resolution="expired",
        cause="expiry",
        actor=Actor("test"),
    )
    reissued = invoice_reissue(invoice_id=expired.id, actor=Actor("test"))

    result = _import(CAMT054)  # its 75.00 EUR credit names "order-note"

    assert _counts(result.statement_import) == (2, 1, 1, 0, 0)
    assert _entry("N2026120400042").invoice_id == reissued.id
    reissued.refresh_from_db()
    expired.refresh_from_db()
    assert (reissued.status, reissued.processed_amount) == ("processed", Decimal("75.00"))
    assert expired.status == "expired"  # not a late payment: the credit paid the new details
