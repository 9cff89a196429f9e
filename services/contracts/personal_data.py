"""The contracts service's side of personal-data rights (law 94-V): its part of a counterparty's export
(the contracts with their terms and parties, amendments, daily applications and supply conditions), the
correction of the buyer's contacts, which the claims desk then takes into its own record, and the
deletion the desk decided: the contract's key is shredded here, at its owner, and the tombstone goes to
every copy (`shared/personal_keys.py`)."""

from __future__ import annotations

from datetime import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy import text

from services.contracts import sealing
from services.contracts.api import ContractView, load_contract
from services.contracts.domain import contract as domain
from services.contracts.lifecycle_api import _change
from shared import personal_keys
from shared.auth import Actor, Role, require, roles
from shared.business_time import BusinessDate
from shared.calendar import local_datetime
from shared.events.claims import PersonalDataShredded
from shared.events.contracts import PersonalDataExported
from shared.http_app import get_service
from shared.personal_data import export_handlers
from shared.service import Service
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



async def on_personal_data_shredded(service, uow, event: PersonalDataShredded, envelope, context) -> None:
    """The desk deleted the counterparty's personal data: the contract's key goes (its tombstone is
    published to the keys topic after commit), and the contract records it, so its read model shows the
    buyer as shredded even after a rebuild. Idempotent: a redelivery finds the key gone and the event
    recorded."""
    known = await uow.conn.scalar(text("SELECT 1 FROM contracts WHERE contract_id = :id"), {"id": event.contract_id})
    if not known:
        return   # another seller's contract: no key of it here
    state = await load_contract(service, uow.conn, event.contract_id)   # opened before the key goes
    if await personal_keys.shred(uow.conn, event.contract_id):
        await uow.conn.execute(text("UPDATE personal_data_keys SET published = false WHERE contract_id = :id"),
                               {"id": event.contract_id})
    events = domain.shred_buyer(state, request_id=event.request_id, shredded_on=event.shredded_on)
    if events:
        await sealing.record(service, uow, stream_id=domain.stream_id(event.contract_id),
                             expected_version=state.version, contract_id=event.contract_id,
                             occurred_at=local_datetime(event.shredded_on, time(0), "Asia/Almaty"), events=events,
                             context=context)


HANDLERS = {**export_handlers(PersonalDataExported, QUERIES),
            PersonalDataShredded.event_type: on_personal_data_shredded}


class CorrectContacts(PlainText):
    email: str | None = Field(None, max_length=300)
    address: str = Field(min_length=1, max_length=1000)
    corrected_on: BusinessDate
    request_id: str | None = Field(None, max_length=100, description="the claims desk's correction request")


@router.post("/contracts/{contract_id}/buyer/contacts", response_model=ContractView)
async def correct_buyer_contacts(contract_id: str, command: CorrectContacts, request: Request,
                                 actor: Annotated[Actor, Depends(require(roles(Role.CONTRACTS, Role.PRIVACY)))],
                                 service: Annotated[Service, Depends(get_service)]) -> ContractView:
    return await _change(service, request, actor, contract_id, lambda state, _today: domain.correct_buyer_contacts(
        state, email=command.email, address=command.address, corrected_on=command.corrected_on,
        request_id=command.request_id), command.corrected_on)
