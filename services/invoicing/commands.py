"""The invoicing service's commands as operators send them (the request bodies: `PlainText`, so no control
character or markup reaches a document) and the typed answers of the commands that answer with more than the
events they recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import Required, TypedDict

from services.invoicing.bank.references import BANK_PATTERN, MAX_GIVEN_CHARS
from services.invoicing.events import (
    BankGuaranteeCalled,
    BankGuaranteeRecorded,
    CollectionLineReversed,
    CollectionReversalRequested,
    DebtWrittenOff,
    DepositApplicationRequested,
    DepositApplied,
    DepositReceived,
    DepositRequested,
    DepositReturned,
    DepositReturnRequested,
    InstallmentAgreementConcluded,
    InstallmentAgreementProposed,
    PaymentAllocated,
    PaymentPromised,
    PaymentReversalRequested,
    PaymentReversed,
    PenaltyAccrued,
    PenaltyRecalculated,
    PenaltyReversed,
    PenaltyWaived,
    PenaltyWaiverRequested,
    PrepaymentRequested,
    RefundIssued,
    RefundPaidOut,
    RefundRequested,
    RequestDeclined,
    RestrictionNoticeWithdrawn,
    WriteOffRequested,
)
from shared.business_time import BusinessDate, ClosedDay
from shared.calendar import MONTH_PATTERN
from shared.events.invoicing import SupplyRestored, TerminationNoticeIssued, TerminationNoticeWithdrawn
from shared.money import Money
from shared.quantities import quantity
from shared.text import PlainText


# ---- payments -------------------------------------------------------------------------------------------
class ReceivePayment(PlainText):
    """The command: record money the bank says arrived for a contract (§5.8)."""

    contract_id: str = Field(min_length=1, max_length=100)
    bank_reference: str = Field(min_length=1, max_length=MAX_GIVEN_CHARS,
                                description="the bank's reference of the operation, unique per bank")
    bank: str | None = Field(None, pattern=BANK_PATTERN,
                             description="the BIC (or the account) of the bank that reports the operation: its "
                                         "references are unique per bank, so the ledger keys this payment "
                                         "`<bank>:<bank_reference>`; absent, by the reference alone")
    amount: Money
    received_on: BusinessDate = Field(description="the value date: when the bank says the money moved (it drives "
                                                  "penalties); the payment is booked that day while its month is "
                                                  "open, else today")
    payer_bin: str | None = Field(None, max_length=12)
    payer_iban: str | None = Field(None, max_length=34)
    purpose: str = Field("", max_length=500)


class ReversePayment(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=3, max_length=500)
    reversed_on: BusinessDate


@dataclass(frozen=True)
class StatementFile:
    """A bank statement file to import: 1C ClientBankExchange (Kazakh variant) or CSV, as the bank sent it."""

    format: Literal["1c", "csv"]
    bank: str | None    # CSV: the bank whose references the file holds (a 1C statement names its account itself)
    content: bytes


class ImportLine(TypedDict, total=False):
    """One line of a statement and what became of it."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    line: Required[int]
    outcome: Required[Literal["posted", "unidentified", "already_posted", "reference_conflict", "rejected"]]
    bank_reference: str
    amount: str
    contract_id: str       # posted: the contract it was posted to
    matched_by: str        # posted: how the line was matched (`contract_number`, `payer_only`, …)
    reason: str            # unidentified: why no contract matched; rejected, reference_conflict: the reason code
    message: str
    differs: list[str]     # reference_conflict: what differs from the operation known


