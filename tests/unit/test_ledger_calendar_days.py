"""Proves without I/O that the ledger counts its banking-day deadlines with the calendar days declared in metering
(`metering.CalendarDayDeclared`, noted as `invoicing.CalendarDayNoted`), figures by hand: a declared day off
moves an invoice's due date (§5.4) and a prepayment demand's (§5.3) by one banking day, a declared working
Saturday brings one forward, and a due date counted before a declaration keeps its date on replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.invoicing.domain import account as acc
from services.invoicing.domain import calendar_days
from services.invoicing.domain.rates import vat_rates
from services.invoicing.events import CalendarDayNoted, InvoiceIssued
from shared.calendar import DeclaredDays
from shared.events.metering import CalendarDayDeclared
from tests.unit.test_account import Ledger

THURSDAY = date(2022, 2, 3)


def declared(*days: tuple[date, bool]) -> DeclaredDays:
    """The ledger's calendar state after noting metering's declarations, in order."""
    state = None
    for number, (day, working) in enumerate(days):
        [noted] = calendar_days.note_day(CalendarDayDeclared(day=day, working=working, reason="decree"),
                                         declared_event_id=f"e-{number}")
        assert isinstance(noted, CalendarDayNoted) and (noted.day, noted.working) == (day, working)
        state = calendar_days.evolve(state, noted)
    assert state is not None
    return state


def january_invoice(ledger: Ledger, state: DeclaredDays) -> InvoiceIssued:
    invoice, *_ = ledger.do(acc.issue_invoice, act_id="act-01", period="2022-01", volume_kwh=Decimal("31000"),
                            issued_on=date(2022, 2, 1), corrects_act_id=None, vat=vat_rates(),
                            calendar=state.calendar())
    assert isinstance(invoice, InvoiceIssued)
    return invoice


def test_a_declared_day_off_moves_the_invoice_due_date():
    # §5.4 issued Tue 1 Feb 2022 + 5 banking days: Wed 2, Thu 3, Fri 4, Mon 7, Tue 8 → due 8 February
    assert january_invoice(Ledger(), DeclaredDays()).due_date == date(2022, 2, 8)
    # Thursday 3 February declared off: Wed 2, Fri 4, Mon 7, Tue 8, Wed 9 → due 9 February
    assert january_invoice(Ledger(), declared((THURSDAY, False))).due_date == date(2022, 2, 9)


def test_a_declared_working_saturday_brings_the_due_date_forward():
    # Saturday 5 February declared working: Wed 2, Thu 3, Fri 4, Sat 5, Mon 7 → due 7 February
    assert january_invoice(Ledger(), declared((date(2022, 2, 5), True))).due_date == date(2022, 2, 7)


def test_a_declared_day_off_moves_a_prepayment_demand_due_date():
    def block_due(state: DeclaredDays) -> date:
        demands = Ledger().do(acc.request_prepayments, period="2022-02", vat=vat_rates(), calendar=state.calendar())
        return next(d.due_date for d in demands if d.first_day == date(2022, 2, 11))

    # §5.3 the block from Fri 11 February is due 3 banking days before: Thu 10, Wed 9, Tue 8 → 8 February
    assert block_due(DeclaredDays()) == date(2022, 2, 8)
    # Wednesday 9 February declared off: Thu 10, Tue 8, Mon 7 → 7 February
    assert block_due(declared((date(2022, 2, 9), False))) == date(2022, 2, 7)


def test_a_due_date_counted_before_a_declaration_keeps_its_date_on_replay():
    ledger = Ledger()
    january_invoice(ledger, DeclaredDays())   # due 8 February, counted with no declaration
    later = declared((THURSDAY, False))         # Thursday declared off afterwards
    assert later.calendar().add_banking_days(date(2022, 2, 1), 5) == date(2022, 2, 9)
    replayed = acc.fold(ledger.events)
    assert replayed is not None
    assert {d.due_date for d in replayed.debts.values()} == {date(2022, 2, 8)}
    # the last declaration of a day wins: declared off, then working again, it counts as working
    assert declared((THURSDAY, False), (THURSDAY, True)).calendar().is_working_day(THURSDAY)
