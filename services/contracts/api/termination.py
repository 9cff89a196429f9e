"""A contract's termination by an administrator (§7.1.1 on 30 days' notice, §11.2 withdrawal on 7), four
eyes: one asks, another approves or declines."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.contracts.api.deps import App, ContractsDesk
from services.contracts.commands import DeclineTermination, NoticeTermination, TerminationRequestView
from services.contracts.queries import ContractView
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["contract lifecycle"], responses=COMMAND_ERRORS)


@router.post("/contracts/{contract_id}/termination", response_model=TerminationRequestView, status_code=202)
async def notice_termination(contract_id: str, command: NoticeTermination, request: Request, actor: ContractsDesk,
                             app: App) -> TerminationRequestView:
    """Asks to send a §7.1.1 termination on 30 days' notice, or a §11.2 withdrawal after repeated breach on 7
    (four eyes): another contract administrator approves it at
    `POST /contracts/{id}/termination/{request_id}/approve`, or declines it."""
    return await app.request_termination(contract_id, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/termination/{request_id}/approve", response_model=ContractView,
             status_code=201)
async def approve_termination(contract_id: str, request_id: str, request: Request, actor: ContractsDesk,
                              app: App) -> ContractView:
    """The second administrator approves: the notice is recorded, naming who asked and who approved."""
    return await app.approve_termination(contract_id, request_id, context_of(request, actor))


@router.post("/contracts/{contract_id}/termination/{request_id}/decline", response_model=ContractView,
             status_code=201)
async def decline_termination(contract_id: str, request_id: str, command: DeclineTermination, request: Request,
                              actor: ContractsDesk, app: App) -> ContractView:
    """The notice is not sent (its author may withdraw it so)."""
    return await app.decline_termination(contract_id, request_id, command, context_of(request, actor))
