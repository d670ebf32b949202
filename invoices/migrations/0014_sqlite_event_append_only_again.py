"""The timeline's append-only trigger on SQLite, again.

SQLite cannot alter a column in place: migration 0009 rebuilt the events
table to drop an index, and a rebuilt table loses its triggers. PostgreSQL
altered the table in place and kept its own.
"""

from django.db import migrations

SQLITE_FORWARD = """
CREATE TRIGGER IF NOT EXISTS invoices_event_append_only
BEFORE UPDATE ON invoices_invoiceevent
BEGIN
    SELECT RAISE(ABORT, 'invoice events are append-only (UPDATE refused)');
END;
"""


def restore_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0013_invoice_provider_polled")]

    operations = [migrations.RunPython(restore_on_sqlite, migrations.RunPython.noop)]
