from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InvoicesConfig(AppConfig):
    name = "invoices"

    def ready(self):
        from invoices.operator_groups import sync_after_migrate

        # After Django's own receiver (connected first, as auth comes first in
        # INSTALLED_APPS) has created this app's permissions.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="operator_groups")
