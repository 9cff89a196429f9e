"""Proves two pure rules on the seed contract, figures derived by hand beside them: §5.6 a discrepancy between the
buyer's books and the month's reconciliation act is recorded with its cause and the corrections that settle it
(what they leave open, settled when nothing), refused when the month is not over, the figures agree or do not add
up; and aging on a past day rebuilt from the events counts money by its value date and charges from their issue,
whatever the ledger booked later (§5.8 applied to that day's money)."""

from __future__ import annotations

from datetime import date

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain.aging import open_as_of
from services.invoicing.domain.reconciliation import record_discrepancy
from services.invoicing.events import ActFigures, ReconciliationCorrection
from shared.errors import Conflict, ValidationFailed
from tests.unit.test_account import Ledger, kzt


def figures(opening: str, charged: str, paid: str, closing: str) -> ActFigures:
    return ActFigures(opening_balance=kzt(opening), charged=kzt(charged), paid_or_credited=kzt(paid),
                      closing_balance=kzt(closing))


# January 2022 as the act draws it: the invoice 470,456.00 dated 31 Jan (its ESF), 400,000.00 paid 28 Jan:
# 0 + 470,456.00 − 400,000.00 = 70,456.00
SELLER = figures("0.00", "470456.00", "400000.00", "70456.00")
# the buyer booked its payment order on 1 Feb: 0 + 470,456.00 − 0 = 470,456.00
BUYER = figures("0.00", "470456.00", "0.00", "470456.00")


def test_a_discrepancy_is_recorded_with_its_cause_and_the_corrections_that_settle_it():
    ledger = Ledger()
    by_value_date = ReconciliationCorrection(side="buyer", document="п/п 123 от 28.01.2022", amount=kzt("-400000.00"),
                                             description="payment order booked on its value date")
    [event] = record_discrepancy(ledger.state, month="2022-01", seller=SELLER, buyer=BUYER,
                                 cause="the buyer booked the payment on 1 Feb", corrections=[by_value_date],
                                 recorded_on=date(2022, 2, 10))
    # 70,456.00 − 470,456.00 = −400,000.00; the buyer's −400,000.00 brings it to 70,456.00: nothing left open
    assert event.difference == kzt("-400000.00")
    assert (event.open_difference, event.settled) == (kzt("0.00"), True)

    part = by_value_date.model_copy(update={"amount": kzt("-300000.00")})
    [partly] = record_discrepancy(ledger.state, month="2022-01", seller=SELLER, buyer=BUYER, cause="traced",
                                  corrections=[part], recorded_on=date(2022, 2, 10))
    # 70,456.00 − (470,456.00 − 300,000.00) = −100,000.00 still open
    assert (partly.open_difference, partly.settled) == (kzt("-100000.00"), False)
    [none_yet] = record_discrepancy(ledger.state, month="2022-01", seller=SELLER, buyer=BUYER, cause="traced",
                                    corrections=[], recorded_on=date(2022, 2, 10))
    assert (none_yet.open_difference, none_yet.settled) == (kzt("-400000.00"), False)


@pytest.mark.parametrize(("buyer", "recorded_on", "error", "reason"), [
    (BUYER, date(2022, 1, 31), Conflict, "month_not_over"),
    (SELLER, date(2022, 2, 10), Conflict, "no_discrepancy"),
    # 0 + 470,456.00 − 0 is not 470,000.00
    (figures("0.00", "470456.00", "0.00", "470000.00"), date(2022, 2, 10), ValidationFailed, "figures_do_not_add_up"),
    (figures("0.00", "-1.00", "0.00", "-1.00"), date(2022, 2, 10), ValidationFailed, "negative_turnover"),
])
def test_a_discrepancy_is_refused_with_its_reason(buyer, recorded_on, error, reason):
    with pytest.raises(error) as refused:
        record_discrepancy(Ledger().state, month="2022-01", seller=SELLER, buyer=buyer, cause="traced",
                           corrections=[], recorded_on=recorded_on)
    assert refused.value.reason == reason


def test_aging_counts_money_by_its_value_date_and_charges_from_their_issue():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # 470,456.00 due 8 Feb
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 2))   # 379,400.00 due 10 Mar (8 Mar a holiday)
    # 500,000.00 valued 10 Feb, booked 5 Mar: the ledger applied it to both invoices then
    ledger.do(acc.receive_payment, payment_id="p-1", bank_reference="B-1", amount=kzt("500000.00"),
              received_on=date(2022, 2, 10), posted_on=date(2022, 3, 5), payer=None, purpose=None)

    def aged(day: date) -> list[tuple[str, str, date, str]]:
        return [(i.document, i.kind, i.due_date, str(i.open.amount))
                for i in open_as_of([(day, e) for e in ledger.events], day, "KZT")]

    # 9 Feb: January's 420,050.00 + 50,406.00 open, nothing valued yet
    assert aged(date(2022, 2, 9)) == [("INV-01/2021-85-2022-01", "energy", date(2022, 2, 8), "420050.00"),
                                      ("INV-01/2021-85-2022-01", "vat", date(2022, 2, 8), "50406.00")]
    # 1 Mar: the 500,000.00 valued 10 Feb paid January; February's invoice is not issued yet: nothing open
    assert aged(date(2022, 3, 1)) == []
    # 3 Mar: February's 379,400.00 less what was left, 500,000.00 − 470,456.00 = 29,544.00, off its energy first:
    # 338,750.00 − 29,544.00 = 309,206.00, VAT 40,650.00
    assert aged(date(2022, 3, 3)) == [("INV-01/2021-85-2022-02", "energy", date(2022, 3, 10), "309206.00"),
                                      ("INV-01/2021-85-2022-02", "vat", date(2022, 3, 10), "40650.00")]
