"""What secures a buyer's payments (`domain/deposit.py`): a security deposit asked for by billing, received by the
treasury and held on its own account (`deposit.held`: not advance, not revenue), applied to debt past due by a
collections decision (four eyes, `api/approvals.py`) or on termination, returned with the final settlement (four
eyes of the treasury); and bank guarantees recorded and called by collections.

Refusals: 422 for a body that is malformed in itself (a non-positive amount, a due date before the request, a
guarantee ending before it starts); 409 for a clash with the account or the clock (a date in a closed period or in
the future, `contract_in_force`, `last_act_not_invoiced`, `no_deposit_held`, `no_debt_past_due`,
`deposit_exceeds_held`, `deposit_exceeds_request`, `guarantee_not_in_force`, `call_exceeds_guarantee`,
`call_exceeds_debt_past_due`, `duplicate_bank_reference`, `request_already_pending`); 404 for a deposit or a
guarantee the account does not have. A refused command records nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Billing, Collections, Reader, Treasury
from services.invoicing.commands import (
    ApplyDeposit,
    CallGuarantee,
    DepositApplicationAsked,
    DepositAsked,
    DepositReceivedAnswer,
    DepositReturnAsked,
    GuaranteeCalled,
    GuaranteeRecorded,
    ReceiveDeposit,
    RecordGuarantee,
    RequestDeposit,
    ReturnDeposit,
)
from services.invoicing.queries import SecurityView
from shared.api import COMMAND_ERRORS, READ_ERRORS, IsoDay, context_of

router = APIRouter(tags=["deposits"])


@router.get("/accounts/{contract_id}/security", response_model=SecurityView, responses=READ_ERRORS)
async def security(contract_id: str, _actor: Reader, app: App, as_of: IsoDay | None = None) -> SecurityView:
    """The deposit asked for, held, applied and returned, and every guarantee with what it still covers and whether
    it is in force on `as_of` (today in the contract's zone when absent)."""
    return await app.security(contract_id, as_of)


@router.post("/accounts/{contract_id}/deposits", status_code=201, response_model=DepositAsked,
             responses=COMMAND_ERRORS)
async def request_deposit(contract_id: str, command: RequestDeposit, request: Request, actor: Billing,
                          app: App) -> DepositAsked:
    """Billing asks the buyer for a deposit (`DEP-…`); refused once the contract ended (`contract_terminated`)."""
    return await app.request_deposit(contract_id, command, context_of(request, actor))


@router.post("/accounts/{contract_id}/deposits/receipts", status_code=201, response_model=DepositReceivedAnswer,
             responses=COMMAND_ERRORS)
async def receive_deposit(contract_id: str, command: ReceiveDeposit, request: Request, actor: Treasury,
                          app: App) -> DepositReceivedAnswer:
    """The treasury records the buyer's payment of a deposit asked for, at most what is still asked."""
    return await app.receive_deposit(contract_id, command, context_of(request, actor))


@router.post("/accounts/{contract_id}/deposits/applications", status_code=202, response_model=DepositApplicationAsked,
             responses=COMMAND_ERRORS)
async def apply_deposit(contract_id: str, command: ApplyDeposit, request: Request, actor: Collections,
                        app: App) -> DepositApplicationAsked:
    """Asks to pay debt past due out of the deposit, §5.8 order (four eyes): another person of collections
    approves it, and the deposit is applied then, on the account as it is."""
    return await app.request_deposit_application(contract_id, command, context_of(request, actor))


@router.post("/accounts/{contract_id}/deposits/return", status_code=202, response_model=DepositReturnAsked,
             responses=COMMAND_ERRORS)
async def return_deposit(contract_id: str, command: ReturnDeposit, request: Request, actor: Treasury,
                         app: App) -> DepositReturnAsked:
    """Asks to return the deposit with the final settlement (four eyes): another treasury clerk approves it; the
    penalties up to the day are charged, the deposit pays whatever is open, and the rest goes back. Refused while
    the contract is supplied (`contract_in_force`) and before its last month is invoiced (`last_act_not_invoiced`)."""
    return await app.request_deposit_return(contract_id, command, context_of(request, actor))


@router.post("/accounts/{contract_id}/guarantees", status_code=201, response_model=GuaranteeRecorded,
             responses=COMMAND_ERRORS)
async def record_guarantee(contract_id: str, command: RecordGuarantee, request: Request, actor: Collections,
                           app: App) -> GuaranteeRecorded:
    """A bank guarantee the buyer gave: recorded once by its number (`guarantee_already_recorded`)."""
    return await app.record_guarantee(contract_id, command, context_of(request, actor))


# a guarantee's number may hold a "/": the whole path up to /calls
@router.post("/accounts/{contract_id}/guarantees/{guarantee_number:path}/calls", status_code=201,
             response_model=GuaranteeCalled, responses=COMMAND_ERRORS)
async def call_guarantee(contract_id: str, guarantee_number: str, command: CallGuarantee, request: Request,
                         actor: Collections, app: App) -> GuaranteeCalled:
    """The guarantor bank paid a call: only while the guarantee is valid (`guarantee_not_in_force` after its last
    day), up to what it still covers, and for debt past due only; the money pays that debt in §5.8 order."""
    return await app.call_guarantee(contract_id, guarantee_number, command, context_of(request, actor))
