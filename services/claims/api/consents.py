"""Consents to each purpose of processing a counterparty's personal data (law 94-V): given or withdrawn."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.claims.api.deps import App, Privacy
from services.claims.commands import RecordConsent
from services.claims.events import ConsentRecorded
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["personal data"])


@router.post("/personal-data/{contract_id}/consents", status_code=201, response_model=list[ConsentRecorded],
             responses=COMMAND_ERRORS)
async def record_consent(contract_id: str, command: RecordConsent, request: Request, actor: Privacy,
                         app: App) -> list[ConsentRecorded]:
    return await app.record_consent(contract_id, command, context_of(request, actor))
