"""The invoicing service's own events: those no other service reads (topic `invoicing.events.v1` carries
them with the rest). The ones other services react to live in `shared/events/invoicing.py`.

Every event that moves money carries its balanced postings (double entry, debit > 0, credit < 0), so
balances are a fold of the events and an auditor can re-add them without the ledger's code. They are
registered in the one registry (`shared/events/registry.py`) under their `invoicing.` names and schema
versions, so stored events decode as before; `services/__init__.py` imports this module, so every
service's process knows them (a consumer ignores a type it does not apply only when it knows the type).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from shared.events.contracts import SealedContractTerms, upcast_terms_v1_v2
from shared.events.invoicing import Approval, NoticeWithdrawal, Part
from shared.events.metering import CalendarDay
from shared.events.registry import Event, registry
from shared.events.sealing import Sealed, free_texts_in_clear, recorded_in_clear
from shared.money import Money


class PostingLine(Part):
    account: str
    amount: Money


class ChargeLineData(Part):
    component: str
    first_day: date
    last_day: date
    volume_kwh: Decimal
    rate_per_kwh: Decimal
    net: Money
    vat_rate_percent: Decimal
    vat: Money


class AllocationSlice(Part):
    item_id: str
    document: str
    kind: str
    period: str
    amount: Money


class PenaltySliceData(Part):
    amount: Money
    first_day: date
    last_day: date
    days: int
    base_rate_percent: Decimal
    multiplier: Decimal
    basis_days: int
    penalty: Decimal


@registry.register
class AccountOpened(Event):
    """The settlement account of a signed contract exists, with a zero balance (§5).

    It copies the terms the ledger settles by, so invoicing rebuilds from its own store alone; the buyer
    as `ContractSigned` sealed it (v1 carried it in clear).
    """

    event_type = "invoicing.AccountOpened"
    schema_version = 2

    contract_id: str
    terms: SealedContractTerms


@registry.register
class PrepaymentRequested(Event):
    """§5.3: pay 100% of the planned volume of a 10-day block 3 banking days before it starts."""

    event_type = "invoicing.PrepaymentRequested"
    schema_version = 1

    contract_id: str
    document_number: str
    block_id: str
    first_day: date
    last_day: date
    volume_kwh: Decimal
    lines: list[ChargeLineData]
    amount: Money
    due_date: date


@registry.register
class PrepaymentAdjusted(Event):
    """§5.3 a demanded block's amount re-issued by the difference: a day's application accepted (corrected,
    reduced, rejected or missing) before the block's due date changed the volume it prepays. `difference`
    positive: more to prepay; negative: less. `lines`, `volume_kwh` and `amount` are the block's whole demand
    now; `application_id` is the application that caused it (none for a day without one)."""

    event_type = "invoicing.PrepaymentAdjusted"
    schema_version = 1

    contract_id: str
    document_number: str        # the demand adjusted
    block_id: str
    first_day: date
    last_day: date
    due_date: date
    day: date                   # the day whose application changed
    application_id: str | None
    cause_event: str            # the contracts event that decided the day
    adjusted_on: date           # the business date of that decision
    previous_volume_kwh: Decimal
    volume_kwh: Decimal
    lines: list[ChargeLineData]
    previous_amount: Money
    amount: Money
    difference: Money


@registry.register
class InvoiceIssued(Event):
    """§5.4–5.6: the period's charge from the volume act (a correcting invoice charges the difference)."""

    event_type = "invoicing.InvoiceIssued"
    schema_version = 1

    contract_id: str
    document_number: str
    period: str
    act_id: str
    corrects_document: str | None
    invoice_date: date
    esf_date: date
    esf_deadline: date
    due_date: date
    volume_kwh: Decimal
    lines: list[ChargeLineData]
    net: Money
    vat: Money
    total: Money
    # a correction that takes more off a debt than is still open gives the excess back to the advance
    released_to_advance: list[AllocationSlice] = []
    postings: list[PostingLine]


