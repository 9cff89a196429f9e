"""The contracts service's side of personal-data rights (law 94-V): its part of a counterparty's export
(the contracts with their terms and parties, amendments, daily applications and supply conditions) and
the correction of the buyer's contacts, which the claims desk then takes into its own record."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from services.contracts.api import ContractView
from services.contracts.domain import contract as domain
from services.contracts.lifecycle_api import _change
from shared.auth import OPERATORS, Actor, require
from shared.events.contracts import PersonalDataExported
from shared.personal_data import export_handlers
from shared.service import Service, get_service
from shared.text import PlainText

router = APIRouter(tags=["personal data"])

QUERIES = {
    "contracts": "SELECT * FROM contracts WHERE contract_id = ANY(:ids) ORDER BY number",
    "amendments": "SELECT * FROM amendments WHERE contract_id = ANY(:ids) ORDER BY contract_id, effective_from,"
                  " document_number",
    # the day's totals and the reasons; the hour-by-hour schedule stays with `GET /schedule`
    "applications": "SELECT contract_id, day, status, submitted_at, requested_kwh, accepted_kwh, reasons,"
                    " free_volume_kwh, corrections FROM applications WHERE contract_id = ANY(:ids)"
                    " ORDER BY contract_id, day",
    "supply_conditions": "SELECT * FROM supply_conditions WHERE contract_id = ANY(:ids) ORDER BY contract_id",
}

HANDLERS = export_handlers(PersonalDataExported, QUERIES)


class CorrectContacts(PlainText):
    email: str | None = Field(None, max_length=300)
    address: str = Field(min_length=1, max_length=1000)
    corrected_on: date
    request_id: str | None = Field(None, max_length=100, description="the claims desk's correction request")


@router.post("/contracts/{contract_id}/buyer/contacts", response_model=ContractView)
async def correct_buyer_contacts(contract_id: str, command: CorrectContacts, request: Request,
                                 actor: Annotated[Actor, Depends(require(OPERATORS))],
                                 service: Annotated[Service, Depends(get_service)]) -> ContractView:
    return await _change(service, request, actor, contract_id, lambda state, _today: domain.correct_buyer_contacts(
        state, email=command.email, address=command.address, corrected_on=command.corrected_on,
        request_id=command.request_id), command.corrected_on)
