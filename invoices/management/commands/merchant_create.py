import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from invoices.services import MerchantSetupError, merchant_create


class Command(BaseCommand):
    help = (
        "Create a merchant, switch services on for it and print its keys. "
        "The secret keys are shown this once; only their hashes are kept."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--callback-url", default="", help="Default callback URL.")
        parser.add_argument(
            "--services",
            help="Comma-separated service codes to switch on (default: every enabled service).",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        service_codes = options["services"].split(",") if options["services"] else None
        try:
            merchant, credentials = merchant_create(
                name=options["name"],
                callback_url=options["callback_url"],
                service_codes=service_codes,
            )
        except MerchantSetupError as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(credentials.as_dict()))
            return
        self.stdout.write(
            f"Merchant {merchant.name!r} created. Keep these keys safe: they are shown once."
        )
        for name, value in credentials.as_dict().items():
            self.stdout.write(f"  {name:16} {value}")
