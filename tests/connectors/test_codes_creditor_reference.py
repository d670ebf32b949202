"""ISO 11649 RF creditor references: the published examples, and each invoice's own."""

import pytest
from stdnum import iso11649

from connectors.codes import PaymentCodeError
from connectors.codes.creditor_reference import (
    creditor_reference,
    creditor_references_in,
    invoice_creditor_reference,
    invoice_id_from_creditor_reference,
)
from connectors.registry import get_connector
from tests.connectors.test_static import INVOICE, _issue


@pytest.mark.parametrize(
    ("body", "reference"),
    [
        # ISO 11649's own examples (also those of the EPC's SEPA remittance guidance).
        ("539007547034", "RF18539007547034"),
        ("000000000539007547034", "RF18000000000539007547034"),
        ("5390 0754 7034", "RF18539007547034"),
    ],
)
def test_the_published_examples(body, reference):
    assert creditor_reference(body) == reference
    assert iso11649.is_valid(reference)


@pytest.mark.parametrize("body", ["", "x" * 22, "ÄÖÜ", "12-34"])
def test_a_body_iso_11649_forbids_is_refused(body):
    with pytest.raises(PaymentCodeError):
        creditor_reference(body)


def test_each_invoice_id_has_its_own_reference_and_back():
    ids = [
        "cpi_Ab12Cd34Ef56Gh78",
        "cpi_aB12Cd34Ef56Gh78",
        "cpi_0000000000000000",
        "cpi_" + "9" * 16,
    ]
    references = [invoice_creditor_reference(invoice_id) for invoice_id in ids]
    # Ids that differ only in case differ as references, though banks upper-case them.
    assert len(set(references)) == len(ids)
    for invoice_id, reference in zip(ids, references, strict=True):
        assert len(reference) == 23 and iso11649.is_valid(reference)
        assert invoice_id_from_creditor_reference(reference) == invoice_id
        assert invoice_id_from_creditor_reference(reference.lower()) == invoice_id
        assert invoice_id_from_creditor_reference(iso11649.format(reference)) == invoice_id


def test_a_mistyped_reference_names_no_invoice():
    reference = invoice_creditor_reference("cpi_Ab12Cd34Ef56Gh78")
    for position in range(4, len(reference)):
        digit = "7" if reference[position] != "7" else "8"
        typo = reference[:position] + digit + reference[position + 1 :]
        assert invoice_id_from_creditor_reference(typo) is None, typo
    swapped = reference[:5] + reference[6] + reference[5] + reference[7:]
    if swapped != reference:
        assert invoice_id_from_creditor_reference(swapped) is None
    # Somebody else's valid RF is no invoice of ours.
    assert invoice_id_from_creditor_reference("RF18539007547034") is None


def test_references_are_found_in_free_text_as_payers_write_them():
    ours = invoice_creditor_reference("cpi_Ab12Cd34Ef56Gh78")
    text = f"Rechnung {iso11649.format(ours)}, danke; auch (rf18539007547034). RF19539007547034"
    assert creditor_references_in(text) == [ours, "RF18539007547034"]
    assert creditor_references_in("no reference here, RF alone, RF1") == []


def test_bank_transfer_requisites_carry_the_reference_and_the_purpose_may_quote_it():
    settings = {
        "requisites": {
            "receiver_name": "Demo Shop GmbH",
            "iban": "DE89370400440532013000",
            "purpose": "{creditor_reference} Order {reference_id}",
        },
        "national_qr": "epc",
    }
    requisites = _issue("invoice", settings, currency="EUR")
    reference = invoice_creditor_reference(INVOICE.id)
    assert requisites["creditor_reference"] == reference
    assert requisites["purpose"] == f"{reference} Order order-77"
    assert f"\n{reference} Order order-77" in requisites["qr_code"]
    assert (
        get_connector("static").settings_problems(settings=settings, display_kind="invoice") == []
    )
