"""Reading bank statements: the files validate against ISO 20022's published schemas,
every credit comes out as plain data, and what is not a statement says why."""

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from invoices.statement_formats import StatementFormatError, statement_parse
from tests.statements import CAMT053, CAMT054, DATA, MT940


@pytest.mark.parametrize(
    ("statement", "schema"),
    [(CAMT053, "camt.053.001.02.xsd"), (CAMT054, "camt.054.001.02.xsd")],
)
def test_the_camt_files_validate_against_the_published_iso_20022_schema(statement, schema):
    validator = etree.XMLSchema(etree.parse(DATA / schema))
    assert validator.validate(etree.parse(statement)), validator.error_log


def test_camt053_credits_come_out_and_debits_stay_out():
    parsed = statement_parse(CAMT053.read_bytes())
    assert (parsed.file_format, parsed.message, parsed.debits_ignored) == (
        "camt",
        "camt.053.001.02",
        1,
    )
    assert len(parsed.entries) == 8
    first = parsed.entries[0]
    assert first.account_iban == "DE89370400440532013000"
    assert (first.amount, first.currency, first.booked_on) == (
        Decimal("100.00"),
        "EUR",
        date(2026, 12, 4),
    )
    assert first.bank_reference == "2026120400001"
    assert first.remittance_structured == ("RF873AWVWQPL95MMKU9G2BH",)
    assert first.debtor_name == "Anna Muster"
    assert parsed.entries[1].remittance_unstructured.startswith("Teilzahlung RF37 3AWV")


def test_camt054_and_mt940_credits():
    notification = statement_parse(CAMT054.read_bytes())
    assert notification.message == "camt.054.001.02"
    assert [(e.bank_reference, e.currency) for e in notification.entries] == [
        ("N2026120400042", "EUR"),
        ("N2026120400043", "USD"),
    ]
    mt940 = statement_parse(MT940.read_bytes())
    assert (mt940.message, len(mt940.entries), mt940.debits_ignored) == ("MT940", 6, 1)
    assert mt940.entries[0].bank_reference == "MT-20261204-01"
    assert mt940.entries[0].account_iban == "DE89370400440532013000"
    assert mt940.entries[1].remittance_unstructured.startswith("Order order-mt-short")
    assert mt940.entries[2].amount == Decimal("60.00")


def _camt(version: str, entry: str) -> bytes:
    return f"""<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"><BkToCstmrStmt>
<GrpHdr><MsgId>1</MsgId></GrpHdr><Stmt><Acct><Id><IBAN>DE89 3704 0044 0532 0130 00</IBAN></Id>
</Acct>{entry}</Stmt></BkToCstmrStmt></Document>""".encode()


def test_a_day_without_movements_is_an_empty_statement():
    parsed = statement_parse(_camt("02", ""))
    assert (parsed.entries, parsed.debits_ignored) == ((), 0)


def test_a_later_camt_version_and_a_batch_booking_are_read():
    # Version 8 writes the status as <Sts><Cd>, the debtor under <Pty>; one booking
    # carries two transfers, each with its own amount.
    batch = """<Ntry><Amt Ccy="EUR">30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><DtTm>2026-12-04T10:00:00+01:00</DtTm></BookgDt><AcctSvcrRef>B-1</AcctSvcrRef>
<NtryDtls><TxDtls><Amt Ccy="EUR">10.00</Amt><RltdPties><Dbtr><Pty><Nm>One</Nm></Pty></Dbtr>
</RltdPties><RmtInf><Ustrd>first</Ustrd></RmtInf></TxDtls><TxDtls><Refs><AcctSvcrRef>B-1-2
</AcctSvcrRef></Refs><Amt Ccy="EUR">20.00</Amt></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
<AcctSvcrRef>P-1</AcctSvcrRef></Ntry>"""
    parsed = statement_parse(_camt("08", batch))
    assert parsed.message == "camt.053.001.08"
    assert [(e.bank_reference, e.amount, e.debtor_name) for e in parsed.entries] == [
        ("B-1/1", Decimal("10.00"), "One"),
        ("B-1-2", Decimal("20.00"), ""),
    ]
    assert parsed.entries[0].booked_on == date(2026, 12, 4)
    assert parsed.debits_ignored == 1  # not booked yet: no payment until it is


@pytest.mark.parametrize(
    ("data", "file_format", "reason"),
    [
        (b"", "auto", "not an MT940"),
        (b"%PDF-1.7", "auto", "not an MT940"),
        (b"<html><body>statement</body></html>", "auto", "not an ISO 20022 camt"),
        (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.03'/>", "auto", "camt"),
        (b"<Document", "camt", "not well-formed XML"),
        (b'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>', "auto", "camt"),
        (
            b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
            b"<BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>",
            "auto",
            "no statement",
        ),
        (
            _camt(
                "02",
                '<Ntry><Amt Ccy="EUR">x</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
                "<AcctSvcrRef>1</AcctSvcrRef></Ntry>",
            ),
            "auto",
            "is not an amount",
        ),
        (
            _camt(
                "02",
                '<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>',
            ),
            "auto",
            "no bank reference",
        ),
        (b":20:X\n:25:DE89370400440532013000\n:60F:C261203EUR1,00\n", "mt940", "no transactions"),
        (MT940.read_bytes().replace(b"Order shared-ref", b"Order\x00"), "auto", "NUL"),
        (
            _camt(
                "02",
                '<Ntry><Amt Ccy="EUR">1.00001</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                "<Sts>BOOK</Sts><AcctSvcrRef>1</AcctSvcrRef></Ntry>",
            ),
            "auto",
            "not an amount any currency has",
        ),
        (
            _camt(
                "02",
                '<Ntry><Amt Ccy="EURO">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                "<Sts>BOOK</Sts><AcctSvcrRef>1</AcctSvcrRef></Ntry>",
            ),
            "auto",
            "not an ISO 4217 currency code",
        ),
        (
            _camt("02", "<Ntry><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>"),
            "auto",
            "no amount",
        ),
        (CAMT053.read_bytes(), "mt940", "not an MT940"),
        (MT940.read_bytes(), "csv", "unknown format"),
    ],
)
def test_what_is_not_a_statement_says_why(data, file_format, reason):
    with pytest.raises(StatementFormatError, match=reason):
        statement_parse(data, file_format=file_format)
