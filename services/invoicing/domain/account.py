"""The contract's settlement account (section 5 of the contract): its debts, its advance and the documents it issued.

State is folded from the account's own events (`evolve`); commands are pure functions of the state
and their inputs that return new events (`issue_invoice`, `receive_payment`, …). No I/O, no clock:
the business date is always an argument.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter

from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.esf import EsfDue, Registration
from services.invoicing.domain.holds import Agreement, Dispute, Installment, Promise
from services.invoicing.domain.penalty import LateAmount, PausedPeriod, Penalty, PenaltyTerms, compute_penalty
from services.invoicing.domain.postings import Entry, LedgerAccount, entry, transfer
from services.invoicing.domain.prepayment import prepayment_demands
from services.invoicing.domain.pricing import Charge, ChargeLine, combine, difference, price_volume
from services.invoicing.domain.rates import DatedRates
from services.invoicing.domain.restriction import Demand, required_cover
from services.invoicing.domain.securities import DepositDemand, Guarantee
from services.invoicing.domain.terms import last_delivery_day, term_months, terms_from
from services.invoicing.events import (
    AccountOpened,
    AccountTerminated,
    AccountTermsAmended,
    AllocationSlice,
    BankGuaranteeCalled,
    BankGuaranteeRecorded,
    ChargeLineData,
    CollectionLineExecuted,
    CollectionLineReversed,
    CollectionReversalRequested,
    DayClosed,
    DebtRecovered,
    DebtWrittenOff,
    DepositApplicationRequested,
    DepositApplied,
    DepositReceived,
    DepositRequested,
    DepositReturned,
    DepositReturnRequested,
    DisputeClosed,
    DisputeOpened,
    EsfRegistered,
    InstallmentAgreementBroken,
    InstallmentAgreementConcluded,
    InstallmentAgreementProposed,
    InvoiceIssued,
    PaymentAllocated,
    PaymentPromised,
    PaymentReceived,
    PaymentReversalRequested,
    PaymentReversed,
    PenaltyAccrued,
    PenaltyPausedByForceMajeure,
    PenaltyRecalculated,
    PenaltyReversed,
    PenaltySliceData,
    PenaltyWaived,
    PenaltyWaiverRequested,
    PostingLine,
    PrepaymentAdjusted,
    PrepaymentRequested,
    RecalculatedWindow,
    RefundIssued,
    RefundPaidOut,
    RefundRequested,
    RequestDeclined,
    RestrictionNoticeIssued,
    RestrictionNoticeWithdrawn,
    TerminationNoticeProposed,
    WriteOffRequested,
)
from shared.approvals import Pending, check_approver, no_request_pending, pending_request
from shared.business_time import require_over
from shared.calendar import WorkingCalendar
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.contracts import ContractSigned, SealedContractTerms
from shared.events.invoicing import (
    AccountSettled,
    Approval,
    CoverageChanged,
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
    TerminationNoticeWithdrawn,
)
from shared.events.registry import Event
from shared.events.sealing import Sealed
from shared.money import Money

PAYMENT_DAYS_AFTER_INVOICE = 5   # §5.4 final settlement within 5 banking days of the invoice
ESF_DEADLINE_DAY = 20            # the ESF is issued no later than the 20th of the next month


def stream_id(contract_id: str) -> str:
    return f"account-{contract_id}"


@dataclass
class Debt:
    item_id: str
    document: str
    kind: alloc.DebtKind
    period: str
    due_date: date
    outstanding: Money
    # every change of `outstanding` as (day it took effect, signed amount): what was late on a day is the sum
    # of the changes dated before it (§5.7). Kept as changes, not running totals, because money may be valued
    # on a day before changes already recorded (a bank statement that came late)
    history: list[tuple[date, Money]] = field(default_factory=list)
    penalty_through: date | None = None

    def copied(self) -> "Debt":
        """A copy to fold onto: its own history, the rest shared (immutable values). Every field is carried by
        the instance's dict, so a field added later is copied too; `dataclasses.replace` cost ~7 µs a debt, and a
        year's account copies two dozen of them per command."""
        clone = object.__new__(Debt)
        clone.__dict__.update(self.__dict__)
        clone.history = list(self.history)
        return clone


@dataclass(frozen=True)
class RefundDue:
    """A refund issued (§5.8) and, once the treasury paid it out, the payment order that did."""

    amount: Money
    refund_on: date
    payment_order: str | None = None
    paid_on: date | None = None


@dataclass(frozen=True)
class Accrual:
    """One accrual of penalty on a late document: its window of days and what it charged (after
    recalculations): what a later value date is checked against."""

    penalty_document: str
    first_day: date
    last_day: date
    amount: Money


@dataclass
class Account:
    contract_id: str
    terms: SealedContractTerms   # the buyer sealed: the rules never need to read it
    advance: Money               # money held and not yet applied: zero when the account opens
    version: int = 0
    debts: dict[str, Debt] = field(default_factory=dict)
    charges: dict[str, tuple[str, str, Charge]] = field(default_factory=dict)  # act id → (period, document, charge)
    latest_act: dict[str, str] = field(default_factory=dict)                    # period → act id
    payments: dict[str, str] = field(default_factory=dict)                     # bank reference → payment id
    received: dict[str, Money] = field(default_factory=dict)                   # payment id → amount
    reversed: set[str] = field(default_factory=set)                            # payment ids taken back
    applied_log: list[tuple[str, Money]] = field(default_factory=list)         # (item id, amount) applied, in order
    penalties: dict[str, Money] = field(default_factory=dict)                  # penalty document → outstanding
    prepayments: dict[str, str] = field(default_factory=dict)                  # block id → document
    prepaid_volumes: dict[str, Decimal] = field(default_factory=dict)         # demand document → kWh asked
    demands: list[Demand] = field(default_factory=list)
    covered: bool | None = None
    notice: tuple[str, date] | None = None       # open restriction notice: (document, restrict from)
    restricted: bool = False
    termination_notice: str | None = None
    closed_through: date | None = None
    documents: int = 0
    amendments: set[str] = field(default_factory=set)                          # amendment documents applied
    settled_on: date | None = None
    accruals: dict[str, list[Accrual]] = field(default_factory=dict)          # late document → its accruals
    pending: dict[str, Pending] = field(default_factory=dict)                  # request id → awaiting approval
    terminated_on: date | None = None            # the first day without supply, when the contract ended early
    refunds: dict[str, RefundDue] = field(default_factory=dict)               # refund document → its payout
    paused: dict[str, PausedPeriod] = field(default_factory=dict)             # §8.1 notice id → the buyer's period
    disputes: dict[str, Dispute] = field(default_factory=dict)                # dispute id → its documents
    promises: dict[str, Promise] = field(default_factory=dict)                # promise id → documents, date
    restriction_notices: list[str] = field(default_factory=list)              # every notice issued (§11.2)
    collected: dict[str, tuple[str, ...]] = field(default_factory=dict)     # "run/line" → what it recorded
    reversed_penalties: set[str] = field(default_factory=set)                 # penalty documents taken back
    agreements: dict[str, Agreement] = field(default_factory=dict)            # agreement document → its schedule
    written_off: dict[str, Money] = field(default_factory=dict)               # item id → written off, not recovered
    deposit_demands: dict[str, DepositDemand] = field(default_factory=dict)   # deposit document → asked, received
    security_references: set[str] = field(default_factory=set)  # bank references of deposits and guarantee calls
    deposit_held: Money | None = None            # the security deposit held (None: zero in the account's currency)
    guarantees: dict[str, Guarantee] = field(default_factory=dict)            # guarantee number → its cover
    esf: dict[str, EsfDue] = field(default_factory=dict)                      # invoice document → its ESF (§5.5)

    @property
    def currency(self) -> str:
        return self.terms.currency

    def open_items(self) -> list[alloc.OpenItem]:
        return [alloc.OpenItem(d.item_id, d.document, d.kind, d.period, d.due_date, d.outstanding)
                for d in self.debts.values() if d.outstanding.is_positive]

    def __deepcopy__(self, memo: dict[int, object]) -> "Account":
        """Copy what folding mutates; share what is immutable (terms, charges, money, demands' items)."""
        clone = copy.copy(self)
        clone.debts = {k: d.copied() for k, d in self.debts.items()}
        clone.charges = dict(self.charges)
        clone.latest_act = dict(self.latest_act)
        clone.payments = dict(self.payments)
        clone.received = dict(self.received)
        clone.reversed = set(self.reversed)
        clone.applied_log = list(self.applied_log)
        clone.penalties = dict(self.penalties)
        clone.prepayments = dict(self.prepayments)
        clone.prepaid_volumes = dict(self.prepaid_volumes)
        clone.demands = list(self.demands)
        clone.amendments = set(self.amendments)
        clone.accruals = {k: list(v) for k, v in self.accruals.items()}
        clone.pending = dict(self.pending)
        clone.refunds = dict(self.refunds)
        clone.paused = dict(self.paused)
        clone.disputes = dict(self.disputes)
        clone.promises = dict(self.promises)
        clone.restriction_notices = list(self.restriction_notices)
        clone.collected = dict(self.collected)
        clone.reversed_penalties = set(self.reversed_penalties)
        clone.agreements = dict(self.agreements)
        clone.written_off = dict(self.written_off)
        clone.deposit_demands = dict(self.deposit_demands)
        clone.security_references = set(self.security_references)
        clone.guarantees = dict(self.guarantees)
        clone.esf = dict(self.esf)
        return clone

    def debt_total(self) -> Money:
        return sum((d.outstanding for d in self.debts.values()), Money.zero(self.currency))

    def last_supply_day(self) -> date:
        """The last day supplied: the term's last day, or the day before a termination took effect."""
        last = last_delivery_day(self.terms)
        if self.terminated_on is not None:
            return min(last, self.terminated_on - timedelta(days=1))
        return last

    def supplied_months(self) -> list[str]:
        """Every settlement period with a day of supply, to the last one (`last_supply_day`)."""
        return term_months(self.terms, self.last_supply_day())

    def deposit(self) -> Money:
        """The security deposit held: received, less what was applied to debt or returned."""
        return self.deposit_held if self.deposit_held is not None else Money.zero(self.currency)

    def refunds_unpaid(self) -> Money:
        return sum((r.amount for r in self.refunds.values() if r.payment_order is None), Money.zero(self.currency))


