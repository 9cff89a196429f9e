"""Proves the ledger's credit note for an accepted invoice claim: the granted gross amount is split over
the invoice's lines and into net and VAT that add up to it exactly (hand-worked on the seed's January
and as a property), it reduces the invoice's debt or returns a paid excess to the advance, never
credits more than the invoice charges, and keeps the month's act correctable by difference."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.invoicing.domain.credit_note import credit_lines, issue_credit_note
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.events import InvoiceIssued
from shared.errors import Conflict, NotFound, ValidationFailed
from tests.unit.test_account import Ledger, kzt

JANUARY = "INV-01/2021-85-2022-01"


def invoiced_january() -> Ledger:
    ledger = Ledger()
    ledger.invoice("ACT-1", "2022-01", "31000", date(2022, 2, 7))  # 470,456.00 (facts.md)
    return ledger


def test_credit_for_1000_kwh_splits_by_line_and_vat():
    ledger = invoiced_january()
    # the claim grants 1,000 kWh × 13.55 × 1.12 = 15,176.00 gross. Lines by gross weight:
    # cap tariff 371,070.00 + 44,528.40 = 415,598.40; RES 48,980.00 + 5,877.60 = 54,857.60 (sum 470,456.00)
    # shares: 15,176.00 × 415,598.40 / 470,456.00 = 13,406.40 and the rest 1,769.60
    # net = share / 1.12: 11,970.00 (VAT 1,436.40) and 1,580.00 (VAT 189.60)
    [note] = ledger.do(issue_credit_note, invoice_document=JANUARY, gross=kzt("15176.00"), issued_on=date(2022, 2, 20))
    assert isinstance(note, InvoiceIssued) and note.corrects_document == JANUARY
    assert [(line.component, line.net, line.vat) for line in note.lines] == [
        ("cap_tariff", kzt("-11970.00"), kzt("-1436.40")), ("res_surcharge", kzt("-1580.00"), kzt("-189.60"))]
    assert note.total == kzt("-15176.00")
    # 470,456.00 − 15,176.00 = 455,280.00 still owed; revenue falls by the net 13,550.00
    assert ledger.state.debt_total() == kzt("455280.00")
    assert ledger.balance(LedgerAccount.REVENUE_ENERGY) + ledger.balance(LedgerAccount.REVENUE_RES) == kzt("-406500.00")


def test_a_credit_after_payment_returns_to_the_advance_and_the_act_stays_correctable():
    ledger = invoiced_january()
    ledger.pay("B1", "470456.00", date(2022, 2, 10))
    ledger.do(issue_credit_note, invoice_document=JANUARY, gross=kzt("15176.00"), issued_on=date(2022, 2, 20))
    assert ledger.state.advance == kzt("15176.00") and ledger.state.debt_total() == kzt("0.00")
    # metering later corrects January to 30,000 kWh: the difference is taken against the month's charge
    # after the credit (455,280.00 = 30,000 × 13.55 × 1.12 = 455,280.00), so nothing more changes hands
    with pytest.raises(Conflict) as nothing:
        ledger.invoice("ACT-1/2", "2022-01", "30000", date(2022, 2, 25), corrects="ACT-1")
    assert nothing.value.reason == "correction_changes_nothing"
    # a correction to 29,000 kWh credits one more 1,000 kWh: 15,176.00 more in advance
    ledger.invoice("ACT-1/2", "2022-01", "29000", date(2022, 2, 25), corrects="ACT-1")
    assert ledger.state.advance == kzt("30352.00")


def test_credit_cannot_exceed_the_invoice_or_name_an_unknown_one():
    ledger = invoiced_january()
    with pytest.raises(ValidationFailed) as too_much:
        ledger.do(issue_credit_note, invoice_document=JANUARY, gross=kzt("470456.01"), issued_on=date(2022, 2, 20))
    assert too_much.value.reason == "credit_exceeds_invoice"
    with pytest.raises(NotFound) as unknown:
        ledger.do(issue_credit_note, invoice_document="INV-X", gross=kzt("1.00"), issued_on=date(2022, 2, 20))
    assert unknown.value.reason == "invoice_not_found"


@given(units=st.integers(min_value=1, max_value=47045600))
def test_credit_lines_add_up_exactly_and_stay_within_each_line(units):
    ledger = invoiced_january()
    charge = ledger.state.charges["ACT-1"][2]
    gross = kzt("0.01") * units
    credit = credit_lines(charge, gross)
    assert credit.total == -gross
    for line, original in zip(credit.lines, charge.lines, strict=True):
        assert -line.gross <= original.gross
        assert line.volume_kwh == Decimal(0)
