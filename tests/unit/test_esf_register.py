"""Proves §5.5's ESF register rules (`domain/esf.py`) with no I/O: an invoice's ESF registered once (the same
registration again records nothing, another number or day is refused, an unknown invoice too, so is a day before the
ESF's own date), marked late when issued after its deadline, and an unregistered ESF overdue only once its deadline
day is over; and that the account remembers each invoice's ESF and its registration from the events."""

from __future__ import annotations

from datetime import date

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain.esf import EsfDue, EsfStatus, Registration, register, status
from services.invoicing.events import EsfRegistered
from shared.errors import Conflict, NotFound
from tests.unit.test_account import Ledger

# January's ESF: dated 31 January (the period's last day), due by 20 February
JANUARY = EsfDue(esf_date=date(2022, 1, 31), deadline=date(2022, 2, 20))


def registered(due: EsfDue, number: str, issued_on: date) -> list[EsfRegistered]:
    return register(due, contract_id="C-1", invoice_document="INV-1-2022-01", registration_number=number,
                    issued_on=issued_on)


def test_the_first_registration_is_recorded_on_time_or_late_by_its_deadline() -> None:
    [on_time] = registered(JANUARY, "ESF-1", date(2022, 2, 20))   # the deadline day itself is in time
    assert (on_time.registration_number, on_time.issued_on, on_time.esf_deadline, on_time.late) == (
        "ESF-1", date(2022, 2, 20), date(2022, 2, 20), False)
    [late] = registered(JANUARY, "ESF-1", date(2022, 2, 21))
    assert late.late is True


def test_the_same_registration_again_records_nothing_another_is_refused() -> None:
    done = EsfDue(JANUARY.esf_date, JANUARY.deadline, Registration("ESF-1", date(2022, 2, 15)))
    assert registered(done, "ESF-1", date(2022, 2, 15)) == []
    for number, day in (("ESF-2", date(2022, 2, 15)), ("ESF-1", date(2022, 2, 16))):
        with pytest.raises(Conflict) as refused:
            registered(done, number, day)
        assert refused.value.reason == "esf_already_registered"
        assert refused.value.details == {"registration_number": "ESF-1", "issued_on": "2022-02-15"}


def test_an_unknown_invoice_and_a_day_before_the_esf_date_are_refused() -> None:
    with pytest.raises(NotFound) as unknown:
        register(None, contract_id="C-1", invoice_document="INV-none", registration_number="ESF-1",
                 issued_on=date(2022, 2, 15))
    assert unknown.value.reason == "invoice_not_found"
    with pytest.raises(Conflict) as early:
        registered(JANUARY, "ESF-1", date(2022, 1, 30))
    assert early.value.reason == "esf_before_its_date"
    assert registered(JANUARY, "ESF-1", date(2022, 1, 31))   # on its own date: fine


def test_an_unregistered_esf_is_due_through_its_deadline_day_then_overdue() -> None:
    assert status(JANUARY, date(2022, 2, 20)) is EsfStatus.DUE
    assert status(JANUARY, date(2022, 2, 21)) is EsfStatus.OVERDUE
    on_time = EsfDue(JANUARY.esf_date, JANUARY.deadline, Registration("ESF-1", date(2022, 2, 20)))
    late = EsfDue(JANUARY.esf_date, JANUARY.deadline, Registration("ESF-1", date(2022, 3, 1)))
    assert (status(on_time, date(2022, 6, 1)), status(late, date(2022, 6, 1))) == (EsfStatus.REGISTERED,
                                                                                   EsfStatus.LATE)


def test_the_account_remembers_each_invoices_esf_and_its_registration() -> None:
    ledger = Ledger()
    [invoice] = ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    assert ledger.state.esf == {invoice.document_number: JANUARY}
    ledger.do(lambda state: register(state.esf.get(invoice.document_number), contract_id="c-1",
                                               invoice_document=invoice.document_number,
                                               registration_number="ESF-1", issued_on=date(2022, 2, 15)))
    assert ledger.state.esf[invoice.document_number].registration == Registration("ESF-1", date(2022, 2, 15))
    replayed = acc.fold(ledger.events)   # replaying the events rebuilds the same ESFs
    assert replayed is not None and replayed.esf == ledger.state.esf
