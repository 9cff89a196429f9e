"""The edge of access and portability requests (law 94-V): the claims desk's own part, the parts the other
services answer with (taken into its own history as they came: sealed with the contract's key by the
answering service, with the digest of their file), and the archive, the only place a part is opened.

Answers from three topics may arrive at once for one request: each takes the request's row lock first, so
the one that completes the set sees the others and answers the request (no lost completion, no conflict).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.claims import personal_keys
from services.claims.commands import contract_of, on_stream
from services.claims.domain import export
from shared import personal_keys as keys
from shared.access_log import log_read
from shared.auth import Actor, Role, require, roles
from shared.calendar import to_zone
from shared.db import in_transaction
from shared.errors import Conflict, NotFound
from shared.events import contracts, invoicing, metering
from shared.events.personal_data import PersonalDataPart, part_file, sha256_of
from shared.events.sealing import ClearFields, SealedFields
from shared.http_app import command_context, get_service
from shared.personal_data import part_of
from shared.service import Service

router = APIRouter(tags=["personal data"])

OWN_QUERIES = {
    "counterparties": "SELECT contract_id, contract_number, name, bin, foreign_registration, email, address,"
                      " registered_at, ended_on, shredded_on FROM counterparties WHERE contract_id = ANY(:ids)"
                      " ORDER BY contract_number",
    "consents": "SELECT * FROM consents WHERE contract_id = ANY(:ids) ORDER BY contract_id, purpose",
    "personal_data_requests": "SELECT request_id, contract_id, kind, received_on, answer_due, details, outcome,"
                              " earliest_on, answered_on FROM personal_data_requests WHERE contract_id = ANY(:ids)"
                              " ORDER BY received_on, request_id",
    # the texts as the desk reads them (opened), not their sealed blobs
    "claims": "SELECT claim_id, contract_id, contract_number, subject, description, received_at, received_on, zone,"
              " answer_due, disputed_amount, currency, disputed_volume_kwh, disputed_event_id, disputed_document,"
              " status, overdue, answered_on, answered_in_time, fully, correction, reasons, comment, referred_on,"
              " court, case_number FROM claims WHERE contract_id = ANY(:ids) ORDER BY received_at, claim_id",
    "force_majeure_notices": "SELECT * FROM force_majeure_notices WHERE contract_id = ANY(:ids)"
                             " ORDER BY notified_on, notice_id",
    "survey_answers": "SELECT * FROM survey_answers WHERE contract_id = ANY(:ids) ORDER BY answered_on, survey_id",
}


async def contracts_of_counterparty(conn: AsyncConnection, contract_id: str) -> list[str]:
    """Every contract of the requester: one counterparty may hold several (same BIN or registration)."""
    rows = await conn.execute(text("""
        SELECT other.contract_id FROM counterparties own JOIN counterparties other
            ON other.contract_id = own.contract_id OR other.bin = own.bin
            OR other.foreign_registration = own.foreign_registration
        WHERE own.contract_id = :id ORDER BY other.contract_id
    """), {"id": contract_id})
    return list(rows.scalars())


async def _missing_key(conn: AsyncConnection, contract_id: str) -> Exception:
    shredded = await conn.scalar(text("SELECT shredded_at IS NOT NULL FROM personal_data_keys WHERE contract_id = :id"),
                                 {"id": contract_id})
    if shredded:
        return NotFound(f"the personal data of contract {contract_id} were shredded", reason="personal_data_shredded")
    return Conflict(f"the personal-data key of contract {contract_id} has not reached the desk yet",
                    reason="personal_data_key_missing")


async def _sealing_key(conn: AsyncConnection, contract_id: str) -> bytes:
    key = await personal_keys.sealing_key(conn, contract_id)
    if key is None:
        raise await _missing_key(conn, contract_id)
    return key


async def _receive(service, uow, *, request_id: str, contract: dict, who: export.ExportingService,
                   sealed: SealedFields, sha256: str, recorded_at, context) -> list[dict[str, Any]]:
    on = to_zone(recorded_at, contract["deadline_time_zone"]).date()
    return await on_stream(service, uow, stream_id=export.stream_id(request_id), contract_id=contract["contract_id"],
                           fold=export.fold, occurred_at=lambda _state: recorded_at, context=context,
                           decide=lambda state: export.receive_part(state, service=who, sha256=sha256, sealed=sealed,
                                                                    on=on))


async def request_export(service, uow, *, request_id: str, contract: dict, events_of, occurred_at,
                         context) -> list[dict]:
    """Record the request and the desk's own part, in the command's transaction; the others answer later."""
    ids = await contracts_of_counterparty(uow.conn, contract["contract_id"])
    recorded = await service.record(uow, stream_id=export.stream_id(request_id), expected_version=0,
                                    contract_id=contract["contract_id"], occurred_at=occurred_at,
                                    events=events_of(ids), context=context)
    own = await part_of(uow.conn, OWN_QUERIES, ids)
    key = await _sealing_key(uow.conn, contract["contract_id"])
    received = await _receive(service, uow, request_id=request_id, contract=contract, who="claims",
                              sealed=keys.seal(key, contract["contract_id"], own), sha256=sha256_of(part_file(own)),
                              recorded_at=context.recorded_at, context=context)
    return [s.envelope.payload for s in recorded] + received


def _on_answer(who: export.ExportingService):
    async def on_answer(service, uow, event: PersonalDataPart, envelope, context) -> None:
        # the row lock serialises the answers of one request arriving from three topics at once
        found = await uow.conn.scalar(text("SELECT request_id FROM personal_data_requests WHERE request_id = :id"
                                           " FOR UPDATE"), {"id": event.request_id})
        if found is None:
            raise NotFound(f"no personal-data request {event.request_id}", reason="personal_data_request_not_found")
        contract = await contract_of(uow.conn, event.contract_id)
        sealed = event.part
        if isinstance(sealed, ClearFields):
            # a v1 answer, its part in clear: sealed here, as the desk did before the answers came sealed
            sealed = keys.seal(await _sealing_key(uow.conn, event.contract_id), event.contract_id, sealed.in_clear)
        await _receive(service, uow, request_id=event.request_id, contract=contract, who=who, sealed=sealed,
                       sha256=event.sha256, recorded_at=context.recorded_at, context=context)

    return on_answer


ANSWERS = {
    "contracts": {contracts.PersonalDataExported.event_type: _on_answer("contracts")},
    "metering": {metering.PersonalDataExported.event_type: _on_answer("metering")},
    "invoicing": {invoicing.PersonalDataExported.event_type: _on_answer("invoicing")},
}


@router.get("/personal-data/requests/{request_id}/archive", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}})
async def get_archive(request_id: str, request: Request, actor: Annotated[Actor, Depends(require(roles(Role.PRIVACY)))],
                      service: Annotated[Service, Depends(get_service)]) -> Response:
    """The zip of everything the four services hold about the counterparty; the read is logged."""
    context = command_context(request, actor, service)

    async def body(uow) -> bytes:
        stored = await service.store.read_stream(uow.conn, export.stream_id(request_id))
        state = export.fold(service.store.registry.decode(s.envelope) for s in stored)
        if state is None or state.kind not in export.EXPORT_KINDS:
            raise NotFound(f"no access or portability request {request_id}", reason="personal_data_request_not_found")
        if state.answered_on is None:
            raise Conflict("not every service has answered yet", reason="export_incomplete",
                           details={"received": sorted(state.parts)})
        held = await personal_keys.keys_of(uow.conn, state.contract_id)
        rows = (await uow.conn.execute(text("SELECT service, nonce, ciphertext FROM personal_data_export_parts"
                                            " WHERE request_id = :id"), {"id": request_id})).all()
        parts = {who: keys.unseal_any(held, state.contract_id, SealedFields(nonce=nonce, ciphertext=cipher))
                 for who, nonce, cipher in rows}
        if any(part is None for part in parts.values()):
            raise await _missing_key(uow.conn, state.contract_id)
        await log_read(service, uow, request=request, actor=actor, contract_ids=list(state.contract_ids),
                       context=context)
        return export.archive(state, parts)

    data = await in_transaction(service.engine, body)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="personal-data-{request_id}.zip"'})
