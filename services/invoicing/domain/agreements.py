"""Installment agreements: overdue debt turned into dated installments, with the agreement's own interest.

An agreement is a document signed with the buyer (its number), so its rate is its own term, not the contract's
penalty (§5.7) nor a request's choice of a rule's parameter: it is proposed by one person of collections and
concluded only when another approves (four eyes), and then decided on the debt still open that day.

- principal: what is open of the named overdue invoices on `concluded_on`;
- installments: `count` dated monthly from `first_due` (the same day of the month, the month's last day when it
  is shorter); the principal in equal parts, the last one taking the rounding;
- interest of installment n: the principal still open before it × the annual rate × the actual days since the
  previous date (the conclusion for the first) / 365, rounded half-up to the tiyn, once per installment;
- each installment's interest is charged at conclusion as its own debt, due on its date.
While the agreement holds, its documents draw no penalty and no collection run acts on them; the day close
breaks it when an installment is unpaid after its date (`account._broken_agreements`): the principal returns to
collection and the interest not yet due is cancelled.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.invoicing.domain import account as acc
from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.holds import Installment
from services.invoicing.domain.postings import LedgerAccount, transfer
from services.invoicing.events import InstallmentAgreementConcluded, InstallmentAgreementProposed, InstallmentData
from shared.approvals import check_approver, pending_request
from shared.errors import Conflict, ValidationFailed
from shared.events.invoicing import Approval
from shared.events.registry import Event
from shared.money import Money

BASIS_DAYS = 365                 # interest: actual days / 365
MAX_INSTALLMENTS = 36
FIRST_DUE_WITHIN_DAYS = 92       # the first installment falls within about three months of the conclusion


@dataclass(frozen=True)
class Terms:
    """What the agreement signed with the buyer says."""

    document_number: str
    documents: tuple[str, ...]
    concluded_on: date
    first_due: date
    count: int
    rate_percent: Decimal


def due_dates(first_due: date, count: int) -> list[date]:
    """`count` dates a month apart from `first_due`, on its day of the month (or the month's last day)."""
    dates = []
    for n in range(count):
        month = first_due.month - 1 + n
        year, month = first_due.year + month // 12, month % 12 + 1
        dates.append(date(year, month, min(first_due.day, calendar.monthrange(year, month)[1])))
    return dates


def schedule(principal: Money, terms: Terms) -> list[Installment]:
    """The installments: equal parts of the principal (the last takes the rounding), each with its interest on
    the principal still open since the previous date."""
    part = (principal / terms.count).rounded()
    installments: list[Installment] = []
    open_principal, previous = principal, terms.concluded_on
    for number, due in enumerate(due_dates(terms.first_due, terms.count), start=1):
        share = part if number < terms.count else open_principal
        days = (due - previous).days
        interest = (open_principal * terms.rate_percent / 100 * days / BASIS_DAYS).rounded()
        installments.append(Installment(number, due, share, interest))
        open_principal, previous = open_principal - share, due
    assert open_principal.is_zero, "the installments pay the whole principal"
    return installments


def _principal(state: acc.Account, terms: Terms) -> Money:
    """What is open of the named invoices on the conclusion, checked: overdue, not held otherwise, not penalised
    on days the agreement would cover."""
    if not terms.document_number.strip():
        raise ValidationFailed("an agreement names its document", reason="missing_document_number")
    if terms.document_number in state.agreements:
        raise Conflict(f"agreement {terms.document_number} is recorded already", reason="agreement_exists")
    if not 1 <= terms.count <= MAX_INSTALLMENTS:
        raise ValidationFailed(f"1 to {MAX_INSTALLMENTS} installments", reason="installments_out_of_range")
    if not terms.concluded_on < terms.first_due <= terms.concluded_on + timedelta(days=FIRST_DUE_WITHIN_DAYS):
        raise Conflict(f"the first installment falls after the conclusion and within {FIRST_DUE_WITHIN_DAYS} days",
                       reason="first_installment_out_of_range",
                       details={"concluded_on": terms.concluded_on.isoformat(), "first_due": terms.first_due.isoformat()})
    debts = [d for d in state.debts.values() if d.document in terms.documents and d.kind in alloc.PRINCIPAL]
    found = {d.document for d in debts if d.outstanding.is_positive and d.due_date < terms.concluded_on}
    missing = sorted(set(terms.documents) - found)
    if missing:
        raise Conflict(f"not overdue and open on {terms.concluded_on}: {', '.join(missing)}",
                       reason="document_not_overdue", details={"documents": missing})
    covered = sorted(d for a in state.agreements.values() if a.broken_on is None for d in a.documents
                     if d in terms.documents)
    disputed = sorted(d for x in state.disputes.values() if x.closed_on is None for d in x.documents
                      if d in terms.documents)
    if covered or disputed:
        raise Conflict(f"held already: {', '.join(covered + disputed)}", reason="document_held",
                       details={"in_agreement": covered, "disputed": disputed})
    through = max((d.penalty_through for d in debts if d.penalty_through is not None), default=None)
    if through is not None and through >= terms.concluded_on:
        raise Conflict(f"penalties are charged through {through}: the agreement starts after",
                       reason="penalised_after_conclusion", details={"penalty_through": through.isoformat()})
    return sum((d.outstanding for d in debts), Money.zero(state.currency))


def propose(state: acc.Account, terms: Terms, *, request_id: str, requested_by: str) -> list[Event]:
    """Ask for the agreement; checked now as it would be concluded."""
    _principal(state, terms)
    if any(p.action == InstallmentAgreementProposed.event_type and p.request.document_number == terms.document_number
           for p in state.pending.values()):
        raise Conflict(f"agreement {terms.document_number} already awaits approval", reason="request_already_pending")
    return [InstallmentAgreementProposed(
        contract_id=state.contract_id, request_id=request_id, document_number=terms.document_number.strip(),
        documents=sorted(terms.documents), concluded_on=terms.concluded_on, first_due=terms.first_due,
        installments=terms.count, rate_percent=terms.rate_percent, requested_by=requested_by)]


def conclude(state: acc.Account, *, request_id: str, approved_by: str) -> list[Event]:
    """The second person approves: the schedule, decided on what is open now, and its interest charged."""
    pending = pending_request(state.pending, request_id)
    check_approver(pending, approved_by)
    asked: InstallmentAgreementProposed = pending.request
    terms = Terms(asked.document_number, tuple(asked.documents), asked.concluded_on, asked.first_due,
                  asked.installments, asked.rate_percent)
    principal = _principal(state, terms)
    installments = schedule(principal, terms)
    interest = sum((i.interest for i in installments), Money.zero(state.currency))
    return [InstallmentAgreementConcluded(
        contract_id=state.contract_id, document_number=terms.document_number, documents=list(terms.documents),
        concluded_on=terms.concluded_on, rate_percent=terms.rate_percent, basis_days=BASIS_DAYS, principal=principal,
        installments=[InstallmentData(number=i.number, due_date=i.due_date, principal=i.principal,
                                      interest=i.interest, amount=i.principal + i.interest) for i in installments],
        interest=interest,
        postings=acc.postings(transfer(LedgerAccount.RECEIVABLE_INTEREST, LedgerAccount.INTEREST_INCOME, interest))
        if interest.is_positive else [],
        approval=Approval(request_id=request_id, requested_by=pending.requested_by, approved_by=approved_by))]