class ImportReport(TypedDict):
    """The outcome of every line of an imported statement. A plain document, not a model: a statement of
    many thousand lines is answered without building an object per line (`api/payments.py`)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    format: str
    encoding: str
    account: str | None
    skipped_outgoing: int
    totals: dict[str, int]          # outcome → lines
    lines: list[ImportLine]


class AssignReceipt(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)


# ---- charges, penalties, refunds ----------------------------------------------------------------------------
class RequestPrepayments(PlainText):
    period: str = Field(pattern=MONTH_PATTERN)
    requested_on: BusinessDate | None = Field(None, description="business date of the demand; today when absent")


MAX_PREPAYMENT_RUN_ACCOUNTS = 1_000   # accounts of one prepayment run request (the CLI sends the portfolio in chunks)


class RunPrepayments(PlainText):
    """§5.3 a month's demands for many accounts at once: a page of the portfolio."""

    period: str = Field(pattern=MONTH_PATTERN)
    requested_on: BusinessDate | None = Field(None, description="business date of the demands; today when absent")
    contract_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=MAX_PREPAYMENT_RUN_ACCOUNTS, description="the accounts, each named once")


class AccountOutcome(BaseModel):
    """What a run did on one account: recorded its documents, found them recorded already, or was refused
    (nothing recorded on that account) with the rule's reason."""

    contract_id: str
    outcome: Literal["demanded", "demanded_already", "refused"]
    documents: list[str] = Field(default_factory=list, description="the documents recorded by this run")
    reason: str | None = Field(None, description="refused: the rule's reason code")
    message: str | None = None


class PrepaymentRunReport(BaseModel):
    period: str
    requested_on: date | None
    accounts: list[AccountOutcome]


class AccruePenalties(PlainText):
    """§5.7: the multiplier, day count and payment day are the contract's terms (`terms.penalty`), never a
    request's: a body naming them is refused."""

    model_config = ConfigDict(extra="forbid")

    as_of: BusinessDate | None = Field(None, description="business date; today in the contract's zone when absent")


class WaivePenalty(PlainText):
    reason: str = Field(min_length=3, max_length=500)
    amount: Money | None = None
    waived_on: BusinessDate


class IssueRefund(PlainText):
    refund_on: BusinessDate


# a document's number as printed: no blank at either end, no control character anywhere (the body's rule, stated in
# the field's own pattern)
DOCUMENT_NUMBER = r"^[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"


class PayOutRefund(PlainText):
    """§5.8 the treasury's payment order that paid an issued refund to the buyer's requisites (the refund's,
    sealed: the order is made where the contract's key is held)."""

    payment_order_number: str = Field(min_length=1, max_length=50, pattern=DOCUMENT_NUMBER,
                                      description="the number of the payment order, as the bank holds it")
    payment_order_date: BusinessDate = Field(description="the payment order's date: the day the refund is paid out "
                                                         "(on the refund's date or later)")


class RegisterEsf(PlainText):
    """§5.5 the ESF of an invoice issued in IS ESF: its registration number there and the day it was issued."""

    registration_number: str = Field(min_length=1, max_length=64, pattern=DOCUMENT_NUMBER,
                                     description="the ESF's registration number in IS ESF")
    issued_on: BusinessDate = Field(description="the day the ESF was issued: on or after its date (the period's last "
                                                "day), at most today")


class EsfRegistration(BaseModel):
    """An invoice's ESF as registered; `repeated`: this registration was entered before, nothing recorded now."""

    contract_id: str
    invoice_document: str
    registration_number: str
    issued_on: date
    esf_deadline: date
    late: bool = Field(description="issued after its deadline (the 20th of the month after the period)")
    repeated: bool


# the National Bank's base rate, % a year: above 0, below 100
Percent = Annotated[Decimal, quantity(
    whole_digits=2, places=4, sign="positive", description="% a year as a decimal string with at most 4 places, or a whole number")]


class SetBaseRate(PlainText):
    effective_from: date
    rate_percent: Percent
    source: str = Field(min_length=3, max_length=300)


# ---- §5.6 the reconciliation act ---------------------------------------------------------------------------------
class BuyerFigures(PlainText):
    """The act's figures as the buyer's books give them, in the act's sense: + the buyer owes the seller."""

    opening_balance: Money
    charged: Money
    paid_or_credited: Money
    closing_balance: Money


