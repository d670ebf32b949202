"""Operators' permissions, and the record of what they did, append-only as the timeline.

PostgreSQL refuses UPDATE and DELETE of an operator action (TRUNCATE, which
only test teardown uses, still works); SQLite refuses UPDATE, as its test
teardown deletes rows (see 0002).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

POSTGRES_FORWARD = """
CREATE FUNCTION invoices_operator_action_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'operator actions are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_operator_action_append_only
    BEFORE UPDATE OR DELETE ON invoices_operatoraction
    FOR EACH ROW EXECUTE FUNCTION invoices_operator_action_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS invoices_operator_action_append_only ON invoices_operatoraction;
DROP FUNCTION IF EXISTS invoices_operator_action_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER invoices_operator_action_append_only
BEFORE UPDATE ON invoices_operatoraction
BEGIN
    SELECT RAISE(ABORT, 'operator actions are append-only (UPDATE refused)');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS invoices_operator_action_append_only;"


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        sql = statements_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0010_drop_like_twins_of_written_ids'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='invoice',
            options={'ordering': ['-created_at', '-id'], 'permissions': [('move_invoice_status', 'Can mark invoices paid, failed, expired or terminated'), ('resend_callback', 'Can resend callbacks to the merchant'), ('poll_provider', "Can ask the provider for an invoice's status now")]},
        ),
        migrations.AlterModelOptions(
            name='merchant',
            options={'ordering': ['name'], 'permissions': [('rotate_merchant_keys', "Can rotate a merchant's secret keys")]},
        ),
        migrations.CreateModel(
            name='OperatorAction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(max_length=32)),
                ('operator', models.CharField(max_length=150)),
                ('reason', models.CharField(max_length=500)),
                ('outcome', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('invoice', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='operator_actions', to='invoices.invoice')),
            ],
            options={
                'ordering': ['invoice', 'created_at', 'id'],
                'indexes': [models.Index(fields=['invoice', 'created_at'], name='operator_action_invoice')],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
