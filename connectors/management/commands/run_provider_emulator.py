from argparse import ArgumentParser
from typing import Any, TypedDict

from django.conf import settings
from django.core.management.base import BaseCommand

from connectors.emulator import SECOND_PROVIDER, serve


class _Provider(TypedDict):
    port: int
    api_key: str
    notify_secret: str


class Command(BaseCommand):
    help = "Run the payment provider emulator that the `http` connector talks to."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--second",
            action="store_true",
            help="Be the second provider: PROVIDER_EMULATOR_2_PORT and the credentials of"
            " connectors.emulator.SECOND_PROVIDER, as the demo's second http service expects.",
        )
        parser.add_argument("--port", type=int, help="default: PROVIDER_EMULATOR_PORT")
        parser.add_argument("--api-key", help="default: PROVIDER_HTTP_API_KEY")
        parser.add_argument("--notify-secret", help="default: PROVIDER_HTTP_NOTIFY_SECRET")

    def handle(self, *args: Any, **options: Any) -> None:
        defaults: _Provider
        if options["second"]:
            defaults = {
                "port": settings.PROVIDER_EMULATOR_2_PORT,
                "api_key": SECOND_PROVIDER["api_key"],
                "notify_secret": SECOND_PROVIDER["notify_secret"],
            }
        else:
            defaults = {
                "port": settings.PROVIDER_EMULATOR_PORT,
                "api_key": settings.PROVIDER_HTTP_API_KEY,
                "notify_secret": settings.PROVIDER_HTTP_NOTIFY_SECRET,
            }
        server = serve(
            host=options["host"],
            port=options["port"] or defaults["port"],
            api_key=options["api_key"] or defaults["api_key"],
            notify_secret=options["notify_secret"] or defaults["notify_secret"],
        )
        host, port = server.server_address[:2]
        # An AF_INET socket names its host as str; typeshed also allows the bytes of others.
        assert isinstance(host, str)
        self.stdout.write(f"Provider emulator listening on http://{host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