# ---- folding ------------------------------------------------------------------------------------
def evolve(state: Account | None, event: Event) -> Account:
    if isinstance(event, AccountOpened):
        assert state is None, "an account is opened once"
        return Account(event.contract_id, event.terms, version=1, advance=Money.zero(event.terms.currency))
    assert state is not None, f"{event.event_type} before the account was opened"
    state.version += 1
    match event:
        case InvoiceIssued():
            charge = _charge_from(event)
            if event.corrects_document is not None:  # keep the full charge, so the next correction diffs it
                charge = combine(state.charges[state.latest_act[event.period]][2], charge)
            state.charges[event.act_id] = (event.period, event.corrects_document or event.document_number, charge)
            state.latest_act[event.period] = event.act_id
            for kind, amount in ((alloc.DebtKind.ENERGY, event.net), (alloc.DebtKind.VAT, event.vat)):
                # more to pay is a new debt with its own due date; less to pay reduces the original debt
                document = event.corrects_document if amount.is_negative else event.document_number
                # only a correcting invoice charges less: it is the difference from the document it corrects
                assert document is not None, "less to pay only in a correction, which names its original"
                if not amount.is_zero:
                    _add_debt(state, document, kind, event.period, event.due_date, amount)
            for piece in event.released_to_advance:
                debt = state.debts[piece.item_id]
                debt.outstanding = debt.outstanding + piece.amount
                _record(debt, event.due_date, piece.amount)
                state.advance = state.advance + piece.amount
            for debt in state.debts.values():
                assert not debt.outstanding.is_negative, "a correction never leaves a negative debt"
            state.documents += 1
            state.esf[event.document_number] = EsfDue(event.esf_date, event.esf_deadline)
        case EsfRegistered():
            state.esf[event.invoice_document] = dataclasses.replace(
                state.esf[event.invoice_document], registration=Registration(event.registration_number, event.issued_on))
        case PaymentReceived():
            state.payments[event.bank_reference] = event.payment_id
            state.received[event.payment_id] = event.amount
            state.advance = state.advance + event.amount
        case PaymentReversed():
            for piece in event.reopened:
                debt = state.debts[piece.item_id]
                debt.outstanding = debt.outstanding + piece.amount
                _record(debt, event.reversed_on, piece.amount)
                state.advance = state.advance + piece.amount
                _unlog(state, piece.item_id, piece.amount)
            state.advance = state.advance - event.amount
            assert not state.advance.is_negative, "a reversal never leaves a negative advance"
            state.reversed.add(event.payment_id)
            _approved(state, event.approval)
        case PaymentAllocated():
            for piece in event.slices:
                debt = state.debts[piece.item_id]
                debt.outstanding = debt.outstanding - piece.amount
                assert not debt.outstanding.is_negative, "a debt is never overpaid"
                _record(debt, event.allocated_on, -piece.amount)
                if debt.kind is alloc.DebtKind.PENALTY:
                    state.penalties[debt.document] = debt.outstanding
                state.advance = state.advance - piece.amount
                state.applied_log.append((piece.item_id, piece.amount))
            assert state.advance == event.advance_left, "allocation replays to the advance it recorded"
        case PenaltyAccrued():
            late = [state.debts[item] for item in (f"{event.late_item_id}:energy", f"{event.late_item_id}:vat")
                    if item in state.debts]
            state.accruals.setdefault(event.late_item_id, []).append(Accrual(
                event.document_number, _accrual_start(late), event.accrued_through, event.amount))
            for debt in late:
                debt.penalty_through = event.accrued_through
            _add_debt(state, event.document_number, alloc.DebtKind.PENALTY, event.period, event.accrued_through,
                      event.amount)
            state.penalties[event.document_number] = event.amount
            state.documents += 1
        case PenaltyRecalculated():
            now = {(w.penalty_document, w.first_day): w.now for w in event.windows}
            state.accruals[event.late_item_id] = [
                dataclasses.replace(a, amount=now.get((a.penalty_document, a.first_day), a.amount))
                for a in state.accruals[event.late_item_id]]
            for piece in event.reduced:
                debt = state.debts[piece.item_id]
                debt.outstanding = debt.outstanding - piece.amount
                assert not debt.outstanding.is_negative, "a recalculation never takes off more than is open"
                _record(debt, event.posted_on, -piece.amount)
                state.penalties[debt.document] = debt.outstanding
            state.advance = state.advance + event.released_to_advance
            if event.charged.is_positive:
                _add_debt(state, event.document_number, alloc.DebtKind.PENALTY, event.period, event.posted_on,
                          event.charged)
                state.penalties[event.document_number] = event.charged
            state.documents += 1
        case PenaltyWaived():
            debt = state.debts[f"{event.document_number}:penalty"]
            debt.outstanding = debt.outstanding - event.amount
            _record(debt, event.waived_on, -event.amount)
            state.penalties[event.document_number] = debt.outstanding
            _approved(state, event.approval)
        case (PaymentReversalRequested() | PenaltyWaiverRequested() | RefundRequested() | TerminationNoticeProposed()
              | CollectionReversalRequested() | InstallmentAgreementProposed() | WriteOffRequested()
              | DepositApplicationRequested() | DepositReturnRequested()):
            state.pending[event.request_id] = Pending(event.request_id, event.event_type, event.requested_by, event)
        case RequestDeclined():
            del state.pending[event.request_id]
        case PrepaymentRequested():
            state.prepayments[event.block_id] = event.document_number
            state.prepaid_volumes[event.document_number] = event.volume_kwh
            state.demands.append(Demand(event.document_number, event.first_day.strftime("%Y-%m"), event.due_date,
                                        event.amount, event.first_day, event.last_day))
            state.documents += 1
        case PrepaymentAdjusted():
            # §5.3 coverage, restriction and aging count the demand at its adjusted amount from now on
            state.prepaid_volumes[event.document_number] = event.volume_kwh
            state.demands = [dataclasses.replace(d, amount=event.amount) if d.document == event.document_number else d
                             for d in state.demands]
        case CoverageChanged():
            state.covered = event.covered
        case RestrictionNoticeIssued():
            state.notice = (event.document_number, event.restrict_from)
            state.restriction_notices.append(event.document_number)
            state.documents += 1
        case SupplyRestricted():
            state.restricted = True
        case SupplyRestored():
            state.notice, state.restricted = None, False
        case TerminationNoticeIssued():
            state.termination_notice = event.document_number
            state.documents += 1
            _approved(state, event.approval)
        case DayClosed():
            state.closed_through = event.day
        case RefundIssued():
            state.advance = state.advance - event.amount
            state.refunds[event.document_number] = RefundDue(event.amount, event.refund_on)
            state.documents += 1
            _approved(state, event.approval)
        case RefundPaidOut():
            state.refunds[event.refund_document] = dataclasses.replace(
                state.refunds[event.refund_document], payment_order=event.payment_order_number,
                paid_on=event.payment_order_date)
        case AccountTerminated():
            state.terminated_on = event.terminated_on
        case AccountTermsAmended():
            state.terms = event.terms
            state.amendments.add(event.document_number)
        case AccountSettled():
            state.settled_on = event.settled_on
        case PenaltyPausedByForceMajeure():
            state.paused[event.notice_id] = PausedPeriod(event.first_day, event.last_day)
        case DisputeOpened():
            state.disputes[event.dispute_id] = Dispute(event.source, event.reference, tuple(event.documents),
                                                       event.opened_on)
        case DisputeClosed():
            state.disputes[event.dispute_id] = dataclasses.replace(state.disputes[event.dispute_id],
                                                                   closed_on=event.closed_on)
        case PaymentPromised():
            state.promises[event.promise_id] = Promise(tuple(event.documents), event.promised_on, event.pay_by)
        case CollectionLineExecuted():
            state.collected[f"{event.run_id}/{event.line_id}"] = tuple(event.documents)
        case PenaltyReversed():
            item_id = f"{event.document_number}:penalty"
            debt = state.debts[item_id]
            debt.outstanding = debt.outstanding - event.reduced
            assert not debt.outstanding.is_negative, "a reversal takes off at most what is open"
            _record(debt, event.reversed_on, -event.reduced)
            state.penalties[event.document_number] = debt.outstanding
            if event.released_to_advance.is_positive:   # what was paid of it: applied no more
                _unlog(state, item_id, event.released_to_advance)
                state.advance = state.advance + event.released_to_advance
            state.reversed_penalties.add(event.document_number)
        case TerminationNoticeWithdrawn():
            state.termination_notice = None
        case CollectionLineReversed():
            _approved(state, event.approval)
        case RestrictionNoticeWithdrawn():
            pass   # the `SupplyRestored` it comes with lifts the notice
        case InstallmentAgreementConcluded():
            installments = tuple(Installment(i.number, i.due_date, i.principal, i.interest) for i in event.installments)
            agreement = Agreement(event.document_number, tuple(event.documents), event.concluded_on, event.principal,
                                  installments)
            state.agreements[event.document_number] = agreement
            for installment in installments:
                if installment.interest.is_positive:
                    _add_debt(state, agreement.interest_document(installment.number), alloc.DebtKind.INTEREST,
                              installment.due_date.strftime("%Y-%m"), installment.due_date, installment.interest)
            state.documents += 1
            _approved(state, event.approval)
        case DebtWrittenOff():
            for piece in event.slices:
                _change_open(state, piece.item_id, -piece.amount, event.written_off_on)
                state.written_off[piece.item_id] = state.written_off.get(piece.item_id, Money.zero(state.currency)) \
                    + piece.amount
            _approved(state, event.approval)
        case DebtRecovered():
            for piece in event.slices:
                _change_open(state, piece.item_id, piece.amount, event.recovered_on)
                left = state.written_off[piece.item_id] - piece.amount
                assert not left.is_negative, "only what was written off is recovered"
                if left.is_zero:
                    del state.written_off[piece.item_id]
                else:
                    state.written_off[piece.item_id] = left
        case DepositRequested():
            state.deposit_demands[event.document_number] = DepositDemand(
                event.document_number, event.amount, event.due_date, Money.zero(state.currency))
            state.documents += 1
        case DepositReceived():
            demand = state.deposit_demands[event.deposit_document]
            state.deposit_demands[event.deposit_document] = dataclasses.replace(
                demand, received=demand.received + event.amount)
            state.security_references.add(event.bank_reference)
            state.deposit_held = state.deposit() + event.amount
        case DepositApplied():
            for piece in event.slices:
                _change_open(state, piece.item_id, -piece.amount, event.applied_on)
            state.deposit_held = state.deposit() - event.amount
            assert state.deposit_held == event.held_left, "an application replays to the deposit it left"
            _approved(state, event.approval)
        case DepositReturned():
            state.deposit_held = state.deposit() - event.amount
            assert not state.deposit_held.is_negative, "only the deposit held is returned"
            state.documents += 1
            _approved(state, event.approval)
        case BankGuaranteeRecorded():
            state.guarantees[event.guarantee_number] = Guarantee(
                event.guarantee_number, event.bank_name, event.bank_bic, event.amount, event.valid_from,
                event.valid_until, Money.zero(state.currency))
        case BankGuaranteeCalled():
            guarantee = state.guarantees[event.guarantee_number]
            state.guarantees[event.guarantee_number] = dataclasses.replace(
                guarantee, called=guarantee.called + event.amount)
            state.security_references.add(event.bank_reference)
            for piece in event.slices:
                _change_open(state, piece.item_id, -piece.amount, event.called_on)
        case InstallmentAgreementBroken():
            state.agreements[event.document_number] = dataclasses.replace(state.agreements[event.document_number],
                                                                          broken_on=event.broken_on)
            for piece in event.cancelled:
                debt = state.debts[piece.item_id]
                debt.outstanding = debt.outstanding - piece.amount
                assert not debt.outstanding.is_negative, "only what is open of an interest is cancelled"
                _record(debt, event.broken_on, -piece.amount)
    return state