@registry.register
class EsfRegistered(Event):
    """§5.5 the electronic invoice (ESF) of an invoice was issued in the tax authority's system (IS ESF): its
    registration number there and the day it was issued, as billing entered them. `late`: issued after the
    invoice's ESF deadline (the 20th of the month after its period)."""

    event_type = "invoicing.EsfRegistered"
    schema_version = 1

    contract_id: str
    invoice_document: str
    registration_number: str
    issued_on: date
    esf_deadline: date
    late: bool


@registry.register
class PaymentReceived(Event):
    """Money from the buyer arrived (bank statement or API); held as advance until allocated (§5.8).
    `payer`: the payer's BIN and IBAN as the bank gave them (`{"bin", "iban"}`), sealed with the contract's
    key; none when the bank gave neither or this service holds no key of the contract (not arrived yet,
    or shredded). v1 carried `payer_bin` and `payer_iban` in clear.
    `purpose`: the payment's purpose as the bank gave it (free text that often names a person), sealed
    with the contract's key as `{"text"}`; none when it is empty or the key is not held. v1 and v2
    carried it in clear.

    Two dates: `received_on` is the value date (when the bank says the money moved: it drives penalties),
    `posted_on` the posting date (when the ledger booked it, in an open period: statements and acts date
    the payment by it). Absent in payments recorded before the two were told apart: the same day."""

    event_type = "invoicing.PaymentReceived"
    schema_version = 3

    contract_id: str
    payment_id: str
    bank_reference: str
    amount: Money
    received_on: date
    payer: Sealed | None
    purpose: Sealed | None
    postings: list[PostingLine]
    posted_on: date | None = None

    @property
    def posting_date(self) -> date:
        return self.posted_on or self.received_on


@registry.upcaster(PaymentReceived.event_type, 1)
def upcast_payment_received_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    payer = {"bin": payload.pop("payer_bin"), "iban": payload.pop("payer_iban")}
    payload["payer"] = recorded_in_clear(payer) if any(payer.values()) else None
    return payload


upcast_payment_received_v2_v3 = registry.upcaster(PaymentReceived.event_type, 2)(free_texts_in_clear("purpose"))


@registry.register
class PaymentAllocated(Event):
    """Advance applied to debts, debt first (§5.8), slice by slice; the rest stays as advance."""

    event_type = "invoicing.PaymentAllocated"
    schema_version = 1

    contract_id: str
    policy: str
    trigger: str  # the payment id or document that caused this allocation
    allocated_on: date   # when the money paid the debts: a payment's value date (penalties stop there)
    slices: list[AllocationSlice]
    advance_left: Money
    postings: list[PostingLine]
    posted_on: date | None = None   # the posting date, when it is not `allocated_on` (a late value date)


@registry.register
class PenaltyAccrued(Event):
    """§5.7: 1.5 × base rate per day on a late amount; the slices explain the figure."""

    event_type = "invoicing.PenaltyAccrued"
    schema_version = 1

    contract_id: str
    document_number: str
    late_item_id: str
    period: str
    accrued_through: date
    slices: list[PenaltySliceData]
    amount: Money
    postings: list[PostingLine]


@registry.register
class PenaltyWaived(Event):
    """An operator forgives (part of) a penalty, with the reason; a reversal, never an edit."""

    event_type = "invoicing.PenaltyWaived"
    schema_version = 1

    contract_id: str
    document_number: str
    amount: Money
    reason: str
    waived_on: date
    postings: list[PostingLine]
    approval: Approval | None = None   # absent in waivers recorded before four eyes


@registry.register
class PenaltyPausedByForceMajeure(Event):
    """§8.1 the buyer relies on force majeure (claims' `ForceMajeurePeriodRecorded`): no penalty runs from
    `first_day` through `last_day` (None: until its end is recorded). The latest one of a `notice_id` is the
    period; penalties already charged for its days are recalculated by the same command."""

    event_type = "invoicing.PenaltyPausedByForceMajeure"
    schema_version = 1

    contract_id: str
    notice_id: str
    first_day: date
    last_day: date | None


@registry.register
class BaseRateSet(Event):
    """An admin recorded the National Bank's base rate from a date (the table is data, not code)."""

    event_type = "invoicing.BaseRateSet"
    schema_version = 1

    contract_id: str  # "*" : the table is the ledger's, not one contract's
    effective_from: date
    rate_percent: Decimal
    source: str


