from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InvoicesConfig(AppConfig):
    name = "invoices"

    def ready(self) -> None:
        from invoices import catalog
        from invoices.operator_groups import sync_after_migrate

        catalog.connect()

        # After Django's own receiver (connected first, as auth comes first in
        # INSTALLED_APPS) has created this app's permissions.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="operator_groups")
        # The admin login's failure counts live in a database cache table when there is
        # no Redis: `migrate` makes it, so no deployment can forget a separate command.
        post_migrate.connect(create_cache_tables, sender=self, dispatch_uid="cache_tables")


def create_cache_tables(
    sender: AppConfig, *, using: str, verbosity: int = 1, **kwargs: object
) -> None:
    """Every DatabaseCache table that does not exist yet (there is none with Redis)."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=verbosity)
