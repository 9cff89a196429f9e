"""Proves §5.3's re-issue of a prepayment demand, figures derived by hand: a day's application decided before
the block's due date (by the decision's business date; the due date itself included) re-issues the block's
demand by the difference (`invoicing.PrepaymentAdjusted`: more to prepay, or less for a day of no purchase);
a second decision on the same block starts from the adjusted amount; after the due date, for a day no demand
covers, or when nothing changes, nothing is recorded; coverage and aging count the adjusted amount."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson

from services.invoicing.domain import account as acc
from services.invoicing.domain import aging
from services.invoicing.domain.prepayment_adjustment import adjust_prepayment
from services.invoicing.domain.rates import vat_rates
from services.invoicing.events import PrepaymentAdjusted, PrepaymentRequested
from shared.events.invoicing import CoverageChanged
from tests.unit.test_account import CAL, CLOSING, Ledger, kzt

# January's plan 31,000 kWh over 31 days = 1,000 kWh a day at 13.55 + VAT 12%: block 11–20 is demanded at
# 10,000 kWh = 135,500.00 + 16,260.00 = 151,760.00, due 3 banking days before Tue 11 January: Mon 10, Thu 6
# (the 7th is a holiday, 8–9 a weekend), Wed 5 → 5 January
DUE = date(2022, 1, 5)
FIFTEENTH = date(2022, 1, 15)


def demanded() -> Ledger:
    ledger = Ledger()
    ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL)
    return ledger


def decide(ledger: Ledger, kwh: str, on: date, day: date = FIFTEENTH, application_id: str | None = "app-15",
           known: dict[date, Decimal] | None = None) -> list:
    applied = {**(known or {}), day: Decimal(kwh)}
    return ledger.do(adjust_prepayment, day=day, applied=applied, vat=vat_rates(), decided_on=on,
                     application_id=application_id, cause_event="contracts.ApplicationAccepted")


def test_an_application_accepted_before_the_due_date_reissues_the_block_by_the_difference():
    ledger = demanded()
    [adjusted] = decide(ledger, "1500", date(2022, 1, 4))
    assert isinstance(adjusted, PrepaymentAdjusted)
    # 15 January 1,500 kWh instead of its 1,000 share: 9 × 1,000 + 1,500 = 10,500 kWh = 142,275.00 + 17,073.00
    # = 159,348.00; the difference +500 × 13.55 = 6,775.00 + VAT 813.00 = 7,588.00
    assert (adjusted.document_number, adjusted.block_id, adjusted.due_date) == (
        ledger.state.prepayments["2022-01-11..2022-01-20"], "2022-01-11..2022-01-20", DUE)
    assert (adjusted.previous_volume_kwh, adjusted.volume_kwh) == (Decimal(10000), Decimal(10500))
    assert (adjusted.previous_amount, adjusted.amount, adjusted.difference) == (
        kzt("151760.00"), kzt("159348.00"), kzt("7588.00"))
    assert (adjusted.application_id, adjusted.day, adjusted.adjusted_on) == ("app-15", FIFTEENTH, date(2022, 1, 4))
    assert sum((line.net + line.vat for line in adjusted.lines), kzt("0")) == kzt("159348.00")


def test_on_the_due_date_it_is_still_reissued_the_day_after_it_is_not():
    on_due = demanded()
    assert [e.difference for e in decide(on_due, "1500", DUE)] == [kzt("7588.00")]
    after = demanded()
    before = list(after.events)
    assert decide(after, "1500", date(2022, 1, 6)) == []   # due on the 5th: the demand stands
    assert after.events == before


def test_a_day_of_no_purchase_asks_less_and_a_second_decision_starts_from_the_adjusted_amount():
    ledger = demanded()
    [first] = decide(ledger, "1500", date(2022, 1, 3))
    # then the 15th is rejected (0 kWh): 9 × 1,000 = 9,000 kWh = 122,850.00 + 14,742.00 = 136,584.00;
    # from 159,348.00 that is −22,764.00 (−1,500 × 15.176)
    [second] = decide(ledger, "0", date(2022, 1, 4), application_id=None)
    assert (second.previous_volume_kwh, second.volume_kwh) == (Decimal(10500), Decimal(9000))
    assert (second.previous_amount, second.amount, second.difference) == (
        first.amount, kzt("136584.00"), kzt("-22764.00"))


def test_nothing_is_recorded_for_an_unchanged_amount_or_a_day_not_demanded():
    ledger = demanded()
    assert decide(ledger, "1000", date(2022, 1, 4)) == []           # the share it was demanded at
    assert decide(ledger, "1500", date(2022, 1, 4), day=date(2022, 2, 3)) == []   # February not demanded


def test_coverage_and_aging_count_the_adjusted_amount():
    ledger = demanded()
    # paid 1–10 and 11–20 as first demanded: 2 × 151,760.00 = 303,520.00
    ledger.pay("REF-1", "303520.00", date(2022, 1, 3))
    decide(ledger, "1500", date(2022, 1, 4))
    # 5 January both blocks are due: 151,760.00 + 159,348.00 = 311,108.00 required, 303,520.00 held
    closed = ledger.do(acc.close_day, day=DUE, **CLOSING)
    coverage = next(e for e in closed if isinstance(e, CoverageChanged))
    assert (coverage.covered, coverage.required, coverage.held) == (False, kzt("311108.00"), kzt("303520.00"))
    # aging on 5 January: the money pays 1–10 (151,760.00) then 151,760.00 of 11–20's 159,348.00: 7,588.00 open
    dated = [(getattr(e, "adjusted_on", None) or getattr(e, "received_on", None) or date(2021, 12, 20), e)
             for e in ledger.events if isinstance(e, PrepaymentRequested | PrepaymentAdjusted)
             or e.event_type == "invoicing.PaymentReceived"]
    second = ledger.state.prepayments["2022-01-11..2022-01-20"]
    first = ledger.state.prepayments["2022-01-01..2022-01-10"]

    def open_on(day: date) -> dict:   # 1–10 and 11–20 (21–30 and the 31st are not due yet and nothing pays them)
        return {i.document: i.open for i in aging.open_as_of(dated, day, "KZT") if i.document in (first, second)}

    assert open_on(DUE) == {second: kzt("7588.00")}
    # before the adjustment (3 January) 11–20 was demanded at 151,760.00, paid in full: nothing open
    assert open_on(date(2022, 1, 3)) == {}


def test_an_aging_fold_kept_as_json_reads_back_to_the_same_position():
    """The aging fold a service keeps between processes (`AgedFold.snapshot`, `aging_positions.py`): written as
    JSON and read back, it holds the same charges, money, demands (at their adjusted amounts) and months
    invoiced, so the position it gives is the one the events give."""
    ledger = demanded()
    ledger.pay("REF-1", "303520.00", date(2022, 1, 3))
    decide(ledger, "1500", date(2022, 1, 4))
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # January invoiced: its demands settle
    dated = [(getattr(e, "adjusted_on", None) or getattr(e, "received_on", None) or date(2021, 12, 20), e)
             for e in ledger.events]
    fold = aging.AgedFold.empty("KZT")
    for day, event in dated:
        counted = aging.counted_from(day, event)
        if counted is not None:
            fold.add(counted, event)
    kept = aging.AgedFold.from_snapshot(orjson.loads(orjson.dumps(fold.snapshot())))
    assert kept.snapshot() == fold.snapshot()
    # 15 Feb: January's 470,456.00 (due 8 Feb) less the 303,520.00 held: 166,936.00 open, energy first paid:
    # energy 420,050.00 − 303,520.00 = 116,530.00 and VAT 50,406.00; the demands are settled by the invoice
    on = date(2022, 2, 15)
    assert [(i.kind, i.open) for i in kept.open_items(on)] == [("energy", kzt("116530.00")), ("vat", kzt("50406.00"))]
    assert kept.open_items(on) == fold.open_items(on) == aging.open_as_of(dated, on, "KZT")
    # and before the invoice, the adjusted demand reads back at its adjusted amount (7,588.00 of it open on 5 Jan)
    before = aging.AgedFold.empty("KZT")
    for day, event in dated[:-1]:
        if (counted := aging.counted_from(day, event)) is not None and counted <= DUE:
            before.add(counted, event)
    second = ledger.state.prepayments["2022-01-11..2022-01-20"]
    read_back = aging.AgedFold.from_snapshot(orjson.loads(orjson.dumps(before.snapshot())))
    assert {i.document: i.open for i in read_back.open_items(DUE)}[second] == kzt("7588.00")
