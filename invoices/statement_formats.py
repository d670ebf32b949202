"""Bank statements read into plain data: ISO 20022 camt.052/053/054 and SWIFT MT940.

Pure code, no database: a file goes in, the credit entries of each account come
out. Debits, reversals and entries not yet booked are left out, since none of
them is a customer's payment. Anything that is not a statement of one of these
formats raises `StatementFormatError` with a reason an operator can act on.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import mt940
from lxml import etree

# lxml's documented element type (its API reference names it so, underscore and all).
from lxml.etree import _Element

from connectors.codes import PaymentCodeError
from connectors.codes.iban import normalize_iban

FORMATS = ("camt", "mt940")
_LARGEST_AMOUNT = Decimal(10) ** 16
_CURRENCY = re.compile(r"[A-Z]{3}")
_CAMT_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.\d\d$")
# The statement, report or notification of each camt message, below its Document.
_CAMT_REPORTS = ("BkToCstmrStmt/Stmt", "BkToCstmrAcctRpt/Rpt", "BkToCstmrDbtCdtNtfctn/Ntfctn")
_NOT_PROVIDED = "NOTPROVIDED"
# Where the MT940 parser leaves the :86: text: whole, or split into parts for German
# banks' structured form (`166?00GUTSCHRIFT?20EREF+...?21SVWZ+...`).
_MT940_TEXT_FIELDS = (
    "transaction_details",
    "purpose",
    "additional_purpose",
    "end_to_end_reference",
)


class StatementFormatError(ValueError):
    """Not a bank statement this code reads, and why."""


@dataclass(frozen=True)
class CreditEntry:
    """One payment received, as the bank reported it."""

    account_iban: str
    amount: Decimal
    currency: str
    booked_on: date | None
    # The bank's reference for this credit: unique per entry per account.
    bank_reference: str
    remittance_unstructured: str
    remittance_structured: tuple[str, ...]
    debtor_name: str


@dataclass(frozen=True)
class ParsedStatement:
    file_format: str  # "camt" or "mt940"
    message: str  # e.g. camt.053.001.02, or MT940
    entries: tuple[CreditEntry, ...]
    debits_ignored: int


def statement_parse(data: bytes, *, file_format: str = "auto") -> ParsedStatement:
    """The credit entries of a statement file; `file_format` is auto, camt or mt940."""
    if file_format not in ("auto", *FORMATS):
        raise StatementFormatError(f"unknown format {file_format!r}: use auto, camt or mt940")
    if file_format == "auto":
        file_format = "camt" if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "mt940"
    return _parse_camt(data) if file_format == "camt" else _parse_mt940(data)


def _account(text: str | None) -> str:
    """An IBAN in electronic format; other account ids upper-cased without spaces."""
    text = (text or "").strip()
    if not text:
        raise StatementFormatError("the statement names no account")
    try:
        return normalize_iban(text)
    except PaymentCodeError:
        return text.replace(" ", "").upper()


def _amount(text: str | None, where: str) -> Decimal:
    try:
        amount = Decimal((text or "").strip())
    except InvalidOperation:
        raise StatementFormatError(f"{where}: {text!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise StatementFormatError(f"{where}: the amount must be more than zero")
    # What an amount column keeps (4 fraction digits, 20 in all); no currency has more.
    exponent = amount.as_tuple().exponent  # an int: the amount is finite
    if (isinstance(exponent, int) and exponent < -4) or amount >= _LARGEST_AMOUNT:
        raise StatementFormatError(f"{where}: {text!r} is not an amount any currency has")
    return amount


def _currency(code: str | None, where: str) -> str:
    code = (code or "").strip()
    if not _CURRENCY.fullmatch(code):
        raise StatementFormatError(f"{where}: {code!r} is not an ISO 4217 currency code")
    return code


# ISO 20022 ---------------------------------------------------------------------------


def _parse_camt(data: bytes) -> ParsedStatement:
    # No network, no entities, no DTDs: a statement is plain data, never instructions.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise StatementFormatError(f"not well-formed XML: {error}") from None
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not _CAMT_NAMESPACE.match(namespace):
        raise StatementFormatError(
            "not an ISO 20022 camt.052, camt.053 or camt.054 document "
            f"(root {etree.QName(root).localname!r} in namespace {namespace or 'none'!r})"
        )
    ns = {"c": namespace}

    def find(node: _Element, path: str) -> _Element | None:
        return node.find("/".join(f"c:{step}" for step in path.split("/")), ns)

    def findall(node: _Element, path: str) -> list[_Element]:
        return node.findall("/".join(f"c:{step}" for step in path.split("/")), ns)

    def text(node: _Element | None, path: str) -> str:
        found = find(node, path) if node is not None else None
        return (found.text or "").strip() if found is not None else ""

    reports = [report for path in _CAMT_REPORTS for report in findall(root, path)]
    if not reports:
        raise StatementFormatError("the document holds no statement, report or notification")
    entries, debits = [], 0
    for report in reports:
        account = _account(text(report, "Acct/Id/IBAN") or text(report, "Acct/Id/Othr/Id"))
        for number, entry in enumerate(findall(report, "Ntry"), start=1):
            where = f"entry {number} of account {account}"
            status = text(entry, "Sts") or text(entry, "Sts/Cd")
            reversal = text(entry, "RvslInd").lower() in ("true", "1")
            if text(entry, "CdtDbtInd") != "CRDT" or reversal or status != "BOOK":
                debits += 1
                continue
            amount_node = find(entry, "Amt")
            if amount_node is None:
                raise StatementFormatError(f"{where}: no amount")
            currency = amount_node.get("Ccy", "")
            booked = _camt_date(text(entry, "BookgDt/Dt") or text(entry, "BookgDt/DtTm"), where)
            details = [tx for d in findall(entry, "NtryDtls") for tx in findall(d, "TxDtls")]
            for index, tx in enumerate(details or [None], start=1):
                batched = len(details) > 1
                if batched and tx is not None:  # several transactions: none is None
                    # Elements without children are falsy in lxml: compare with None.
                    tx_amount = find(tx, "Amt")
                    if tx_amount is None:
                        tx_amount = find(tx, "AmtDtls/TxAmt/Amt")
                    if tx_amount is None:
                        raise StatementFormatError(f"{where}: transaction {index} has no amount")
                else:
                    tx_amount = amount_node
                reference = (
                    text(tx, "Refs/AcctSvcrRef")
                    or (
                        text(entry, "AcctSvcrRef") + (f"/{index}" if batched else "")
                        if text(entry, "AcctSvcrRef")
                        else ""
                    )
                    or _provided(text(tx, "Refs/EndToEndId"))
                    or text(entry, "NtryRef")
                )
                if not reference:
                    raise StatementFormatError(
                        f"{where}: no bank reference (AcctSvcrRef, EndToEndId or NtryRef)"
                    )
                remittance = findall(tx, "RmtInf") if tx is not None else []
                unstructured = " ".join(
                    (node.text or "").strip() for r in remittance for node in findall(r, "Ustrd")
                )
                structured = tuple(
                    (node.text or "").strip()
                    for r in remittance
                    for node in findall(r, "Strd/CdtrRefInf/Ref")
                )
                entries.append(
                    CreditEntry(
                        account_iban=account,
                        amount=_amount(tx_amount.text, where),
                        currency=_currency(tx_amount.get("Ccy") or currency, where),
                        booked_on=booked,
                        bank_reference=reference,
                        remittance_unstructured=unstructured or text(entry, "AddtlNtryInf"),
                        remittance_structured=structured,
                        debtor_name=text(tx, "RltdPties/Dbtr/Nm")
                        or text(tx, "RltdPties/Dbtr/Pty/Nm"),
                    )
                )
    message = namespace.rsplit(":", 1)[-1]
    return ParsedStatement("camt", message, tuple(entries), debits)


def _provided(reference: str) -> str:
    return "" if reference.upper() == _NOT_PROVIDED else reference


def _camt_date(value: str, where: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise StatementFormatError(f"{where}: {value!r} is not a booking date") from None


# SWIFT MT940 ---------------------------------------------------------------------------


def _parse_mt940(data: bytes) -> ParsedStatement:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # SWIFT's character set is ASCII; some banks write Latin-1 names.
        text = data.decode("latin-1")
    if "\x00" in text:
        # No bank writes one, and the database could not keep it.
        raise StatementFormatError("not an MT940 statement: it holds NUL characters")
    if ":20:" not in text or ":61:" not in text and ":60F:" not in text:
        raise StatementFormatError(
            "not an MT940 statement (no :20: and :60F:/:61: fields) nor camt XML"
        )
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(text)
    except Exception as error:  # noqa: BLE001 (mt-940 raises plain exceptions of many kinds)
        raise StatementFormatError(f"not a readable MT940 statement: {error}") from None
    account = transactions.data.get("account_identification")
    entries, debits = [], 0
    for number, transaction in enumerate(transactions, start=1):
        details = transaction.data
        account = details.get("account_identification") or account
        where = f"transaction {number}"
        if details.get("status") != "C":  # D, and the reversals RC / RD
            debits += 1
            continue
        amount = details.get("amount")
        if amount is None:
            raise StatementFormatError(f"{where}: no amount")
        reference = (details.get("bank_reference") or "").strip() or _nonref(
            details.get("customer_reference")
        )
        if not reference:
            raise StatementFormatError(f"{where}: no bank reference in its :61: field")
        remittance = " ".join(
            str(details.get(name) or "").replace("\n", "") for name in _MT940_TEXT_FIELDS
        )
        debtor = str(details.get("applicant_name") or "").strip()
        booked = details.get("entry_date") or details.get("date")
        entries.append(
            CreditEntry(
                account_iban=_account(account),
                amount=_amount(str(amount.amount), where),
                currency=_currency(amount.currency or transactions.currency, where),
                booked_on=date(booked.year, booked.month, booked.day) if booked else None,
                bank_reference=reference,
                remittance_unstructured=" ".join(remittance.split()),
                remittance_structured=(),
                debtor_name=debtor,
            )
        )
    if not entries and not debits:
        raise StatementFormatError("the MT940 statement has no transactions")
    return ParsedStatement("mt940", "MT940", tuple(entries), debits)


def _nonref(reference: str | None) -> str:
    reference = (reference or "").strip()
    return "" if reference.upper() == "NONREF" else reference