def fold(events: Iterable[Event]) -> Account | None:
    state = None
    for event in events:
        state = evolve(state, event)
    return state


def _approved(state: Account, approval: Approval | None) -> None:
    """The request an approved correction answers is pending no more (a collection run's approval names the
    run, which is no request of the account's)."""
    if approval is not None:
        state.pending.pop(approval.request_id, None)


def _accrual_start(late: list[Debt]) -> date:
    """The first day an accrual on these debts covers: the day after the last accrual, or after the due date."""
    through = max((d.penalty_through for d in late if d.penalty_through), default=None)
    if through is not None:
        return through + timedelta(days=1)
    return max(d.due_date for d in late) + timedelta(days=1)


def _add_debt(state: Account, document: str, kind: alloc.DebtKind, period: str, due: date, amount: Money) -> None:
    item_id = f"{document}:{kind.value}"
    existing = state.debts.get(item_id)
    if existing is None:
        state.debts[item_id] = Debt(item_id, document, kind, period, due, amount, [(due, amount)])
    else:  # a correcting invoice adds (or takes off) the difference on the same item
        existing.outstanding = existing.outstanding + amount
        _record(existing, due, amount)


def _change_open(state: Account, item_id: str, change: Money, day: date) -> None:
    """What is open of a debt changes by `change` from `day` on (a write-off, its recovery)."""
    debt = state.debts[item_id]
    debt.outstanding = debt.outstanding + change
    assert not debt.outstanding.is_negative, "a debt is never taken below zero"
    _record(debt, day, change)
    if debt.kind is alloc.DebtKind.PENALTY:
        state.penalties[debt.document] = debt.outstanding


def _unlog(state: Account, item_id: str, amount: Money) -> None:
    """Take `amount` off the most recent applications to `item_id` (they were reopened)."""
    for index in range(len(state.applied_log) - 1, -1, -1):
        if amount.is_zero:
            return
        logged_item, logged = state.applied_log[index]
        if logged_item != item_id:
            continue
        taken = min(logged, amount)
        state.applied_log[index] = (logged_item, logged - taken)
        amount = amount - taken
    assert amount.is_zero, "only applied money can be reopened"


def _record(debt: Debt, day: date, change: Money) -> None:
    if debt.history and debt.history[-1][0] == day:
        debt.history[-1] = (day, debt.history[-1][1] + change)
    else:
        debt.history.append((day, change))


def slice_of(debt: Debt, amount: Money) -> AllocationSlice:
    """`amount` of the debt, as the events that move a debt's open amount name it."""
    return AllocationSlice(item_id=debt.item_id, document=debt.document, kind=debt.kind.value, period=debt.period,
                           amount=amount)


