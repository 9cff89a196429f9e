"""Write-off of an uncollectable debt, after a decision of two people of collections (four eyes).

The open amount of the named documents (invoices, penalties, an agreement's interest) leaves the receivables for
`expense.write_off` (`DebtWrittenOff`): the buyer still owes it, the seller no longer expects it, and nothing is
collected on it (nothing of it is open: no penalty runs, no run acts). Money the buyer pays later, beyond what
is open then, recovers it (`account._recover`, `DebtRecovered`: owed again and paid, out of the expense).
"""

from __future__ import annotations

from datetime import date

from services.invoicing.domain import account as acc
from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.postings import LedgerAccount, entry
from services.invoicing.events import AllocationSlice, DebtWrittenOff, WriteOffRequested
from shared.approvals import check_approver, pending_request
from shared.errors import Conflict, ValidationFailed
from shared.events.invoicing import Approval
from shared.events.registry import Event
from shared.money import Money


def _open_slices(state: acc.Account, documents: list[str]) -> list[AllocationSlice]:
    found = [d for d in state.debts.values() if d.document in documents and d.outstanding.is_positive]
    missing = sorted(set(documents) - {d.document for d in found})
    if missing:
        raise Conflict(f"nothing is open of {', '.join(missing)}", reason="document_not_open",
                       details={"documents": missing})
    return [acc.slice_of(d, d.outstanding) for d in sorted(found, key=lambda d: d.item_id)]


def request(state: acc.Account, *, request_id: str, documents: list[str], reason: str, written_off_on: date,
            requested_by: str) -> list[Event]:
    """Ask to write off `documents`; checked now as it would be approved."""
    if not reason.strip():
        raise ValidationFailed("a write-off needs a reason", reason="missing_reason")
    wanted = sorted(set(documents))
    if not wanted:
        raise ValidationFailed("a write-off names its documents", reason="missing_documents")
    _open_slices(state, wanted)
    if any(p.action == WriteOffRequested.event_type and set(p.request.documents) & set(wanted)
           for p in state.pending.values()):
        raise Conflict("a write-off of these documents already awaits approval", reason="request_already_pending")
    return [WriteOffRequested(contract_id=state.contract_id, request_id=request_id, documents=wanted,
                              reason=reason.strip(), written_off_on=written_off_on, requested_by=requested_by)]


def approve(state: acc.Account, *, request_id: str, approved_by: str) -> list[Event]:
    """The second person approves: what is open of the documents now is written off."""
    pending = pending_request(state.pending, request_id)
    check_approver(pending, approved_by)
    asked: WriteOffRequested = pending.request
    slices = _open_slices(state, asked.documents)
    amount = sum((s.amount for s in slices), Money.zero(state.currency))
    pairs = [(LedgerAccount.WRITE_OFF_EXPENSE, amount),
             *((alloc.RECEIVABLE_OF[alloc.DebtKind(s.kind)], -s.amount) for s in slices)]
    return [DebtWrittenOff(contract_id=state.contract_id, documents=asked.documents,
                           written_off_on=asked.written_off_on, reason=asked.reason, slices=slices, amount=amount,
                           postings=acc.postings(entry(*pairs)),
                           approval=Approval(request_id=request_id, requested_by=pending.requested_by,
                                             approved_by=approved_by))]
