"""Aging: what a buyer owed on a business date and how long past due, from the account's events.

The position of day D is rebuilt from what had happened by D, whatever was recorded since:
- charges count from the day they were issued: an invoice from its issue date (`invoice_date`; a correcting
  invoice or a credit note changes the charge of the document it corrects from its own), a penalty from the
  last day it accrued through, a recalculation, a waiver or a reversal from its day; an installment agreement's
  interest from its conclusion, each installment's due on its date, what a broken agreement cancelled from then;
- money counts from its value date (a payment's `received_on`), less the reversals and refunds made by D; the
  security deposit counts only as it paid debts (`DepositApplied`, on its day), a bank guarantee as its bank paid
  a call (`BankGuaranteeCalled`, on its value date): a deposit held pays nothing by itself;
- the money held on D pays the debts open on D as §5.8 applies it (`allocation.allocate_payment`: debt first,
  oldest first). The allocations recorded are not read: a payment valued before an invoice was issued but
  booked after it paid that invoice in the ledger, which on D it had not;
- what is left pays the prepayment demands (§5.3) issued by D (at their amount as re-issued by D), due first
  first, of months not invoiced by D (an invoiced month is settled by its invoice); what no money covers is
  open and ages by its due date.

No I/O, no clock: the events come with the day each was decided on (only a prepayment demand needs it: it
carries no date of issue of its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.invoicing.domain import allocation as alloc
from services.invoicing.events import (
    BankGuaranteeCalled,
    DebtRecovered,
    DebtWrittenOff,
    DepositApplied,
    InstallmentAgreementBroken,
    InstallmentAgreementConcluded,
    InvoiceIssued,
    PaymentReceived,
    PaymentReversed,
    PenaltyAccrued,
    PenaltyRecalculated,
    PenaltyReversed,
    PenaltyWaived,
    PrepaymentAdjusted,
    PrepaymentRequested,
    RefundIssued,
)
from shared.events.registry import Event
from shared.money import Money

PREPAYMENT = "prepayment"   # the kind of an aged prepayment demand (the debts' kinds are `allocation.DebtKind`)
# (bucket, fewest days past due, most): "current" is not yet due
AGING_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), (">90", 91, None))


@dataclass(frozen=True)
class AgedItem:
    """What was open of one document on the day, and since when it was due."""

    document: str
    kind: str
    due_date: date
    open: Money


@dataclass
class _Charge:
    document: str
    kind: alloc.DebtKind
    period: str
    due_date: date
    amount: Money


def bucket_of(days_past_due: int) -> str:
    return next(name for name, low, high in AGING_BUCKETS
                if (low is None or days_past_due >= low) and (high is None or days_past_due <= high))


def open_as_of(events: Iterable[tuple[date, Event]], as_of: date, currency: str) -> list[AgedItem]:
    """The items open on `as_of` (§5.8 applied to the money held that day). `events`: the account's, in order,
    each with the business day it was decided on."""
    zero = Money.zero(currency)
    charges: dict[str, _Charge] = {}
    money = zero
    demands: dict[str, PrepaymentRequested] = {}   # document → the demand, at its amount adjusted by D
    invoiced: set[str] = set()

    def charge(document: str, kind: alloc.DebtKind, period: str, due: date, amount: Money) -> None:
        item = charges.get(f"{document}:{kind.value}")
        if item is None:
            charges[f"{document}:{kind.value}"] = _Charge(document, kind, period, due, amount)
        else:  # a correction changes the charge of the document it corrects; the original's due date stays
            item.amount = item.amount + amount

    for day, event in events:
        match event:
            case InvoiceIssued() if event.invoice_date <= as_of:
                invoiced.add(event.period)
                for kind, amount in ((alloc.DebtKind.ENERGY, event.net), (alloc.DebtKind.VAT, event.vat)):
                    if not amount.is_zero:
                        document = event.corrects_document if amount.is_negative else event.document_number
                        assert document is not None, "less to pay only in a correction, which names its original"
                        charge(document, kind, event.period, event.due_date, amount)
            case PenaltyAccrued() if event.accrued_through <= as_of:
                charge(event.document_number, alloc.DebtKind.PENALTY, event.period, event.accrued_through,
                       event.amount)
            case PenaltyRecalculated() if event.posted_on <= as_of:
                # what it took off open penalties lowers them; what it gave back to the advance is money again
                for piece in event.reduced:
                    charge(piece.document, alloc.DebtKind.PENALTY, piece.period, event.posted_on, -piece.amount)
                money = money + event.released_to_advance
                if event.charged.is_positive:
                    charge(event.document_number, alloc.DebtKind.PENALTY, event.period, event.posted_on,
                           event.charged)
            case PenaltyWaived() if event.waived_on <= as_of:
                charge(event.document_number, alloc.DebtKind.PENALTY, "", event.waived_on, -event.amount)
            case InstallmentAgreementConcluded() if event.concluded_on <= as_of:
                for installment in event.installments:   # each installment's interest, due on its date
                    if installment.interest.is_positive:
                        charge(f"{event.document_number}-{installment.number}", alloc.DebtKind.INTEREST,
                               installment.due_date.strftime("%Y-%m"), installment.due_date, installment.interest)
            case InstallmentAgreementBroken() if event.broken_on <= as_of:
                for piece in event.cancelled:
                    charge(piece.document, alloc.DebtKind.INTEREST, piece.period, event.broken_on, -piece.amount)
            case DebtWrittenOff() if event.written_off_on <= as_of:
                for piece in event.slices:   # expected no more: out of what is open
                    charge(piece.document, alloc.DebtKind(piece.kind), piece.period, event.written_off_on,
                           -piece.amount)
            case DebtRecovered() if event.recovered_on <= as_of:
                for piece in event.slices:   # owed again, and paid by the money that recovered it
                    charge(piece.document, alloc.DebtKind(piece.kind), piece.period, event.recovered_on, piece.amount)
            case PenaltyReversed() if event.reversed_on <= as_of:
                # taken back whole: what was open and what was paid of it (that money pays other items now)
                charge(event.document_number, alloc.DebtKind.PENALTY, "", event.reversed_on,
                       -(event.reduced + event.released_to_advance))
            case PaymentReceived() if event.received_on <= as_of:
                money = money + event.amount
            case PaymentReversed() if event.reversed_on <= as_of:
                money = money - event.amount
            case RefundIssued() if event.refund_on <= as_of:
                money = money - event.amount
            case DepositApplied() if event.applied_on <= as_of:
                money = money + event.amount
            case BankGuaranteeCalled() if event.called_on <= as_of:
                money = money + event.amount
            case PrepaymentRequested() if day <= as_of:
                demands[event.document_number] = event
            case PrepaymentAdjusted() if day <= as_of and event.document_number in demands:
                demands[event.document_number] = demands[event.document_number].model_copy(
                    update={"amount": event.amount})
    items = [alloc.OpenItem(f"{c.document}:{c.kind.value}", c.document, c.kind, c.period, c.due_date, c.amount)
             for c in charges.values() if c.amount.is_positive]
    paid = alloc.allocate_payment(max(money, zero), items, as_of.strftime("%Y-%m"))
    applied = {piece.item_id: piece.amount for piece in paid.slices}
    aged = [AgedItem(i.document, i.kind.value, i.due_date, i.outstanding - applied.get(i.item_id, zero))
            for i in items]
    left = paid.advance_left
    for demand in sorted(demands.values(), key=lambda d: (d.due_date, d.document_number)):
        if demand.first_day.strftime("%Y-%m") in invoiced:
            continue
        covered = min(left, demand.amount)
        left = left - covered
        aged.append(AgedItem(demand.document_number, PREPAYMENT, demand.due_date, demand.amount - covered))
    return [item for item in aged if item.open.is_positive]