@registry.register
class CalendarDayNoted(CalendarDay):
    """A day an administrator declared working or not (`metering.CalendarDayDeclared`), as the ledger learned it:
    the banking days of every deadline it counts afterwards (a demand's due date, §5.3; an invoice's, §5.4; the
    date a restriction may start from, §7.1.1) take it. Deadlines already counted keep their dates."""

    event_type = "invoicing.CalendarDayNoted"
    schema_version = 1

    declared_event_id: str   # the metering event it notes


@registry.register
class UnidentifiedReceiptRecorded(Event):
    """Money arrived that no contract could be matched to; kept until an operator assigns it.
    `bank_line`: what the bank said of the payer and the payment (`{"name", "bin", "iban", "purpose"}`),
    sealed with the receipt's own key (it belongs to no contract yet), the bank reference as associated
    data; that key is deleted when the receipt is assigned (the payment then holds the payer's BIN, IBAN and
    purpose under the contract's key). v1 carried `payer_name`, `payer_bin`, `payer_iban` and `purpose` in
    clear."""

    event_type = "invoicing.UnidentifiedReceiptRecorded"
    schema_version = 2

    contract_id: str  # "unidentified"
    bank_reference: str
    amount: Money
    received_on: date
    bank_line: Sealed
    why: str


@registry.upcaster(UnidentifiedReceiptRecorded.event_type, 1)
def upcast_unidentified_receipt_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    payload["bank_line"] = recorded_in_clear({"name": payload.pop("payer_name"), "bin": payload.pop("payer_bin"),
                                              "iban": payload.pop("payer_iban"), "purpose": payload.pop("purpose")})
    return payload


@registry.register
class ReceiptAssigned(Event):
    """An operator assigned an unidentified receipt to a contract; the payment is posted there."""

    event_type = "invoicing.ReceiptAssigned"
    schema_version = 1

    contract_id: str  # "unidentified"
    bank_reference: str
    assigned_contract_id: str


@registry.register
class RestrictionNoticeIssued(Event):
    """§5.3, §7.1.1: written notice that supply may be restricted from `restrict_from` if still unpaid."""

    event_type = "invoicing.RestrictionNoticeIssued"
    schema_version = 1

    contract_id: str
    document_number: str
    issued_on: date
    restrict_from: date
    amount_due: Money


@registry.register
class DayClosed(Event):
    """The account's business day is closed: coverage checked, notices issued (replayable)."""

    event_type = "invoicing.DayClosed"
    schema_version = 1

    contract_id: str
    day: date


@registry.register
class RefundIssued(Event):
    """§5.8: the contract ended; the advance left after every debt is paid back to the buyer. `payee` is
    the buyer's requisites (name, IBAN, BIC among them) sealed as the account's terms hold them; v1
    carried the beneficiary, IBAN and BIC in clear."""

    event_type = "invoicing.RefundIssued"
    schema_version = 2

    contract_id: str
    document_number: str
    refund_on: date
    amount: Money
    payee: Sealed
    postings: list[PostingLine]
    approval: Approval | None = None   # absent in refunds issued before four eyes


@registry.upcaster(RefundIssued.event_type, 1)
def upcast_refund_issued_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    payload["payee"] = recorded_in_clear({"name": payload.pop("beneficiary"), "iban": payload.pop("iban"),
                                          "bic": payload.pop("bic")})
    return payload


@registry.register
class RefundPaidOut(Event):
    """§5.8 the refund reached the buyer: the treasury's payment order (its number and date) paid the refund
    document's amount out of the seller's bank account. The requisites it was paid to are the refund's
    (`RefundIssued.payee`, sealed): the payout names the document, never the requisites again."""

    event_type = "invoicing.RefundPaidOut"
    schema_version = 1

    contract_id: str
    refund_document: str
    amount: Money
    payment_order_number: str
    payment_order_date: date
    postings: list[PostingLine]


