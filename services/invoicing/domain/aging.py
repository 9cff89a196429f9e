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
from decimal import Decimal
from typing import Any

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


def counted_from(day: date, event: Event) -> date | None:
    """The business day from which `event` counts in a position (`day`: the day it was decided on); None for an
    event a position does not read."""
    match event:
        case InvoiceIssued():
            return event.invoice_date
        case PenaltyAccrued():
            return event.accrued_through
        case PenaltyRecalculated():
            return event.posted_on
        case PenaltyWaived():
            return event.waived_on
        case InstallmentAgreementConcluded():
            return event.concluded_on
        case InstallmentAgreementBroken():
            return event.broken_on
        case DebtWrittenOff():
            return event.written_off_on
        case DebtRecovered():
            return event.recovered_on
        case PenaltyReversed() | PaymentReversed():
            return event.reversed_on
        case PaymentReceived():
            return event.received_on
        case RefundIssued():
            return event.refund_on
        case DepositApplied():
            return event.applied_on
        case BankGuaranteeCalled():
            return event.called_on
        case PrepaymentRequested() | PrepaymentAdjusted():
            return day
    return None


@dataclass
class AgedFold:
    """What an account's counted events add up to: the charges by document and kind, the money held, the
    prepayment demands (at their amounts as re-issued) and the months invoiced. `latest`: the last day any of its
    events counts from, so the fold is the position's of every day from then on (`open_items`)."""

    currency: str
    charges: dict[str, _Charge]
    money: Money
    demands: dict[str, PrepaymentRequested]   # document → the demand, at its amount as adjusted
    invoiced: set[str]
    latest: date | None = None

    @classmethod
    def empty(cls, currency: str) -> "AgedFold":
        return cls(currency, {}, Money.zero(currency), {}, set())

    def add(self, counted: date, event: Event) -> None:
        """One more event, counted from `counted` (`counted_from`)."""
        if self.latest is None or counted > self.latest:
            self.latest = counted

        def charge(document: str, kind: alloc.DebtKind, period: str, due: date, amount: Money) -> None:
            item = self.charges.get(f"{document}:{kind.value}")
            if item is None:
                self.charges[f"{document}:{kind.value}"] = _Charge(document, kind, period, due, amount)
            else:  # a correction changes the charge of the document it corrects; the original's due date stays
                item.amount = item.amount + amount

        match event:
            case InvoiceIssued():
                self.invoiced.add(event.period)
                # an invoiced month's demands are settled by its invoice (`open_items` skips them): not kept
                self.demands = {document: demand for document, demand in self.demands.items()
                                if demand.first_day.strftime("%Y-%m") != event.period}
                for kind, amount in ((alloc.DebtKind.ENERGY, event.net), (alloc.DebtKind.VAT, event.vat)):
                    if not amount.is_zero:
                        document = event.corrects_document if amount.is_negative else event.document_number
                        assert document is not None, "less to pay only in a correction, which names its original"
                        charge(document, kind, event.period, event.due_date, amount)
            case PenaltyAccrued():
                charge(event.document_number, alloc.DebtKind.PENALTY, event.period, event.accrued_through,
                       event.amount)
            case PenaltyRecalculated():
                # what it took off open penalties lowers them; what it gave back to the advance is money again
                for piece in event.reduced:
                    charge(piece.document, alloc.DebtKind.PENALTY, piece.period, event.posted_on, -piece.amount)
                self.money = self.money + event.released_to_advance
                if event.charged.is_positive:
                    charge(event.document_number, alloc.DebtKind.PENALTY, event.period, event.posted_on,
                           event.charged)
            case PenaltyWaived():
                charge(event.document_number, alloc.DebtKind.PENALTY, "", event.waived_on, -event.amount)
            case InstallmentAgreementConcluded():
                for installment in event.installments:   # each installment's interest, due on its date
                    if installment.interest.is_positive:
                        charge(f"{event.document_number}-{installment.number}", alloc.DebtKind.INTEREST,
                               installment.due_date.strftime("%Y-%m"), installment.due_date, installment.interest)
            case InstallmentAgreementBroken():
                for piece in event.cancelled:
                    charge(piece.document, alloc.DebtKind.INTEREST, piece.period, event.broken_on, -piece.amount)
            case DebtWrittenOff():
                for piece in event.slices:   # expected no more: out of what is open
                    charge(piece.document, alloc.DebtKind(piece.kind), piece.period, event.written_off_on,
                           -piece.amount)
            case DebtRecovered():
                for piece in event.slices:   # owed again, and paid by the money that recovered it
                    charge(piece.document, alloc.DebtKind(piece.kind), piece.period, event.recovered_on, piece.amount)
            case PenaltyReversed():
                # taken back whole: what was open and what was paid of it (that money pays other items now)
                charge(event.document_number, alloc.DebtKind.PENALTY, "", event.reversed_on,
                       -(event.reduced + event.released_to_advance))
            case PaymentReceived() | DepositApplied() | BankGuaranteeCalled():
                self.money = self.money + event.amount
            case PaymentReversed() | RefundIssued():
                self.money = self.money - event.amount
            case PrepaymentRequested() if event.first_day.strftime("%Y-%m") not in self.invoiced:
                self.demands[event.document_number] = event
            case PrepaymentAdjusted() if event.document_number in self.demands:
                self.demands[event.document_number] = self.demands[event.document_number].model_copy(
                    update={"amount": event.amount})

    def snapshot(self) -> dict[str, Any]:
        """The fold as JSON values (`from_snapshot` reads it back the same), to keep between processes."""
        return {"currency": self.currency, "money": str(self.money.amount),
                "latest": None if self.latest is None else self.latest.isoformat(),
                "charges": [[c.document, c.kind.value, c.period, c.due_date.isoformat(), str(c.amount.amount)]
                            for c in self.charges.values()],
                "demands": [demand.model_dump(mode="json") for demand in self.demands.values()],
                "invoiced": sorted(self.invoiced)}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> "AgedFold":
        currency = data["currency"]
        charges = {}
        for document, kind, period, due, amount in data["charges"]:
            charges[f"{document}:{kind}"] = _Charge(document, alloc.DebtKind(kind), period, date.fromisoformat(due),
                                                    Money(Decimal(amount), currency))
        demands = [PrepaymentRequested.model_validate(demand) for demand in data["demands"]]
        return cls(currency, charges, Money(Decimal(data["money"]), currency),
                   {demand.document_number: demand for demand in demands}, set(data["invoiced"]),
                   None if data["latest"] is None else date.fromisoformat(data["latest"]))

    def open_items(self, as_of: date) -> list[AgedItem]:
        """The items open on `as_of`, a day no earlier than `latest` (§5.8 applied to the money held that day)."""
        assert self.latest is None or as_of >= self.latest, "a fold is the position of its latest day and after"
        zero = Money.zero(self.currency)
        items = [alloc.OpenItem(f"{c.document}:{c.kind.value}", c.document, c.kind, c.period, c.due_date, c.amount)
                 for c in self.charges.values() if c.amount.is_positive]
        paid = alloc.allocate_payment(max(self.money, zero), items, as_of.strftime("%Y-%m"))
        applied = {piece.item_id: piece.amount for piece in paid.slices}
        aged = [AgedItem(i.document, i.kind.value, i.due_date, i.outstanding - applied.get(i.item_id, zero))
                for i in items]
        left = paid.advance_left
        for demand in sorted(self.demands.values(), key=lambda d: (d.due_date, d.document_number)):
            if demand.first_day.strftime("%Y-%m") in self.invoiced:
                continue
            covered = min(left, demand.amount)
            left = left - covered
            aged.append(AgedItem(demand.document_number, PREPAYMENT, demand.due_date, demand.amount - covered))
        return [item for item in aged if item.open.is_positive]


def open_as_of(events: Iterable[tuple[date, Event]], as_of: date, currency: str) -> list[AgedItem]:
    """The items open on `as_of` (§5.8 applied to the money held that day). `events`: the account's, in order,
    each with the business day it was decided on."""
    fold = AgedFold.empty(currency)
    for day, event in events:
        counted = counted_from(day, event)
        if counted is not None and counted <= as_of:
            fold.add(counted, event)
    return fold.open_items(as_of)
