"""Drop Django's LIKE twins of the invoice id and the callback's webhook id.

PostgreSQL's Django backend adds a `varchar_pattern_ops` index beside every
unique text column, for LIKE prefix searches. Nothing searches these two ids
by prefix (the API and the workers look them up by equality, which the unique
index answers; the admin's case-insensitive search is answered by neither), yet each twin was written on every invoice creation and every
callback. The names are the ones Django gave them: they depend only on the
table and the column.
"""

from django.db import migrations

TWINS = [
    ("invoices_invoice", "id", "invoices_invoice_id_1f662e2b_like"),
    (
        "invoices_callbackdelivery",
        "webhook_id",
        "invoices_callbackdelivery_webhook_id_3b6966d6_like",
    ),
]


def drop_twins(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in TWINS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_twins(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table, column, name in TWINS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} "
            f"({quote(column)} varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("invoices", "0009_drop_repeated_foreign_key_indexes")]

    operations = [migrations.RunPython(drop_twins, create_twins)]