@registry.register
class AccountTerminated(Event):
    """The contracts service ended the contract before its term (§7.1.1, §11.2: `contracts.ContractTerminated`):
    supply stops on `terminated_on` (the first day without it), so the last settlement period is the month of
    the day before, and from `terminated_on` on the advance left is refunded (§5.8)."""

    event_type = "invoicing.AccountTerminated"
    schema_version = 1

    contract_id: str
    terminated_on: date
    notice_document: str


@registry.register
class PaymentReversed(Event):
    """A payment posted by mistake is taken back: first from the advance, then by reopening the debts
    it paid, most recently paid first. The original stays in the history."""

    event_type = "invoicing.PaymentReversed"
    schema_version = 1

    contract_id: str
    payment_id: str
    bank_reference: str
    amount: Money
    reason: str
    reversed_on: date
    reopened: list[AllocationSlice]
    postings: list[PostingLine]
    approval: Approval | None = None   # absent in reversals recorded before four eyes


@registry.register
class AccountTermsAmended(Event):
    """The contract was amended (§11.3 supplementary agreement, §5.2 price notice, §3.2 extension): from
    `effective_from` on the account settles by the new terms. `terms` is what the account settles by
    after it: the old price periods and monthly plans before `effective_from`, the new ones after."""

    event_type = "invoicing.AccountTermsAmended"
    schema_version = 2

    contract_id: str
    kind: str
    document_number: str
    document_date: date
    effective_from: date
    summary: str
    terms: SealedContractTerms


for _type in (AccountOpened, AccountTermsAmended):
    registry.upcaster(_type.event_type, 1)(upcast_terms_v1_v2)


# ---- four eyes: a correction that moves money or ends rights is asked for by one person, approved by another
@registry.register
class PaymentReversalRequested(Event):
    """A treasury clerk asks to take a payment back; nothing moves until another clerk approves."""

    event_type = "invoicing.PaymentReversalRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    payment_id: str
    bank_reference: str
    reason: str
    reversed_on: date
    requested_by: str


@registry.register
class PenaltyWaiverRequested(Event):
    """A billing clerk asks to forgive (part of) a penalty; `amount` none: all that is open at approval."""

    event_type = "invoicing.PenaltyWaiverRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    document_number: str
    amount: Money | None
    reason: str
    waived_on: date
    requested_by: str


@registry.register
class RefundRequested(Event):
    """§5.8: a billing clerk asks to pay the advance back; the amount is what is left at approval."""

    event_type = "invoicing.RefundRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    refund_on: date
    requested_by: str


@registry.register
class TerminationNoticeProposed(Event):
    """§7.1.1: the day close found final settlement unpaid for 30 days; a collections clerk other than the
    one who closed the day approves the notice (or declines it)."""

    event_type = "invoicing.TerminationNoticeProposed"
    schema_version = 1

    contract_id: str
    request_id: str
    issued_on: date
    terminate_on: date
    overdue_amount: Money
    overdue_documents: list[str]
    requested_by: str


@registry.register
class RequestDeclined(Event):
    """The second person declined a requested correction: nothing of it is recorded."""

    event_type = "invoicing.RequestDeclined"
    schema_version = 1

    contract_id: str
    request_id: str
    reason: str
    declined_by: str


# ---- corrections in the open period of what a late value date changed
class RecalculatedWindow(Part):
    """One accrual's window of days, its penalty as charged (`was`) and as the late amounts now say (`now`)."""

    penalty_document: str
    first_day: date
    last_day: date
    was: Money
    now: Money


@registry.register
class PenaltyRecalculated(Event):
    """§5.7 on what is known now: money valued on a day penalties were already charged for (a bank statement
    that came late) changes the late amounts of those days. The charged penalties are not edited (their
    period may be closed): this event, dated in the open period, takes off what was charged too much
    (`reduced` from the penalties still open, the rest back to the advance) or charges what was missing
    (`charged`, a new penalty document), with the cause and each window's figures."""

    event_type = "invoicing.PenaltyRecalculated"
    schema_version = 1

    contract_id: str
    document_number: str
    late_item_id: str
    period: str
    cause: str
    posted_on: date
    windows: list[RecalculatedWindow]
    slices: list[PenaltySliceData]
    reduced: list[AllocationSlice]
    released_to_advance: Money
    charged: Money
    postings: list[PostingLine]


