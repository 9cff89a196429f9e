"""§5.5 the ESF register: each invoice's electronic invoice (ESF), dated the last day of its period, is issued in
the tax authority's system (IS ESF) no later than the 20th of the next month; billing enters its registration
number there once it is issued. One ESF per invoice document (a correcting invoice has its own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.invoicing.events import EsfRegistered
from shared.errors import Conflict, NotFound


class EsfStatus(StrEnum):
    REGISTERED = "registered"   # issued by its deadline
    LATE = "late"               # issued, after its deadline
    DUE = "due"                 # not issued yet, the deadline not passed
    OVERDUE = "overdue"         # not issued, the deadline passed


@dataclass(frozen=True)
class Registration:
    number: str
    issued_on: date


@dataclass(frozen=True)
class EsfDue:
    """An invoice's ESF: its date (the turnover date), its deadline, and its registration once entered."""

    esf_date: date
    deadline: date
    registration: Registration | None = None


def status(due: EsfDue, on: date) -> EsfStatus:
    """Where the invoice's ESF stands on `on`: overdue only once its deadline day is over."""
    if due.registration is not None:
        return EsfStatus.LATE if due.registration.issued_on > due.deadline else EsfStatus.REGISTERED
    return EsfStatus.OVERDUE if on > due.deadline else EsfStatus.DUE


def register(due: EsfDue | None, *, contract_id: str, invoice_document: str, registration_number: str,
             issued_on: date) -> list[EsfRegistered]:
    """§5.5 the ESF of `invoice_document` registered under `registration_number` on `issued_on` (at most today: the
    edge refuses a day in the future). The same registration again records nothing (a repeat); another number or
    day for an invoice registered already is refused, as is a day before the ESF's own date."""
    if due is None:
        raise NotFound(f"no invoice {invoice_document}", reason="invoice_not_found")
    if due.registration is not None:
        if due.registration == Registration(registration_number, issued_on):
            return []
        raise Conflict(f"the ESF of {invoice_document} is registered already as {due.registration.number} of "
                       f"{due.registration.issued_on}", reason="esf_already_registered",
                       details={"registration_number": due.registration.number,
                                "issued_on": due.registration.issued_on.isoformat()})
    if issued_on < due.esf_date:
        raise Conflict(f"an ESF dated {due.esf_date} cannot be issued on {issued_on}", reason="esf_before_its_date",
                       details={"esf_date": due.esf_date.isoformat()})
    return [EsfRegistered(contract_id=contract_id, invoice_document=invoice_document,
                          registration_number=registration_number, issued_on=issued_on, esf_deadline=due.deadline,
                          late=issued_on > due.deadline)]
