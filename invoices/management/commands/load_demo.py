from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from invoices.demo import DEMO_MERCHANT_NAME, demo_load


class Command(BaseCommand):
    help = "Create (or bring back) the demo services, merchant and admin login. Idempotent."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load the demo even with DJANGO_DEBUG=0 (it creates a known admin login).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("Refusing to load demo data with DJANGO_DEBUG=0.")
        demo = demo_load()
        base = settings.PUBLIC_BASE_URL
        password = demo.admin_password or "(unchanged since it was created)"
        merchant = demo.merchant
        self.stdout.write(
            "\n".join(
                [
                    "Demo data loaded.",
                    f"  Admin:            {base}/admin/  login {demo.admin_username} / {password}",
                    f"  Demo merchant:    {DEMO_MERCHANT_NAME}",
                    f"    account_id      {merchant.account_id}",
                    f"    secret_key_test {merchant.secret_key_test}",
                    f"    public_key_test {merchant.public_key_test}",
                    f"    webhook_secret  {merchant.webhook_secret}",
                    "  Try the hosted checkout (method selection, then the invoice page):",
                    f"    {base}{reverse('hpp')}?public_key={merchant.public_key_test}"
                    "&amount=150.00&currency=UAH&reference_id=demo-checkout-1",
                    f"  API docs:         {base}/api/docs",
                ]
            )
        )