class Correction(PlainText):
    side: Literal["seller", "buyer"] = Field(description="whose books the correction is made in")
    document: str = Field(min_length=1, max_length=100, description="the document that makes it: a correcting "
                                                                    "invoice, a payment's reference, the buyer's entry")
    amount: Money = Field(description="what it changes that side's closing balance by (+ the buyer owes more)")
    description: str = Field(min_length=3, max_length=500)


class RecordDiscrepancy(PlainText):
    """§5.6: the buyer's figures of a month's act differ from the seller's: the cause, and the corrections that
    settle it (as far as known: record again as they go on)."""

    month: str = Field(pattern=MONTH_PATTERN)
    buyer: BuyerFigures
    cause: str = Field(min_length=3, max_length=1000)
    corrections: list[Correction] = Field(default_factory=list, max_length=50)


# ---- day close, four eyes, the books ---------------------------------------------------------------------------
class CloseDay(PlainText):
    day: ClosedDay = Field(description="a day that is over: yesterday at the latest")


class DayCloseReport(BaseModel):
    day: date
    accounts: int = Field(description="how many accounts the day was closed on")
    events: dict[str, list[str]] = Field(description="by contract id: the types of the events the close recorded "
                                                     "(none: the day was closed on it before)")


class Decline(PlainText):
    reason: str = Field(min_length=3, max_length=500)


class ReopenPeriod(PlainText):
    reason: str = Field(min_length=3, max_length=500)


# ---- collection (§5.3, §5.7, §7.1.1, §11.2): runs proposed, reviewed, executed; promises to pay ------------------
ContractId = Annotated[str, Field(min_length=1, max_length=100)]
MAX_RUN_ACCOUNTS = 20_000   # a run names at most this many accounts (none named: every account)


class ProposeCollectionRun(PlainText):
    """What the contracts allow on a business date, proposed per account for another person to approve."""

    business_date: ClosedDay = Field(description="the day the run collects for: a day that is over")
    contract_ids: list[ContractId] | None = Field(None, min_length=1, max_length=MAX_RUN_ACCOUNTS,
                                                  description="the accounts; absent: every account")


class LineLeftOut(PlainText):
    line_id: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=3, max_length=500)


class ApproveCollectionRun(PlainText):
    """Four eyes: a person of collections other than the proposer approves; each line left out says why."""

    excluded: list[LineLeftOut] = Field(default_factory=list, max_length=100_000)


class ReverseCollectionLine(PlainText):
    """Take back what an executed line recorded, by its counter-event (another person approves)."""

    reason: str = Field(min_length=3, max_length=500)
    reversed_on: BusinessDate


class PromisePayment(PlainText):
    """The buyer's promise to pay open documents by an agreed date: no run acts on them through that day."""

    documents: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=100)
    promised_on: BusinessDate
    pay_by: date = Field(description="the agreed date: after `promised_on`, within 30 days of it")


class ProposeAgreement(PlainText):
    """An installment agreement signed with the buyer: its overdue invoices in dated monthly installments at its
    own annual rate; another person of collections approves it (four eyes)."""

    document_number: str = Field(min_length=1, max_length=100, pattern=DOCUMENT_NUMBER,
                                 description="the agreement's document, as signed (no blank at either end)")
    documents: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=100)
    concluded_on: BusinessDate
    first_due: date = Field(description="the first installment's date: after the conclusion, within 92 days")
    installments: int = Field(ge=1, le=36)
    rate_percent: Annotated[Decimal, quantity(whole_digits=2, places=4, sign="non_negative",
                                              description="the agreement's annual interest, %")]


class WriteOff(PlainText):
    """Write off uncollectable documents (their open amount at approval), with the decision's reason; another
    person of collections approves it (four eyes)."""

    documents: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=3, max_length=500)
    written_off_on: BusinessDate