# ---- the books' periods: a closed month is never rewritten
@registry.register
class PeriodClosed(Event):
    """The books of a month are closed: nothing is posted on a day of it or before (`closed_through`)."""

    event_type = "invoicing.PeriodClosed"
    schema_version = 1

    contract_id: str  # "*": the ledger's books, not one contract's
    period: str
    closed_through: date


@registry.register
class PeriodReopened(Event):
    """An admin reopened a closed month (and every later one), with the reason: postings may be dated in it
    again. The audited way back; a closed month is otherwise never written."""

    event_type = "invoicing.PeriodReopened"
    schema_version = 1

    contract_id: str  # "*"
    period: str
    reason: str
    closed_through: date | None


# ---- §5.6 the reconciliation act of mutual settlements: what the buyer's books say of it
class ActFigures(Part):
    """A reconciliation act's figures as one side's books give them (+ the buyer owes the seller)."""

    opening_balance: Money
    charged: Money
    paid_or_credited: Money
    closing_balance: Money


class ReconciliationCorrection(Part):
    """One correction that settles (part of) a discrepancy: made in the seller's books (a correcting invoice, a
    payment posted, a reversal) or in the buyer's (an ESF booked on its date, a payment order on its value date),
    and what it changes that side's closing balance by."""

    side: Literal["seller", "buyer"]
    document: str
    amount: Money
    description: str


@registry.register
class ReconciliationDiscrepancyRecorded(Event):
    """§5.6: the buyer's figures of a month's reconciliation act differ from the seller's; the cause traced and the
    corrections that settle it. `difference` is the seller's closing balance less the buyer's; `open_difference`
    what is left of it once the corrections are made on both sides (zero: `settled`). Recorded again when the
    corrections go on: the latest record of a month is its state."""

    event_type = "invoicing.ReconciliationDiscrepancyRecorded"
    schema_version = 1

    contract_id: str
    month: str
    seller: ActFigures
    buyer: ActFigures
    difference: Money
    cause: str
    corrections: list[ReconciliationCorrection]
    open_difference: Money
    settled: bool
    recorded_on: date


# ---- collection: what holds a document out of it, the runs that propose and execute it, and their reversal
@registry.register
class DisputeOpened(Event):
    """A document of the account is disputed: a claim about it was registered (§9.2, `claims.ClaimRegistered`;
    again when it goes to court, §9.3) or the buyer contests the volume act it was charged from (§4.14,
    `metering.VolumeActDisputed`). No collection run proposes anything on the disputed documents until the
    dispute ends. `documents`: the ledger's documents it holds (an act is named by the invoice charged from it);
    `reference`: the claim id or the act id."""

    event_type = "invoicing.DisputeOpened"
    schema_version = 1

    contract_id: str
    dispute_id: str            # "claim:<claim id>" or "act:<act id>"
    source: Literal["claim", "volume_act"]
    reference: str
    documents: list[str]
    opened_on: date


@registry.register
class DisputeClosed(Event):
    """The dispute ended: the claim was answered (accepted or rejected) or a corrected act replaced the
    contested one. Its documents are collected again from the next run on."""

    event_type = "invoicing.DisputeClosed"
    schema_version = 1

    contract_id: str
    dispute_id: str
    closed_on: date
    outcome: str               # "claim accepted", "claim rejected", "corrected act <id>"


@registry.register
class PaymentPromised(Event):
    """The buyer promised to pay `documents` by `pay_by` (a collections clerk recorded the agreed date): no run
    proposes anything on them through that day. A promise not kept lapses by itself: from the day after
    `pay_by` the documents still open are collected again."""

    event_type = "invoicing.PaymentPromised"
    schema_version = 1

    contract_id: str
    promise_id: str
    documents: list[str]
    promised_on: date
    pay_by: date
    recorded_by: str


CollectionAction = Literal["penalty", "restriction_notice", "restriction", "termination_notice", "withdrawal_notice"]
HoldReason = Literal["claim", "volume_act", "promise", "agreement", "write_off"]


