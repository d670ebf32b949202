"""Drop the change announcements of 0008: no process keeps copies of rows any more.

The copies they kept current were dropped with `invoices.local_copies`: their
LISTEN connection does not pass through a transaction-mode pooler such as
PgBouncer, and writes made with triggers disabled (`pg_restore
--disable-triggers`, `session_replication_role = replica`) were never
announced, leaving copies stale for minutes.
"""

from django.db import migrations

CATALOG_TABLES = ("invoices_merchant", "invoices_service", "invoices_merchantservice")

DROP = "".join(
    f"DROP TRIGGER IF EXISTS {table}_changed ON {table};\n" for table in CATALOG_TABLES
) + """
DROP TRIGGER IF EXISTS invoices_invoice_truncated ON invoices_invoice;
DROP TRIGGER IF EXISTS invoices_invoice_deleted ON invoices_invoice;
DROP TRIGGER IF EXISTS invoices_invoice_updated ON invoices_invoice;
DROP FUNCTION IF EXISTS invoices_announce_everything_changed();
DROP FUNCTION IF EXISTS invoices_announce_invoice_change();
"""


def _drop_on_postgresql(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0011_operator_permissions_and_actions")]

    # Going back recreates nothing: 0008's announcements served only the removed copies.
    operations = [migrations.RunPython(_drop_on_postgresql, migrations.RunPython.noop)]
