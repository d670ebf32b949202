import getpass
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from invoices.statements import StatementFormatError, statement_import


class Command(BaseCommand):
    help = (
        "Import a bank statement (camt.053/camt.054 XML or MT940): its credits settle "
        "invoices of static services paid into the statement's account, each credit once; "
        "what matches nothing waits in the admin's unmatched list."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="The statement file.")
        parser.add_argument("--format", choices=["auto", "camt", "mt940"], default="auto")
        parser.add_argument(
            "--test-mode",
            action="store_true",
            help="Settle test-mode invoices (a sample statement); without it, live ones.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            with path.open("rb") as file:
                data = file.read(settings.STATEMENT_MAX_BYTES + 1)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        if len(data) > settings.STATEMENT_MAX_BYTES:
            raise CommandError(f"{path} is over {settings.STATEMENT_MAX_BYTES} bytes.")
        try:
            result = statement_import(
                data=data,
                file_name=path.name,
                file_format=options["format"],
                imported_by=f"command:{getpass.getuser()}",
                test_mode=options["test_mode"],
            )
        except StatementFormatError as error:
            raise CommandError(f"{path} is not a statement we read: {error}") from None
        record = result.statement_import
        self.stdout.write(
            f"Statement import {record.pk}: {record.file_name} ({record.file_format}, "
            f"{'test' if record.test_mode else 'live'} mode)"
        )
        self.stdout.write(
            f"  {record.entries_read} credits read: {record.matched} matched, "
            f"{record.unmatched} unmatched, {record.duplicates} duplicates; "
            f"{record.debits_ignored} debits ignored"
        )
        for entry in result.entries:
            self.stdout.write(
                f"  {entry.bank_reference:24} {entry.amount:>12} {entry.currency} "
                f"{'duplicate' if entry.duplicate else entry.state:10} "
                f"{entry.invoice_id or '-':20} {entry.outcome}"
            )