class ProposedLine(Part):
    """One action a collection run proposes on one account, with the figures and the clause that justify it.
    `amount`: the penalty proposed (§5.7), the prepayment missing (§5.3, §7.1.1) or the debt overdue (§7.1.1,
    §11.2); `effective_on`: the day a restriction may start from, or the contract would end on; `documents`:
    the documents the action is about; `slices`: a penalty's explanation; `basis`: the rule in words."""

    line_id: str
    contract_id: str
    action: CollectionAction
    clause: str
    documents: list[str]
    amount: Money
    effective_on: date | None = None
    slices: list[PenaltySliceData] = []
    basis: str


class HeldItem(Part):
    """A document that would be collected but is held out of the run, and why: an open claim or a contested
    volume act (until the dispute ends), a promise to pay or an installment agreement (until its date)."""

    contract_id: str
    document: str
    reason: HoldReason
    reference: str
    until: date | None = None


class LineExclusion(Part):
    """A line the approver leaves out of the run, and why: it is never executed."""

    line_id: str
    reason: str


@registry.register
class CollectionRunProposed(Event):
    """A collections clerk asked what the contracts allow on `business_date` over `accounts` (none: every
    account): the lines follow in `CollectionLinesProposed` parts. Nothing is recorded against an account until
    another person of collections approves the run."""

    event_type = "invoicing.CollectionRunProposed"
    schema_version = 1

    contract_id: str           # "*": the run is the portfolio's, not one contract's
    run_id: str
    business_date: date
    accounts: list[str] | None
    considered: int            # accounts looked at
    lines: int
    held: int
    proposed_by: str


@registry.register
class CollectionLinesProposed(Event):
    """A part of a run's proposal: its lines and the documents held out of it (a run is recorded in parts of a
    bounded size, in order)."""

    event_type = "invoicing.CollectionLinesProposed"
    schema_version = 1

    contract_id: str           # "*"
    run_id: str
    part: int
    lines: list[ProposedLine]
    held: list[HeldItem]


@registry.register
class CollectionRunApproved(Event):
    """Another person of collections approved the run (four eyes), with the lines left out and why: every
    other line is executed, each in its account's own transaction (`CollectionLineExecuted`)."""

    event_type = "invoicing.CollectionRunApproved"
    schema_version = 1

    contract_id: str           # "*"
    run_id: str
    requested_by: str
    approved_by: str
    excluded: list[LineExclusion]


@registry.register
class CollectionRunDeclined(Event):
    """The run is not carried out (its proposer may withdraw it the same way): nothing of it is recorded."""

    event_type = "invoicing.CollectionRunDeclined"
    schema_version = 1

    contract_id: str           # "*"
    run_id: str
    declined_by: str
    reason: str


@registry.register
class CollectionLineExecuted(Event):
    """A line of an approved run, decided again on the account as it is (one command, one outcome): `executed`
    after the events it recorded before this one (their documents), or `lapsed` with the reason (paid,
    disputed or held since the proposal, a notice running already)."""

    event_type = "invoicing.CollectionLineExecuted"
    schema_version = 1

    contract_id: str
    run_id: str
    line_id: str
    action: CollectionAction
    outcome: Literal["executed", "lapsed"]
    documents: list[str]
    reason: str | None = None
    approval: Approval


@registry.register
class CollectionReversalRequested(Event):
    """A collections clerk asks to take back what an executed line did, by its documented counter-event (a
    notice withdrawn, a penalty reversed); another person of collections approves it (four eyes)."""

    event_type = "invoicing.CollectionReversalRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    run_id: str
    line_id: str
    action: CollectionAction
    document: str
    reason: str
    reversed_on: date
    requested_by: str


@registry.register
class RestrictionNoticeWithdrawn(NoticeWithdrawal):
    """§5.3, §7.1.1 a restriction notice taken back (and its restriction, if supply was restricted under it):
    `SupplyRestored` follows, so the contracts service brings back the days it cut."""

    event_type = "invoicing.RestrictionNoticeWithdrawn"
    schema_version = 1


