import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.local_setup import env_file_update, environment_values, url_for_display


class Command(BaseCommand):
    help = (
        "Keep the named variables, as this command sees them, in the .env file that settings"
        " read, so manage.py, the worker and the server agree (make run calls it)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("names", nargs="+", help="variables to keep, e.g. DATABASE_URL PORT")

    def handle(self, *args: Any, names: list[str], **options: Any) -> None:
        if not settings.ENV_FILE:
            raise CommandError("ENV_FILE is empty: there is no .env file to write.")
        try:
            changed = env_file_update(
                Path(settings.ENV_FILE), environment_values(names, os.environ)
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        if changed:
            shown = ", ".join(f"{name}={url_for_display(value)}" for name, value in changed.items())
            self.stdout.write(
                f"Saved to {settings.ENV_FILE}: {shown}. Every command here reads it;"
                " a variable you set wins."
            )
