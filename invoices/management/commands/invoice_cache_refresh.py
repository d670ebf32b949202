from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from invoices import read_models
from invoices.selectors import INVOICE_ID_PATTERN


class Command(BaseCommand):
    help = (
        "After a status was written outside the state machine (a data fix in psql, a "
        "queryset update), make the API, the hosted pages and their status polls read these "
        "invoices' rows now instead of within READ_MODEL_SECONDS."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("invoice_ids", nargs="+", metavar="INVOICE_ID")

    def handle(self, *args: Any, invoice_ids: list[str], **options: Any) -> None:
        malformed = [value for value in invoice_ids if not INVOICE_ID_PATTERN.match(value)]
        if malformed:
            raise CommandError(f"Not invoice ids: {', '.join(malformed)}")
        dropped = read_models.forget(invoice_ids)
        self.stdout.write(f"{dropped} read model(s) dropped; readers use the database now.")