@registry.register
class PenaltyReversed(Event):
    """§5.7 a penalty charged by a collection run taken back whole: what is still open of it comes off
    (`reduced`), what was paid of it goes back to the advance (`released_to_advance`, applied to what is open
    next). The penalty document stays; its days are not charged again."""

    event_type = "invoicing.PenaltyReversed"
    schema_version = 1

    contract_id: str
    document_number: str
    reversed_on: date
    reason: str
    reduced: Money
    released_to_advance: Money
    postings: list[PostingLine]
    approval: Approval


@registry.register
class CollectionLineReversed(Event):
    """An executed line of a run taken back after its counter-events (recorded before this one)."""

    event_type = "invoicing.CollectionLineReversed"
    schema_version = 1

    contract_id: str
    run_id: str
    line_id: str
    documents: list[str]
    reason: str
    reversed_on: date
    approval: Approval


# ---- installment agreements: overdue debt rescheduled with the agreement's own interest
class InstallmentData(Part):
    """One dated installment of an agreement: the part of the principal due, the agreement's interest on the
    principal still open since the previous date (actual days / 365, rounded half-up to the tiyn), and both."""

    number: int
    due_date: date
    principal: Money
    interest: Money
    amount: Money


@registry.register
class InstallmentAgreementProposed(Event):
    """A collections clerk asks to turn overdue `documents` into dated installments at the agreement's own
    annual rate (the agreement signed with the buyer, `document_number`); another person of collections approves
    it (four eyes), and the schedule is decided then on the debt still open."""

    event_type = "invoicing.InstallmentAgreementProposed"
    schema_version = 1

    contract_id: str
    request_id: str
    document_number: str
    documents: list[str]
    concluded_on: date
    first_due: date
    installments: int
    rate_percent: Decimal
    requested_by: str


@registry.register
class InstallmentAgreementConcluded(Event):
    """The agreement in force: the principal of `documents` open on `concluded_on` is due by `installments`;
    the interest of each installment is charged now as its own debt (`<document>-<n>:interest`, due on its
    date). While it holds, its documents draw no penalty (§5.7 is replaced by the agreement's interest for its
    days) and no collection run acts on them; a missed installment breaks it (`InstallmentAgreementBroken`)."""

    event_type = "invoicing.InstallmentAgreementConcluded"
    schema_version = 1

    contract_id: str
    document_number: str
    documents: list[str]
    concluded_on: date
    rate_percent: Decimal
    basis_days: int
    principal: Money
    installments: list[InstallmentData]
    interest: Money
    postings: list[PostingLine]
    approval: Approval


@registry.register
class InstallmentAgreementBroken(Event):
    """The day close found an installment unpaid after its date: the agreement no longer holds, the principal
    still open returns to collection (penalties run again from `broken_on`), and the interest of the
    installments not yet due is cancelled (`cancelled`)."""

    event_type = "invoicing.InstallmentAgreementBroken"
    schema_version = 1

    contract_id: str
    document_number: str
    broken_on: date
    missed_installment: int
    principal_open: Money
    cancelled: list[AllocationSlice]
    postings: list[PostingLine]


# ---- write-off of an uncollectable debt, and its recovery if paid later
@registry.register
class WriteOffRequested(Event):
    """A collections clerk asks to write off uncollectable `documents` (their whole open amount on approval),
    with the reason; another person of collections approves it (four eyes)."""

    event_type = "invoicing.WriteOffRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    documents: list[str]
    reason: str
    written_off_on: date
    requested_by: str


@registry.register
class DebtWrittenOff(Event):
    """Uncollectable debt taken off the receivables into `expense.write_off` (each item's open amount, `slices`):
    still owed by the buyer, no longer expected. Money the buyer pays later recovers it (`DebtRecovered`)."""

    event_type = "invoicing.DebtWrittenOff"
    schema_version = 1

    contract_id: str
    documents: list[str]
    written_off_on: date
    reason: str
    slices: list[AllocationSlice]
    amount: Money
    postings: list[PostingLine]
    approval: Approval