# ---- security: the deposit and bank guarantees -------------------------------------------------------------------
BIC_PATTERN = r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$"   # SWIFT BIC: bank, country, location, optional branch


class RequestDeposit(PlainText):
    """Billing asks the buyer for a security deposit."""

    amount: Money
    due_date: date = Field(description="the day the buyer is to pay it by: on `requested_on` or later")
    reason: str = Field(min_length=3, max_length=500)
    requested_on: BusinessDate


class ReceiveDeposit(PlainText):
    """The treasury records the buyer's payment of a deposit asked for: held on `deposit.held`, not advance."""

    deposit_document: str = Field(min_length=1, max_length=100, description="the deposit asked for (`DEP-…`)")
    bank_reference: str = Field(min_length=1, max_length=MAX_GIVEN_CHARS)
    amount: Money
    received_on: BusinessDate = Field(description="the bank's value date")


class ApplyDeposit(PlainText):
    """Collections decides to pay debt past due out of the deposit held; another person approves it."""

    amount: Money | None = Field(None, description="absent: as much as the debt past due takes")
    reason: str = Field(min_length=3, max_length=500)
    applied_on: BusinessDate


class ReturnDeposit(PlainText):
    """The treasury asks to return the deposit with the final settlement; another person approves it."""

    returned_on: BusinessDate
    payment_order_number: str = Field(min_length=1, max_length=50, pattern=DOCUMENT_NUMBER)


class RecordGuarantee(PlainText):
    """A bank guarantee the buyer gave for its payments."""

    guarantee_number: str = Field(min_length=1, max_length=100, pattern=DOCUMENT_NUMBER)
    bank_name: str = Field(min_length=2, max_length=200)
    bank_bic: str = Field(pattern=BIC_PATTERN)
    amount: Money
    valid_from: date
    valid_until: date = Field(description="its last valid day: it expires after it (no event says so)")
    recorded_on: BusinessDate


class CallGuarantee(PlainText):
    """The guarantor bank paid a call for debt past due."""

    bank_reference: str = Field(min_length=1, max_length=MAX_GIVEN_CHARS)
    amount: Money
    called_on: BusinessDate = Field(description="the bank's value date: the guarantee is valid on it")


# what each command records (the events are its answer)
DepositAsked = list[DepositRequested]
DepositReceivedAnswer = list[DepositReceived]
DepositApplicationAsked = list[DepositApplicationRequested]
DepositReturnAsked = list[DepositReturnRequested]
GuaranteeRecorded = list[BankGuaranteeRecorded]
# a call valued on days already penalised recalculates them, and the advance released pays what is open
GuaranteeCalled = list[BankGuaranteeCalled | PenaltyRecalculated | PaymentAllocated]
PrepaymentsRequested = list[PrepaymentRequested]
PenaltiesAccrued = list[PenaltyAccrued | PaymentAllocated]   # the advance held pays the new penalties
WaiverRequested = list[PenaltyWaiverRequested]
RefundAsked = list[RefundRequested]
RefundPaidOutAnswer = list[RefundPaidOut]
ReversalRequested = list[PaymentReversalRequested]
# an approved correction, decided then: a reversal recalculates the penalties of the days it reopens, and the
# advance a recalculation releases pays what is open; a refund charges the penalties up to its date first
Approved = list[PaymentReversed | PenaltyWaived | RefundIssued | TerminationNoticeIssued | PenaltyRecalculated
                | PenaltyAccrued | PaymentAllocated | PenaltyReversed | RestrictionNoticeWithdrawn | SupplyRestored
                | TerminationNoticeWithdrawn | CollectionLineReversed | InstallmentAgreementConcluded | DebtWrittenOff
                | DepositApplied | DepositReturned]
PaymentPromisedAnswer = list[PaymentPromised]
AgreementProposed = list[InstallmentAgreementProposed]
WriteOffAsked = list[WriteOffRequested]
ReversalOfLineRequested = list[CollectionReversalRequested]
Declined = list[RequestDeclined]
