"""The timeline is append-only, and the database says so.

PostgreSQL refuses UPDATE and DELETE on invoice events (TRUNCATE, which only
test teardown uses, still works). SQLite refuses UPDATE; its test teardown
deletes rows, so DELETE stays allowed there.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE FUNCTION invoices_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'invoice events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_event_append_only
    BEFORE UPDATE OR DELETE ON invoices_invoiceevent
    FOR EACH ROW EXECUTE FUNCTION invoices_event_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS invoices_event_append_only ON invoices_invoiceevent;
DROP FUNCTION IF EXISTS invoices_event_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER invoices_event_append_only
BEFORE UPDATE ON invoices_invoiceevent
BEGIN
    SELECT RAISE(ABORT, 'invoice events are append-only (UPDATE refused)');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS invoices_event_append_only;"


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        sql = statements_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("invoices", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