@registry.register
class DebtRecovered(Event):
    """Money paid after a write-off, beyond what was open, recovers the written-off debt (oldest first): the
    items are owed again by `slices` (out of `expense.write_off`), and the allocation that follows pays them."""

    event_type = "invoicing.DebtRecovered"
    schema_version = 1

    contract_id: str
    recovered_on: date
    trigger: str
    slices: list[AllocationSlice]
    amount: Money
    postings: list[PostingLine]


# ---- security: a cash deposit held on its own account, and bank guarantees
@registry.register
class DepositRequested(Event):
    """Billing asks the buyer for a security deposit: an amount to pay by `due_date`, with the reason (a new buyer,
    a history of late payment). A demand, not a charge: it is no debt, draws no penalty and moves no money."""

    event_type = "invoicing.DepositRequested"
    schema_version = 1

    contract_id: str
    document_number: str
    amount: Money
    due_date: date
    reason: str
    requested_on: date


@registry.register
class DepositReceived(Event):
    """The buyer paid (part of) a requested deposit: the money is held on `deposit.held`, the seller's liability
    to give it back. It is neither the buyer's advance (it pays no charge as it falls due) nor revenue."""

    event_type = "invoicing.DepositReceived"
    schema_version = 1

    contract_id: str
    deposit_document: str
    bank_reference: str
    amount: Money
    received_on: date        # the bank's value date
    postings: list[PostingLine]


@registry.register
class DepositApplicationRequested(Event):
    """A collections clerk decides to pay debt past due out of the deposit held (`amount`; none: as much as the
    debt past due takes), with the reason; another person of collections approves it (four eyes)."""

    event_type = "invoicing.DepositApplicationRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    amount: Money | None
    reason: str
    applied_on: date
    requested_by: str


DepositCause = Literal["termination", "decision", "final_settlement"]


@registry.register
class DepositApplied(Event):
    """Money of the deposit held paid debts (`slices`, §5.8 order: debt first, oldest first): on the contract's
    termination (every debt open), by a collections decision (debt past due; `approval` names both people) or in
    the final settlement before what is left is returned. Out of `deposit.held`, into the receivables."""

    event_type = "invoicing.DepositApplied"
    schema_version = 1

    contract_id: str
    cause: DepositCause
    reason: str
    applied_on: date
    slices: list[AllocationSlice]
    amount: Money
    held_left: Money
    postings: list[PostingLine]
    approval: Approval | None = None


@registry.register
class DepositReturnRequested(Event):
    """A treasury clerk asks to return the deposit once supply is over, by the payment order named; another
    person of the treasury approves it (four eyes). The amount is what is left at approval."""

    event_type = "invoicing.DepositReturnRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    returned_on: date
    payment_order_number: str
    requested_by: str


@registry.register
class DepositReturned(Event):
    """With the final settlement, what is left of the deposit after every debt went back to the buyer by the
    treasury's payment order: out of `deposit.held`, out of the seller's bank account."""

    event_type = "invoicing.DepositReturned"
    schema_version = 1

    contract_id: str
    document_number: str
    returned_on: date
    amount: Money
    payment_order_number: str
    postings: list[PostingLine]
    approval: Approval


@registry.register
class BankGuaranteeRecorded(Event):
    """A bank guarantee the buyer gave for its payments: the guarantor bank, the guarantee's number, its amount and
    the days it is valid (both included). It moves no money: in force from `valid_from` through `valid_until`
    (its expiry follows from the date, no event says it), it may be called for debt past due."""

    event_type = "invoicing.BankGuaranteeRecorded"
    schema_version = 1

    contract_id: str
    guarantee_number: str
    bank_name: str
    bank_bic: str
    amount: Money
    valid_from: date
    valid_until: date
    recorded_on: date


@registry.register
class BankGuaranteeCalled(Event):
    """The seller called a guarantee in force for debt past due and the guarantor bank paid `amount` (its bank
    reference, valued `called_on`): the money paid the debts past due in §5.8 order (`slices`)."""

    event_type = "invoicing.BankGuaranteeCalled"
    schema_version = 1

    contract_id: str
    guarantee_number: str
    bank_reference: str
    called_on: date
    amount: Money
    remaining: Money          # what the guarantee still covers after the call
    slices: list[AllocationSlice]
    postings: list[PostingLine]
