"""Providers' secrets per service, encrypted; provider events tied to the service they came for.

No data to move: a service without stored secrets keeps using the PROVIDER_HTTP_*
settings, and events received before this stay connector-wide (service null).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0016_statements'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='providerevent',
            name='provider_event_unique',
        ),
        migrations.AddField(
            model_name='providerevent',
            name='service',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='invoices.service'),
        ),
        migrations.AddField(
            model_name='service',
            name='connector_secrets',
            field=models.TextField(blank=True, db_default='', default='', editable=False),
        ),
        migrations.AddConstraint(
            model_name='providerevent',
            constraint=models.UniqueConstraint(condition=models.Q(('service__isnull', True)), fields=('connector', 'event_id'), name='provider_event_unique'),
        ),
        migrations.AddConstraint(
            model_name='providerevent',
            constraint=models.UniqueConstraint(condition=models.Q(('service__isnull', False)), fields=('service', 'event_id'), name='provider_event_unique_per_service'),
        ),
    ]