def _charge_from(event: InvoiceIssued) -> Charge:
    lines = tuple(ChargeLine(l.component, l.first_day, l.last_day, l.volume_kwh, l.rate_per_kwh, l.net,
                             l.vat_rate_percent, l.vat) for l in event.lines)
    first = min(l.first_day for l in event.lines) if lines else date.fromisoformat(f"{event.period}-01")
    last = max(l.last_day for l in event.lines) if lines else first
    return Charge(first, last, event.esf_date, event.volume_kwh, lines, event.total.currency)


# ---- commands -----------------------------------------------------------------------------------
def open_account(signed: ContractSigned) -> list[Event]:
    return [AccountOpened(contract_id=signed.contract_id, terms=signed.terms)]


def postings(item: Entry) -> list[PostingLine]:
    return [PostingLine(account=p.account.value, amount=p.amount) for p in item.postings]


def lines_of(charge: Charge) -> list[ChargeLineData]:
    return [ChargeLineData(component=l.component, first_day=l.first_day, last_day=l.last_day, volume_kwh=l.volume_kwh,
                           rate_per_kwh=l.rate_per_kwh, net=l.net, vat_rate_percent=l.vat_rate_percent, vat=l.vat)
            for l in charge.lines]


def period_bounds(period: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{period}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def issue_invoice(state: Account, *, act_id: str, period: str, volume_kwh: Decimal, issued_on: date,
                  corrects_act_id: str | None, vat: DatedRates, calendar: WorkingCalendar) -> list[Event]:
    """Charge the month from its volume act; a corrected act is charged by difference only."""
    if act_id in state.charges:
        raise Conflict(f"act {act_id} is already invoiced", reason="act_already_invoiced")
    first, last = period_bounds(period)
    charge = price_volume(volume_kwh=volume_kwh, first_day=first, last_day=last, schedule=state.terms.price_schedule,
                          vat=vat, currency=state.currency)
    corrects = None
    number = f"INV-{state.terms.number}-{period}"
    if corrects_act_id is not None:
        if corrects_act_id not in state.charges:
            raise NotFound(f"the corrected act {corrects_act_id} was never invoiced", reason="corrected_act_unknown")
        if state.latest_act.get(period) != corrects_act_id:
            raise Conflict(f"act {corrects_act_id} is not the latest act of {period}", reason="corrected_act_superseded")
        _, corrects, original = state.charges[corrects_act_id]
        charge = difference(charge, original)
        number = f"{number}-C{state.documents + 1}"
    elif state.latest_act.get(period):
        raise Conflict(f"{period} is already invoiced; send a corrected act", reason="period_already_invoiced")
    if all(line.net.is_zero and line.vat.is_zero for line in charge.lines):
        raise Conflict("the corrected act charges nothing different", reason="correction_changes_nothing")
    released = _released(state, corrects, charge) if corrects else []
    due = calendar.add_banking_days(issued_on, PAYMENT_DAYS_AFTER_INVOICE)
    invoice = InvoiceIssued(
        contract_id=state.contract_id, document_number=number, period=period, act_id=act_id,
        corrects_document=corrects, invoice_date=issued_on, esf_date=last,
        esf_deadline=(last + timedelta(days=1)).replace(day=ESF_DEADLINE_DAY), due_date=due,
        volume_kwh=charge.volume_kwh, lines=lines_of(charge), net=charge.net, vat=charge.vat, total=charge.total,
        released_to_advance=released,
        postings=postings(_correction_entry(charge, released)),
    )
    return _then_allocate(state, [invoice], trigger=number, on=issued_on)


def _released(state: Account, original: str, charge: Charge) -> list[AllocationSlice]:
    """Where a credit exceeds what is still open on the original debt, the excess returns to the advance."""
    released = []
    for kind, delta in ((alloc.DebtKind.ENERGY, charge.net), (alloc.DebtKind.VAT, charge.vat)):
        debt = state.debts.get(f"{original}:{kind.value}")
        if debt is None or not delta.is_negative:
            continue
        excess = -(debt.outstanding + delta)
        if excess.is_positive:
            released.append(AllocationSlice(item_id=debt.item_id, document=original, kind=kind.value,
                                            period=debt.period, amount=excess))
    return released


def _correction_entry(charge: Charge, released: list[AllocationSlice]) -> Entry:
    base = charge.ledger_entry()
    if not released:
        return base
    pairs = [(p.account, p.amount) for p in base.postings]
    for piece in released:
        pairs += [(alloc.RECEIVABLE_OF[alloc.DebtKind(piece.kind)], piece.amount), (LedgerAccount.ADVANCE, -piece.amount)]
    return entry(*pairs)


def receive_payment(state: Account, *, payment_id: str, bank_reference: str, amount: Money, received_on: date,
                    payer: Sealed | None, purpose: Sealed | None, posted_on: date | None = None,
                    rates: DatedRates | None = None) -> list[Event]:
    """Money valued on `received_on` (the bank's value date), booked on `posted_on` (the same day when
    absent). `payer`: the payer's BIN and IBAN, `purpose` the payment's purpose, each sealed by the edge
    with the contract's key (or none).

    A value date on a day penalties were already charged for (`penalised_on`) changes what was late:
    the penalties are recalculated in the same command (`rates` is then needed), dated `posted_on`."""
    posted_on = posted_on or received_on
    if posted_on < received_on:
        raise ValidationFailed(f"money valued on {received_on} cannot be booked before, on {posted_on}",
                               reason="posting_before_value_date")
    if not amount.is_positive:
        raise ValidationFailed("a payment must be a positive amount", reason="non_positive_amount")
    if amount.currency != state.currency:
        raise ValidationFailed(f"the contract settles in {state.currency}, not {amount.currency}",
                               reason="currency_mismatch")
    if not amount.is_rounded:
        raise ValidationFailed("a payment has at most two decimals", reason="unrounded_amount")
    if bank_reference in state.payments or bank_reference in state.security_references:
        raise Conflict(f"bank reference {bank_reference} is already posted", reason="duplicate_bank_reference")
    received = PaymentReceived(
        contract_id=state.contract_id, payment_id=payment_id, bank_reference=bank_reference, amount=amount,
        received_on=received_on, payer=payer, purpose=purpose,
        postings=postings(transfer(LedgerAccount.CASH, LedgerAccount.ADVANCE, amount)),
        posted_on=posted_on if posted_on != received_on else None,
    )
    events = _then_allocate(state, [received], trigger=payment_id, on=received_on,
                            posted_on=posted_on if posted_on != received_on else None)
    events += _recover(state, events, on=received_on, trigger=payment_id)
    if penalised_on(state, received_on):
        assert rates is not None, "a value date on penalised days needs the rates to recalculate them"
        events += recalculate_penalties(_after(state, events), rates=rates, posted_on=posted_on,
                                        cause=f"payment {bank_reference} valued {received_on}, booked {posted_on}")
    return events + _restore_if_covered(state, events, posted_on)


def _recover(state: Account, events: list[Event], *, on: date, trigger: str) -> list[Event]:
    """Money left in the advance after what was open recovers written-off debt, oldest written off first (§5.8:
    debt of previous periods first): the items are owed again and the advance pays them."""
    if not state.written_off:
        return []
    after = _after(state, events)
    left = after.advance
    slices: list[AllocationSlice] = []
    for item_id, written_off in state.written_off.items():
        if not left.is_positive:
            break
        taken = min(left, written_off)
        debt = state.debts[item_id]
        slices.append(slice_of(debt, taken))
        left = left - taken
    if not slices:
        return []
    amount = sum((s.amount for s in slices), Money.zero(state.currency))
    pairs = [(alloc.RECEIVABLE_OF[alloc.DebtKind(s.kind)], s.amount) for s in slices]
    recovered = DebtRecovered(contract_id=state.contract_id, recovered_on=on, trigger=trigger, slices=slices,
                              amount=amount,
                              postings=postings(entry(*pairs, (LedgerAccount.WRITE_OFF_EXPENSE, -amount))))
    return _then_allocate(after, [recovered], trigger=trigger, on=on)


def penalised_on(state: Account, day: date) -> bool:
    """Whether a change of a debt dated `day` falls on a day a penalty was already charged for."""
    return any(a.last_day >= day for accruals in state.accruals.values() for a in accruals)


def folded_after(state: Account, events: Sequence[Event]) -> Account:
    """A copy of the account with `events` applied (the state untouched)."""
    return _after(state, list(events))


def recalculated_if_penalised(state: Account, events: Sequence[Event], *, day: date, rates: DatedRates,
                              cause: str) -> list[Event]:
    """`events` changed debts from `day` on: when penalties were already charged for `day`, what they change of
    the late amounts is recalculated (§5.7) in the same command, posted on `day`."""
    if not penalised_on(state, day):
        return []
    return recalculate_penalties(_after(state, list(events)), rates=rates, posted_on=day, cause=cause)


def _after(state: Account, events: list[Event]) -> Account:
    after = copy.deepcopy(state)
    for event in events:
        after = evolve(after, event)
    return after


def recalculate_penalties(state: Account, *, rates: DatedRates, posted_on: date, cause: str) -> list[Event]:
    """§5.7 on what is known now: every accrual window recomputed from today's late amounts; where a
    window's figure moved, one `PenaltyRecalculated` per late document, dated `posted_on`, corrects it (the
    charged penalty documents stay as they were: their period may be closed)."""
    terms = _penalty_terms(state)
    events: list[PenaltyRecalculated] = []
    number = state.documents
    for late_item, accruals in sorted(state.accruals.items()):
        debts = [d for d in state.debts.values() if d.document == late_item and d.kind in alloc.PRINCIPAL]
        windows: list[RecalculatedWindow] = []
        slices: list[PenaltySliceData] = []
        for accrual in accruals:
            if accrual.penalty_document in state.reversed_penalties:
                continue   # taken back whole: its days are charged no more, whatever they say now
            late = _late_amounts(debts, accrual.first_day, accrual.last_day, state.currency, terms.count_payment_day)
            penalty = compute_penalty(late, rates, terms, state.currency, paused_for(state, late_item))
            if penalty.total != accrual.amount:
                windows.append(RecalculatedWindow(penalty_document=accrual.penalty_document,
                                                  first_day=accrual.first_day, last_day=accrual.last_day,
                                                  was=accrual.amount, now=penalty.total))
                slices += _slice_data(penalty, terms)
        if not windows:
            continue
        number += 1
        events.append(_recalculated(state, f"PEN-{state.terms.number}-{number}", late_item, debts[0].period,
                                    windows, slices, posted_on, cause))
        state = evolve(copy.deepcopy(state), events[-1])
    if not events:
        return []
    return _then_allocate(state, events, trigger=events[-1].document_number, on=posted_on, folded=True)


def pause_penalties(state: Account, *, notice_id: str, party: str, started_on: date, ended_on: date | None,
                    rates: DatedRates, posted_on: date) -> list[Event]:
    """§8.1 the buyer's obligation to pay is suspended while it relies on force majeure: no penalty runs on
    those days. The seller's force majeure leaves the buyer's penalties as they are; an announcement already
    recorded changes nothing. Penalties already charged for days now paused are recalculated, dated
    `posted_on`."""
    period = PausedPeriod(started_on, ended_on)
    if party != "buyer" or state.paused.get(notice_id) == period:
        return []
    paused: list[Event] = [PenaltyPausedByForceMajeure(contract_id=state.contract_id, notice_id=notice_id,
                                                       first_day=started_on, last_day=ended_on)]
    if not penalised_on(state, started_on):
        return paused
    return paused + recalculate_penalties(_after(state, paused), rates=rates, posted_on=posted_on,
                                          cause=f"force majeure {notice_id}")


def _recalculated(state: Account, number: str, late_item: str, period: str, windows: list[RecalculatedWindow],
                  slices: list[PenaltySliceData], posted_on: date, cause: str) -> PenaltyRecalculated:
    """Less than charged comes off the window's own penalty document while it is open, the rest goes back
    to the advance (it was paid); more than charged is a new penalty document."""
    zero = Money.zero(state.currency)
    reduced: list[AllocationSlice] = []
    released, charged = zero, zero
    for window in windows:
        change = window.now - window.was
        if change.is_positive:
            charged = charged + change
            continue
        debt = state.debts[f"{window.penalty_document}:penalty"]
        taken = min(debt.outstanding - sum((p.amount for p in reduced if p.item_id == debt.item_id), zero), -change)
        if taken.is_positive:
            reduced.append(slice_of(debt, taken))
        released = released + (-change - taken)
    pairs = [(LedgerAccount.PENALTY_INCOME, sum((p.amount for p in reduced), zero)),
             (LedgerAccount.RECEIVABLE_PENALTY, -sum((p.amount for p in reduced), zero)),
             (LedgerAccount.PENALTY_INCOME, released), (LedgerAccount.ADVANCE, -released),
             (LedgerAccount.RECEIVABLE_PENALTY, charged), (LedgerAccount.PENALTY_INCOME, -charged)]
    return PenaltyRecalculated(
        contract_id=state.contract_id, document_number=number, late_item_id=late_item, period=period, cause=cause,
        posted_on=posted_on, windows=windows, slices=slices, reduced=reduced, released_to_advance=released,
        charged=charged, postings=postings(entry(*pairs)))


def _invoiced_periods(state: Account) -> set[str]:
    return set(state.latest_act)


def _coverage(state: Account, day: date) -> tuple[bool, Money, Money]:
    required = required_cover(state.demands, _invoiced_periods(state), day, state.currency, state.terminated_on)
    return state.advance >= required, required, state.advance


def _restore_if_covered(state: Account, events: list[Event], day: date) -> list[Event]:
    """A payment that restores coverage lifts the notice or the restriction at once."""
    if state.notice is None:
        return []
    after = copy.deepcopy(state)
    for event in events:
        after = evolve(after, event)
    covered, required, held = _coverage(after, day)
    if not covered:
        return []
    return [CoverageChanged(contract_id=state.contract_id, as_of=day, covered=True, required=required, held=held),
            SupplyRestored(contract_id=state.contract_id, restored_on=day, notice_document=state.notice[0])]


def close_day(state: Account, *, day: date, today: date) -> list[Event]:
    """Day close of a day that is over (`today` in the contract's zone): the facts of the day, nothing that
    uses a right of the seller's. Coverage (§5.3: whether the advance covers the prepayments due, which the
    contracts service forms the next days' schedules by), restoration of supply under a notice once covered,
    and the settlement of an account whose every obligation is performed. Penalties (§5.7), restriction notices
    and restrictions (§5.3, §7.1.1) and notices that end the contract (§7.1.1, §11.2) are the seller's rights:
    a collection run proposes them and another person approves (`domain/collection.py`)."""
    require_over(day, today)
    if state.closed_through is not None and day <= state.closed_through:
        return []  # closing a day twice changes nothing
    events: list[Event] = []
    covered, required, held = _coverage(state, day)
    if covered != state.covered and (state.covered is not None or not covered):
        events.append(CoverageChanged(contract_id=state.contract_id, as_of=day, covered=covered, required=required,
                                      held=held))
    if covered and state.notice is not None:
        events.append(SupplyRestored(contract_id=state.contract_id, restored_on=day, notice_document=state.notice[0]))
    events += _broken_agreements(state, day)
    if _every_obligation_performed(state, day):
        events.append(AccountSettled(contract_id=state.contract_id, settled_on=day))
    return [*events, DayClosed(contract_id=state.contract_id, day=day)]


def _broken_agreements(state: Account, day: date) -> list[Event]:
    """An installment agreement whose installment is unpaid after its date breaks on `day`: its principal returns
    to collection, and the interest of the installments not yet due (due on `day` or later) is cancelled."""
    events: list[Event] = []
    for number, agreement in sorted(state.agreements.items()):
        if agreement.broken_on is not None:
            continue
        principal_open = sum((d.outstanding for d in state.debts.values()
                              if d.document in agreement.documents and d.kind in alloc.PRINCIPAL),
                             Money.zero(state.currency))
        interest = {i.number: state.debts.get(f"{agreement.interest_document(i.number)}:interest")
                    for i in agreement.installments}
        interest_open = sum((d.outstanding for d in interest.values() if d), Money.zero(state.currency))
        missed = agreement.missed(day, principal_open + interest_open)
        if missed is None:
            continue
        cancelled = [slice_of(d, d.outstanding)
                     for d in interest.values() if d is not None and d.due_date >= day and d.outstanding.is_positive]
        total = sum((c.amount for c in cancelled), Money.zero(state.currency))
        events.append(InstallmentAgreementBroken(
            contract_id=state.contract_id, document_number=number, broken_on=day, missed_installment=missed.number,
            principal_open=principal_open, cancelled=cancelled,
            postings=postings(entry((LedgerAccount.INTEREST_INCOME, total),
                                    (LedgerAccount.RECEIVABLE_INTEREST, -total))) if total.is_positive else []))
    return events


def _every_obligation_performed(state: Account, day: date) -> bool:
    """§3.1 the contract is performed: supply is over (its term ended, or a termination ended it), every
    month supplied invoiced, nothing owed either way (no debt, including penalties; no advance: it was
    applied or refunded; no refund still to pay out, §5.8; no security deposit held: applied or returned). Said
    once."""
    return (state.settled_on is None and day > state.last_supply_day()
            and all(month in state.latest_act for month in state.supplied_months())
            and state.debt_total().is_zero and state.advance.is_zero and state.refunds_unpaid().is_zero
            and state.deposit().is_zero)


def amend_terms(state: Account, *, kind: str, document_number: str, document_date: date, effective_from: date,
                summary: str, terms: SealedContractTerms) -> list[Event]:
    """The account takes an amendment's terms from its effective date on (`domain.terms`)."""
    if document_number in state.amendments:
        return []  # the same amendment twice changes nothing
    if terms.currency != state.currency:
        raise ValidationFailed(f"the account settles in {state.currency}; an amendment cannot change it",
                               reason="currency_change")
    return [AccountTermsAmended(contract_id=state.contract_id, kind=kind, document_number=document_number,
                                document_date=document_date, effective_from=effective_from, summary=summary,
                                terms=terms_from(state.terms, terms, effective_from))]


def _penalty_terms(state: Account) -> PenaltyTerms:
    """§5.7 as the contract words it (its multiplier, day count and payment day), never a request's."""
    clause = state.terms.penalty
    return PenaltyTerms(clause.multiplier, clause.basis_days, clause.count_payment_day)


def _slice_data(penalty: Penalty, terms: PenaltyTerms) -> list[PenaltySliceData]:
    return [PenaltySliceData(amount=s.amount, first_day=s.first_day, last_day=s.last_day, days=s.days,
                             base_rate_percent=s.rate_percent, multiplier=terms.multiplier,
                             basis_days=terms.basis_days, penalty=s.penalty) for s in penalty.slices]


def accrue_penalties(state: Account, *, as_of: date, rates: DatedRates,
                     documents: Collection[str] | None = None) -> list[Event]:
    """§5.7 for every late invoice (of `documents` only, when given), from the day after the last accrual (or the
    due date) to `as_of`."""
    terms = _penalty_terms(state)
    events: list[Event] = []
    number = state.documents
    for document, debts in _accruing(state, as_of, terms, documents).items():
        start = _accrual_start(debts)
        late = _late_amounts(debts, start, as_of, state.currency, terms.count_payment_day)
        penalty = compute_penalty(late, rates, terms, state.currency, paused_for(state, document))
        if not penalty.total.is_positive:
            continue
        number += 1
        events.append(PenaltyAccrued(
            contract_id=state.contract_id, document_number=f"PEN-{state.terms.number}-{number}",
            late_item_id=document, period=debts[0].period, accrued_through=as_of,
            slices=_slice_data(penalty, terms),
            amount=penalty.total,
            postings=postings(transfer(LedgerAccount.RECEIVABLE_PENALTY, LedgerAccount.PENALTY_INCOME, penalty.total)),
        ))
    if not events:
        return []
    return _then_allocate(state, events, trigger="penalties", on=as_of)


def penalty_candidates(state: Account, as_of: date) -> list[str]:
    """The documents an accrual through `as_of` may charge (in order): every other one draws nothing."""
    return list(_accruing(state, as_of, _penalty_terms(state), None))


def _accruing(state: Account, as_of: date, terms: PenaltyTerms, documents: Collection[str] | None
              ) -> dict[str, list[Debt]]:
    """The principal debts due before `as_of` by document, in the documents' order (of `documents` only, when
    given), without the documents settled by their accrual's start: nothing of them is open on any day it covers
    (most of a year's invoices, paid in time)."""
    by_document: dict[str, list[Debt]] = {}
    for debt in state.debts.values():
        if debt.kind in alloc.PRINCIPAL and debt.due_date < as_of and (
                documents is None or debt.document in documents):
            by_document.setdefault(debt.document, []).append(debt)
    shift = timedelta(days=1) if terms.count_payment_day else timedelta(0)
    return {document: debts for document, debts in sorted(by_document.items())
            if not _settled_by(debts, _accrual_start(debts) - shift)}


def paused_for(state: Account, document: str) -> list[PausedPeriod]:
    """The days a late document draws no penalty: the buyer's force majeure (§8.1), and the days an installment
    agreement covering it holds (its own interest is what they cost)."""
    return [*state.paused.values(), *(a.pause() for a in state.agreements.values() if document in a.documents)]


def _settled_by(debts: list[Debt], day: date) -> bool:
    """Every change of the debts is dated by `day` and they add up to nothing: nothing was open after `day`.
    What the changes add up to is what is outstanding (each change of it is recorded with it, `_record`), so the
    sum over the history is not made again, and an open debt is told at once."""
    return (sum((debt.outstanding.amount for debt in debts), _NOTHING).is_zero()   # see `open_at_start_of`
            and all(changed_on <= day for debt in debts for changed_on, _ in debt.history))


def _late_amounts(debts: list[Debt], start: date, end: date, currency: str,
                  count_payment_day: bool = True) -> list[LateAmount]:
    """Segments of constant late amount. On day t the late amount is what was open before t's payments
    when the payment day counts as a day of delay (§5.7, the default), after them when it does not."""
    if end < start:
        return []
    shift = timedelta(days=1) if count_payment_day else timedelta(0)
    # each change counts from the day it shifts to; the late amount of a segment starting on `first` is every
    # change counting by then (`open_at_start_of` of `first + 1 - shift`), summed in one sweep over the changes
    # in day order rather than once per segment and debt (a year's account has dozens of each)
    counting = sorted(((day + shift, change) for debt in debts for day, change in debt.history), key=itemgetter(0))
    cuts = list(dict.fromkeys(day for day, _ in counting if start < day <= end))   # in day order already
    bounds = [start, *cuts]
    parts = []
    amount, taken = Money.zero(currency), 0
    for index, first in enumerate(bounds):
        while taken < len(counting) and counting[taken][0] <= first:
            amount = amount + counting[taken][1]
            taken += 1
        last = bounds[index + 1] - timedelta(days=1) if index + 1 < len(bounds) else end
        if amount.is_positive:
            parts.append(LateAmount(amount, first, last))
    return parts


# A debt's changes summed as plain Decimals, one Money made of the sum: every amount is below 10^15 with at most a
# few decimals (`shared.money.MAX_ABS_AMOUNT`), so such a sum is exact in the default context's 28 digits, and a
# collection proposal sums a year's debts several times over (§5.7 and §11.2 each ask what was open when)
_NOTHING = Decimal(0)


def open_at_start_of(debt: Debt, day: date) -> Money:
    """The debt's amount open at the start of `day`: every change dated before it."""
    return Money(sum((change.amount for changed_on, change in debt.history if changed_on < day), _NOTHING),
                 debt.outstanding.currency)


def waive_penalty(state: Account, *, document_number: str, amount: Money | None, reason: str,
                  waived_on: date, approval: Approval | None = None) -> list[Event]:
    """Forgive (part of) a penalty; `amount` none: all that is open. From an approved request (`approval`)
    or an accepted claim's correction (`application.Invoicing.grant_claim`)."""
    if not reason.strip():
        raise ValidationFailed("a waiver needs a reason", reason="missing_reason")
    open_amount = state.penalties.get(document_number)
    if open_amount is None:
        raise NotFound(f"no penalty {document_number}", reason="penalty_not_found")
    amount = amount or open_amount
    if not amount.is_positive or amount > open_amount:
        raise ValidationFailed(f"at most {open_amount} of {document_number} is open to waive",
                               reason="waiver_exceeds_penalty")
    return [PenaltyWaived(contract_id=state.contract_id, document_number=document_number, amount=amount,
                          reason=reason.strip(), waived_on=waived_on,
                          postings=postings(transfer(LedgerAccount.PENALTY_INCOME, LedgerAccount.RECEIVABLE_PENALTY,
                                                     amount)), approval=approval)]


def request_prepayments(state: Account, *, period: str, vat: DatedRates, calendar: WorkingCalendar,
                        applied: dict[date, Decimal] | None = None) -> list[Event]:
    """§5.3 one demand per block of `period`, cut by the contract's rule (`terms.prepayment.blocks`); `applied`:
    the days' accepted applications known. A block whose days a demand already covers is not asked again, so a
    month requested before its contract's rule changed is not demanded twice. A contract terminated early is
    demanded nothing for its days from the termination on (§7.1.1; a month wholly after it is refused)."""
    plan = {v.month: v.volume_kwh for v in state.terms.planned_volumes}
    if period not in plan:
        # the contract's plan holds no such month: a refusal against what the contract says (409)
        raise Conflict(f"no planned volume for {period}", reason="no_plan_for_period", details={"period": period})
    year, month = int(period[:4]), int(period[5:])
    if state.terminated_on is not None and period_bounds(period)[0] >= state.terminated_on:
        # §7.1.1 supply stopped before the month: there is nothing to prepay
        raise Conflict(f"the contract was terminated from {state.terminated_on}: {period} is not supplied",
                       reason="contract_terminated", details={"terminated_on": state.terminated_on.isoformat()})
    events: list[Event] = []
    number = state.documents
    for demand in prepayment_demands(year=year, month=month, plan_kwh=plan[period],
                                     schedule=state.terms.price_schedule, vat=vat, currency=state.currency,
                                     calendar=calendar, applied=applied, rule=state.terms.prepayment.blocks,
                                     terminated_on=state.terminated_on):
        if demand.block.block_id in state.prepayments or _demanded(state, demand.block.first_day,
                                                                   demand.block.last_day):
            continue  # requested already: asking twice changes nothing
        number += 1
        events.append(PrepaymentRequested(
            contract_id=state.contract_id, document_number=f"PRE-{state.terms.number}-{number}",
            block_id=demand.block.block_id, first_day=demand.block.first_day, last_day=demand.block.last_day,
            volume_kwh=demand.volume_kwh, lines=lines_of(demand.charge), amount=demand.charge.total,
            due_date=demand.due_date))
    return events


def _demanded(state: Account, first_day: date, last_day: date) -> bool:
    """Whether a demand made already covers a day of `first_day`…`last_day` (block ids are `first..last`)."""
    for block_id in state.prepayments:
        first, last = (date.fromisoformat(part) for part in block_id.split(".."))
        if first <= last_day and first_day <= last:
            return True
    return False


def allocate_advance(state: Account, events: Sequence[Event], *, trigger: str, on: date) -> list[Event]:
    """`events`, then the advance applied to whatever is open after them (§5.8, debt first)."""
    return _then_allocate(state, events, trigger=trigger, on=on)


def _then_allocate(state: Account, events: Sequence[Event], *, trigger: str, on: date, posted_on: date | None = None,
                   folded: bool = False) -> list[Event]:
    """Apply the advance to whatever is open after `events` (§5.8: the advance pays the next charges);
    `folded`: `state` holds `events` already. `on` is when the money paid (a payment's value date),
    `posted_on` the posting date when it differs."""
    if not folded and state.advance.is_zero and all(_leaves_advance(event) for event in events):
        return list(events)   # no advance before them, none made by them: nothing to apply
    if folded:
        advance, open_items = state.advance, state.open_items()
    else:
        advance, open_items = _advance_and_open_items_after(state, events)
    result = alloc.allocate_payment(advance, open_items, on.strftime("%Y-%m"))
    booked = result.ledger_entry()
    if booked is None:
        return list(events)
    return [*events, PaymentAllocated(
        contract_id=state.contract_id, policy=alloc.POLICY, trigger=trigger, allocated_on=on,
        slices=[AllocationSlice(item_id=s.item_id, document=s.document, kind=s.kind.value, period=s.period,
                                amount=s.amount) for s in result.slices],
        advance_left=result.advance_left, postings=postings(booked), posted_on=posted_on)]


def _advance_and_open_items_after(state: Account, events: Sequence[Event]) -> tuple[Money, list[alloc.OpenItem]]:
    """What allocation needs once `events` are applied. Money received only adds to the advance, so a
    payment needs no copy of the account: a copy costs the whole history (every payment before), and a
    statement of thousands of lines for one contract was quadratic in it."""
    received = [event for event in events if isinstance(event, PaymentReceived)]
    if len(received) == len(events):
        advance = state.advance
        for payment in received:
            advance = advance + payment.amount
        return advance, state.open_items()
    if len(events) == 1 and isinstance(events[0], InvoiceIssued):
        found = _open_items_after_new_invoice(state, events[0])
        if found is not None:
            return state.advance, found
    after = copy.deepcopy(state)
    for event in events:
        after = evolve(after, event)
    return after.advance, after.open_items()


def _leaves_advance(event: Event) -> bool:
    """The event changes debts only, never the advance (`evolve`): a charge of a month or a penalty."""
    return isinstance(event, PenaltyAccrued) or (isinstance(event, InvoiceIssued) and not event.released_to_advance)


def _open_items_after_new_invoice(state: Account, invoice: InvoiceIssued) -> list[alloc.OpenItem] | None:
    """The open items once a month's first invoice is folded (what `evolve` adds: its energy and VAT debts, new
    items after the others), without copying the account: a month close invoices every account, and a copy of a
    year's account costs more than deciding its invoice. None for a correction, or an item already there: those
    change existing debts, and take the copy."""
    if invoice.corrects_document is not None or invoice.released_to_advance:
        return None
    added = []
    for kind, amount in ((alloc.DebtKind.ENERGY, invoice.net), (alloc.DebtKind.VAT, invoice.vat)):
        item_id = f"{invoice.document_number}:{kind.value}"
        if item_id in state.debts or amount.is_negative:
            return None
        if amount.is_positive:
            added.append(alloc.OpenItem(item_id, invoice.document_number, kind, invoice.period, invoice.due_date,
                                        amount))
    return [*state.open_items(), *added]


def issue_refund(state: Account, *, refund_on: date, rates: DatedRates, approval: Approval | None = None
                 ) -> list[Event]:
    """§5.8 "if the buyer stops buying, overpayments are refunded, except what covers its debt": from the
    first day without supply on (the term ended or a termination took effect), once the last month supplied
    is invoiced; the refund is the advance left after every debt, the penalties for every day of delay up to
    `refund_on` charged first (the advance pays them, debt first)."""
    require_final_settlement(state, refund_on, held="an overpayment is carried as advance")
    events = accrue_penalties(state, as_of=refund_on, rates=rates)
    after = _after(state, events) if events else state
    if not after.advance.is_positive:
        raise Conflict("there is no advance to refund", reason="nothing_to_refund",
                       details={"debt": str(after.debt_total().amount)})
    assert not after.open_items(), "an advance is never held while debt is open"
    # paid to the buyer's requisites as the terms hold them, sealed: copied, never opened (the bank order is
    # made where the key is held)
    return [*events, RefundIssued(
        contract_id=state.contract_id, document_number=f"RF-{state.terms.number}-{after.documents + 1}",
        refund_on=refund_on, amount=after.advance, payee=state.terms.buyer,
        postings=postings(transfer(LedgerAccount.ADVANCE, LedgerAccount.REFUND_PAYABLE, after.advance)),
        approval=approval)]


def require_final_settlement(state: Account, day: date, *, held: str) -> None:
    """Money held for the buyer goes back on `day` only in the final settlement: supply is over (its term ended or
    a termination took effect) and the last month supplied is invoiced. `held`: what the money is meanwhile."""
    settle_from = state.last_supply_day() + timedelta(days=1)
    if day < settle_from:
        raise Conflict(f"the contract is still supplied: {held}", reason="contract_in_force",
                       details={"refund_from": settle_from.isoformat(),
                                "delivery_end": state.terms.delivery_end.isoformat(),
                                "terminated_on": state.terminated_on.isoformat() if state.terminated_on else None})
    months = state.supplied_months()
    if months and months[-1] not in state.latest_act:
        # the last month's charge comes from its volume act: paying back before it would pay back what it takes
        raise Conflict(f"the volume act of {months[-1]}, the last month supplied, is not invoiced yet",
                       reason="last_act_not_invoiced", details={"period": months[-1]})


def pay_out_refund(state: Account, *, refund_document: str, payment_order_number: str,
                   payment_order_date: date) -> list[Event]:
    """§5.8 the treasury paid an issued refund out by its payment order: once, never before the refund."""
    refund = state.refunds.get(refund_document)
    if refund is None:
        raise NotFound(f"no refund {refund_document} on this contract", reason="refund_not_found")
    if refund.payment_order is not None:
        raise Conflict(f"refund {refund_document} was paid out by payment order {refund.payment_order}",
                       reason="refund_already_paid_out",
                       details={"payment_order_number": refund.payment_order,
                                "payment_order_date": refund.paid_on.isoformat() if refund.paid_on else None})
    if payment_order_date < refund.refund_on:
        raise Conflict(f"refund {refund_document} is dated {refund.refund_on}: it is paid out on that day or later",
                       reason="payout_before_refund", details={"refund_on": refund.refund_on.isoformat()})
    if not payment_order_number.strip():
        raise ValidationFailed("a payout names its payment order", reason="missing_payment_order")
    return [RefundPaidOut(contract_id=state.contract_id, refund_document=refund_document, amount=refund.amount,
                          payment_order_number=payment_order_number.strip(), payment_order_date=payment_order_date,
                          postings=postings(transfer(LedgerAccount.REFUND_PAYABLE, LedgerAccount.CASH,
                                                     refund.amount)))]


def terminate(state: Account, *, terminated_on: date, notice_document: str) -> list[Event]:
    """The contract ended early (`contracts.ContractTerminated`): supply stops on `terminated_on`. Once: the
    same termination delivered again changes nothing."""
    if state.terminated_on is not None:
        return []
    return [AccountTerminated(contract_id=state.contract_id, terminated_on=terminated_on,
                              notice_document=notice_document)]


def reverse_payment(state: Account, *, bank_reference: str, reason: str, reversed_on: date,
                    approval: Approval | None = None, rates: DatedRates | None = None) -> list[Event]:
    """Take a wrongly posted payment back (the original stays): from the advance first, then by
    reopening the most recently paid debts (the reverse of the allocation order). Debts reopened on a day
    penalties were already charged for are recalculated (`rates` is then needed)."""
    payment_id = state.payments.get(bank_reference)
    if payment_id is None:
        raise NotFound(f"no payment {bank_reference} on this contract", reason="payment_not_found")
    if payment_id in state.reversed:
        raise Conflict(f"payment {bank_reference} is already reversed", reason="payment_already_reversed")
    if not reason.strip():
        raise ValidationFailed("a reversal needs a reason", reason="missing_reason")
    amount = state.received[payment_id]
    to_reopen = amount - min(amount, state.advance)
    reopened: list[AllocationSlice] = []
    for item_id, applied in reversed(state.applied_log):
        if to_reopen.is_zero:
            break
        if applied.is_zero:
            continue
        taken = min(applied, to_reopen)
        debt = state.debts[item_id]
        reopened.append(slice_of(debt, taken))
        to_reopen = to_reopen - taken
    assert to_reopen.is_zero, "money not in the advance was applied to debts"
    pairs = [(alloc.RECEIVABLE_OF[alloc.DebtKind(p.kind)], p.amount) for p in reopened]
    pairs += [(LedgerAccount.ADVANCE, -sum((p.amount for p in reopened), Money.zero(state.currency)))]
    pairs += [(LedgerAccount.ADVANCE, amount), (LedgerAccount.CASH, -amount)]
    events: list[Event] = [PaymentReversed(
        contract_id=state.contract_id, payment_id=payment_id, bank_reference=bank_reference, amount=amount,
        reason=reason.strip(), reversed_on=reversed_on, reopened=reopened, postings=postings(entry(*pairs)),
        approval=approval)]
    if reopened and penalised_on(state, reversed_on):
        assert rates is not None, "a reversal on penalised days needs the rates to recalculate them"
        events += recalculate_penalties(_after(state, events), rates=rates, posted_on=reversed_on,
                                        cause=f"payment {bank_reference} reversed on {reversed_on}")
    return events


# ---- four eyes: corrections asked for by one person, approved by another ------------------------------
def request_reversal(state: Account, *, request_id: str, bank_reference: str, reason: str, reversed_on: date,
                     requested_by: str) -> list[Event]:
    payment_id = state.payments.get(bank_reference)
    if payment_id is None:
        raise NotFound(f"no payment {bank_reference} on this contract", reason="payment_not_found")
    if payment_id in state.reversed:
        raise Conflict(f"payment {bank_reference} is already reversed", reason="payment_already_reversed")
    if not reason.strip():
        raise ValidationFailed("a reversal needs a reason", reason="missing_reason")
    no_request_pending(state.pending, PaymentReversalRequested.event_type, payment_id=payment_id)
    return [PaymentReversalRequested(contract_id=state.contract_id, request_id=request_id, payment_id=payment_id,
                                     bank_reference=bank_reference, reason=reason.strip(), reversed_on=reversed_on,
                                     requested_by=requested_by)]


def request_waiver(state: Account, *, request_id: str, document_number: str, amount: Money | None, reason: str,
                   waived_on: date, requested_by: str) -> list[Event]:
    waive_penalty(state, document_number=document_number, amount=amount, reason=reason, waived_on=waived_on)
    no_request_pending(state.pending, PenaltyWaiverRequested.event_type, document_number=document_number)
    return [PenaltyWaiverRequested(contract_id=state.contract_id, request_id=request_id,
                                   document_number=document_number, amount=amount, reason=reason.strip(),
                                   waived_on=waived_on, requested_by=requested_by)]


def request_refund(state: Account, *, request_id: str, refund_on: date, requested_by: str,
                   rates: DatedRates) -> list[Event]:
    issue_refund(state, refund_on=refund_on, rates=rates)
    no_request_pending(state.pending, RefundRequested.event_type)
    return [RefundRequested(contract_id=state.contract_id, request_id=request_id, refund_on=refund_on,
                            requested_by=requested_by)]


def approve(state: Account, *, request_id: str, approved_by: str, rates: DatedRates) -> list[Event]:
    """The second person approves: the correction is decided now, on today's account (a waiver's open
    penalty, a refund's advance), and carries who asked and who approved."""
    pending = pending_request(state.pending, request_id)
    check_approver(pending, approved_by)
    approval = Approval(request_id=request_id, requested_by=pending.requested_by, approved_by=approved_by)
    match pending.request:
        case PaymentReversalRequested() as asked:
            return reverse_payment(state, bank_reference=asked.bank_reference, reason=asked.reason,
                                   reversed_on=asked.reversed_on, approval=approval, rates=rates)
        case PenaltyWaiverRequested() as asked:
            return waive_penalty(state, document_number=asked.document_number, amount=asked.amount,
                                 reason=asked.reason, waived_on=asked.waived_on, approval=approval)
        case RefundRequested() as asked:
            return issue_refund(state, refund_on=asked.refund_on, rates=rates, approval=approval)
        case TerminationNoticeProposed() as asked:
            return [TerminationNoticeIssued(
                contract_id=state.contract_id, document_number=f"TN-{state.terms.number}-{state.documents + 1}",
                issued_on=asked.issued_on, terminate_on=asked.terminate_on, overdue_amount=asked.overdue_amount,
                overdue_documents=asked.overdue_documents, approval=approval)]
    raise AssertionError(f"no approval rule for {pending.action}")


def decline(state: Account, *, request_id: str, declined_by: str, reason: str) -> list[Event]:
    """The request is not carried out. Its own author may withdraw it: declining moves nothing."""
    pending_request(state.pending, request_id)
    if not reason.strip():
        raise ValidationFailed("declining needs a reason", reason="missing_reason")
    return [RequestDeclined(contract_id=state.contract_id, request_id=request_id, reason=reason.strip(),
                            declined_by=declined_by)]


def request_date_of(pending: Pending) -> date:
    """The business date the requested correction will carry."""
    match pending.request:
        case PaymentReversalRequested() as asked:
            return asked.reversed_on
        case PenaltyWaiverRequested() as asked:
            return asked.waived_on
        case RefundRequested() as asked:
            return asked.refund_on
        case TerminationNoticeProposed() as asked:
            return asked.issued_on
        case CollectionReversalRequested() as asked:
            return asked.reversed_on
        case InstallmentAgreementProposed() as asked:
            return asked.concluded_on
        case WriteOffRequested() as asked:
            return asked.written_off_on
        case DepositApplicationRequested() as asked:
            return asked.applied_on
        case DepositReturnRequested() as asked:
            return asked.returned_on
    raise AssertionError(f"no business date for {pending.action}")
