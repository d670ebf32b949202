from django.core.management.base import BaseCommand, CommandError

from invoices import status_cache
from invoices.selectors import INVOICE_ID_PATTERN


class Command(BaseCommand):
    help = (
        "After a status was written outside the state machine (a data fix in psql, a "
        "queryset update), make the checkout's status polls read these invoices' rows now "
        "instead of within STATUS_CACHE_SECONDS."
    )

    def add_arguments(self, parser):
        parser.add_argument("invoice_ids", nargs="+", metavar="INVOICE_ID")

    def handle(self, *args, invoice_ids, **options):
        malformed = [value for value in invoice_ids if not INVOICE_ID_PATTERN.match(value)]
        if malformed:
            raise CommandError(f"Not invoice ids: {', '.join(malformed)}")
        dropped = status_cache.forget(invoice_ids)
        self.stdout.write(f"{dropped} cached status(es) dropped; polls read the database now.")
