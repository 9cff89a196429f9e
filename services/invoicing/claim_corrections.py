"""Accepted claims the ledger owns (§9): a credit note on an invoice or a waiver of a penalty.

The claims desk decides what is granted; the ledger books it with its own rules, so a grant that no longer
fits (the penalty was paid and waived already, the invoice is unknown) is refused here and dead-lettered
with the reason, and nothing is half-booked.
"""

from __future__ import annotations

from services.invoicing.domain import account as acc
from services.invoicing.domain.credit_note import issue_credit_note
from services.invoicing.ledger import decide_and_record
from shared.events.claims import ClaimAccepted


async def on_claim_accepted(service, uow, event: ClaimAccepted, envelope, context) -> None:
    correction = event.correction
    if correction is None or correction.owner != "invoicing":
        return
    if correction.kind == "penalty_waiver":
        def decide(state):
            return acc.waive_penalty(state, document_number=correction.document_number, amount=correction.amount,
                                     reason=f"claim {event.claim_id} accepted", waived_on=event.answered_on)
    else:
        def decide(state):
            return issue_credit_note(state, invoice_document=correction.document_number, gross=correction.amount,
                                     issued_on=event.answered_on)

    # the claims desk dated the answer in the contract's deadline zone; the correction carries that time
    await decide_and_record(service, uow, event.contract_id, decide, context, envelope.occurred_at)


HANDLERS = {ClaimAccepted.event_type: on_claim_accepted}
