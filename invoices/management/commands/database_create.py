from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.local_setup import DatabaseSetupError, database_create_missing


class Command(BaseCommand):
    help = "Create the database DATABASE_URL names when it does not exist yet (make run calls it)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = database_create_missing(settings.DATABASES["default"])
        except DatabaseSetupError as error:
            raise CommandError(str(error)) from error
        if done:
            self.stdout.write(done[0].upper() + done[1:] + ".")
