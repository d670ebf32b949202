from django.conf import settings
from django.core.management.base import BaseCommand

from connectors.emulator import serve


class Command(BaseCommand):
    help = "Run the payment provider emulator that the `http` connector talks to."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PROVIDER_EMULATOR_PORT)

    def handle(self, *args, **options):
        server = serve(
            host=options["host"],
            port=options["port"],
            api_key=settings.PROVIDER_HTTP_API_KEY,
            notify_secret=settings.PROVIDER_HTTP_NOTIFY_SECRET,
        )
        host, port = server.server_address[:2]
        self.stdout.write(f"Provider emulator listening on http://{host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
