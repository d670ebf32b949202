"""PostgreSQL announces changes to the rows web processes keep copies of.

Each web process keeps copies of invoices and of the catalog (merchants,
services and which merchant may use which) that it read, and drops them when
the database says they changed (`invoices.local_copies`). Triggers send the
announcement, so every write is heard whoever makes it: the state machine,
the admin, a management command or a hand-written UPDATE.

An invoice announces its id when it is deleted or an UPDATE sets any of its
columns but the bookkeeping ones that nothing shown reads (the polling
schedule and the callbacks lease, written on every delivery and poll).
`UPDATE OF <columns>` decides from the statement alone: comparing the old
and new rows instead cost every lease update about 150 µs. Inserts announce
nothing: no process can hold a copy of a row that did not exist. Any change to the
catalog, and a TRUNCATE of any of these tables, announces that everything
changed. The announcement is delivered when the transaction commits, and
never if it rolls back.
"""

from django.db import migrations

CHANNEL = "invoices_row_changes"
# Every column of the invoice but the bookkeeping ones (next_poll_at, poll_attempts,
# callbacks_lease_until). A migration adding a column adds it here too: a test
# compares this list with the model.
SHOWN_INVOICE_COLUMNS = (
    "id, merchant_id, service_id, connector, reference_id, test_mode, status, resolution,"
    " resolution_message, sequence, amount, currency, payment_amount, processed_amount,"
    " description, descriptor, customer, metadata, callback_url, return_url, return_urls,"
    " locale, options, requisites, provider_reference, is_otp_flow, confirmation_schema_json,"
    " confirmation_required, checkout_page, confirmation_payload, confirmed_at,"
    " confirmation_failures, created_at, updated_at, processed_at, expires_at"
)
CATALOG_TABLES = ("invoices_merchant", "invoices_service", "invoices_merchantservice")

FORWARD = f"""
CREATE FUNCTION invoices_announce_invoice_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', 'invoice:' || OLD.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION invoices_announce_everything_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '*');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_invoice_updated
    AFTER UPDATE OF {SHOWN_INVOICE_COLUMNS} ON invoices_invoice FOR EACH ROW
    EXECUTE FUNCTION invoices_announce_invoice_change();
CREATE TRIGGER invoices_invoice_deleted
    AFTER DELETE ON invoices_invoice FOR EACH ROW
    EXECUTE FUNCTION invoices_announce_invoice_change();
CREATE TRIGGER invoices_invoice_truncated
    AFTER TRUNCATE ON invoices_invoice FOR EACH STATEMENT
    EXECUTE FUNCTION invoices_announce_everything_changed();
""" + "".join(
    f"""
CREATE TRIGGER {table}_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT
    EXECUTE FUNCTION invoices_announce_everything_changed();
"""
    for table in CATALOG_TABLES
)

BACKWARD = (
    "".join(f"DROP TRIGGER IF EXISTS {table}_changed ON {table};\n" for table in CATALOG_TABLES)
    + """
DROP TRIGGER IF EXISTS invoices_invoice_truncated ON invoices_invoice;
DROP TRIGGER IF EXISTS invoices_invoice_deleted ON invoices_invoice;
DROP TRIGGER IF EXISTS invoices_invoice_updated ON invoices_invoice;
DROP FUNCTION IF EXISTS invoices_announce_everything_changed();
DROP FUNCTION IF EXISTS invoices_announce_invoice_change();
"""
)


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("invoices", "0007_callback_invoice_pending")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
