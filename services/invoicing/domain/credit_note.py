"""A credit note granted by an accepted claim (§9): the invoice's gross amount reduced by what the claims
desk granted, split over the invoice's lines and, inside each line, into net and VAT at that line's rate.

It is booked like a correcting invoice (`InvoiceIssued` naming the corrected document, negative lines,
an excess over what is still open returned to the advance) and keeps the month's act in force, so a later
corrected act is still charged by difference against the month's charge after the credit.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from services.invoicing.domain.account import (
    ESF_DEADLINE_DAY,
    Account,
    _correction_entry,
    _released,
    _then_allocate,
    lines_of,
    postings,
)
from services.invoicing.domain.pricing import Charge, ChargeLine
from services.invoicing.events import InvoiceIssued
from shared.errors import NotFound, ValidationFailed
from shared.events.registry import Event
from shared.money import Money, allocate


def credit_lines(charge: Charge, gross: Money) -> Charge:
    """Negative lines whose totals add up to exactly `-gross`, each line's share by its gross amount."""
    weights = [max(line.gross.minor_units, 0) for line in charge.lines]
    lines = []
    for line, share in zip(charge.lines, allocate(gross, weights), strict=True):
        # the share includes VAT: net = share × 100 / (100 + rate), half-up to the tiyn; VAT is the rest
        net = (share * Decimal(100) / (Decimal(100) + line.vat_rate_percent)).rounded()
        lines.append(ChargeLine(line.component, line.first_day, line.last_day, Decimal(0), line.rate_per_kwh, -net,
                                line.vat_rate_percent, -(share - net)))
    return Charge(charge.first_day, charge.last_day, charge.turnover_date, Decimal(0), tuple(lines), charge.currency)


def issue_credit_note(state: Account, *, invoice_document: str, gross: Money, issued_on: date) -> list[Event]:
    found = [(period, act_id) for period, act_id in state.latest_act.items()
             if state.charges[act_id][1] == invoice_document]
    if not found:
        raise NotFound(f"no invoice {invoice_document}", reason="invoice_not_found")
    [(period, act_id)] = found
    charge = state.charges[act_id][2]
    if gross.currency != state.currency or not gross.is_positive:
        raise ValidationFailed("a credit is a positive amount in the contract's currency", reason="invalid_credit")
    if gross > charge.total:
        raise ValidationFailed(f"the invoice charges {charge.total}; more cannot be credited",
                               reason="credit_exceeds_invoice")
    credit = credit_lines(charge, gross)
    released = _released(state, invoice_document, credit)
    note = InvoiceIssued(
        contract_id=state.contract_id, document_number=f"CN-{state.terms.number}-{period}-{state.documents + 1}",
        period=period, act_id=act_id, corrects_document=invoice_document, invoice_date=issued_on,
        esf_date=charge.last_day, esf_deadline=(charge.last_day + timedelta(days=1)).replace(day=ESF_DEADLINE_DAY),
        # nothing to pay: the debt is reduced on the day of the note
        due_date=issued_on, volume_kwh=Decimal(0), lines=lines_of(credit), net=credit.net, vat=credit.vat,
        total=credit.total, released_to_advance=released, postings=postings(_correction_entry(credit, released)))
    return _then_allocate(state, [note], trigger=note.document_number, on=issued_on)
