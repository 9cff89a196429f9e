"""The buyer's contacts corrected at its request (law 94-V), which the claims desk then takes into its
own record."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.contracts.api.deps import App, ContactsDesk
from services.contracts.commands import CorrectContacts
from services.contracts.queries import ContractView
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["personal data"], responses=COMMAND_ERRORS)


@router.post("/contracts/{contract_id}/buyer/contacts", response_model=ContractView)
async def correct_buyer_contacts(contract_id: str, command: CorrectContacts, request: Request, actor: ContactsDesk,
                                 app: App) -> ContractView:
    return await app.correct_buyer_contacts(contract_id, command, context_of(request, actor))
