from typing import Any

from django.core.management.base import BaseCommand

from invoices import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every service's connector secrets with the first key of"
        " CONNECTOR_SECRETS_KEY; afterwards the keys behind it may be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = services.service_secrets_reseal()
        self.stdout.write(f"Re-encrypted the connector secrets of {count} service(s).")
