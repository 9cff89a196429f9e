"""HTTP commands and queries of the satisfaction surveys."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import text

from services.claims.commands import contract_of, end_of, open_stream, start_of
from services.claims.domain import surveys
from services.claims.personal_data_export import contracts_of_counterparty
from services.claims.settings import desk_settings
from shared.access_log import read_logged
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessDate
from shared.db import in_transaction
from shared.http_app import command_context, get_service
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["surveys"])
ServiceDep = Annotated[Service, Depends(get_service)]

# one customer may hold several contracts: it is known by its BIN, else its foreign registration; a
# shredded counterparty has neither left, and each of its contracts counts apart (never all shredded
# customers as one)
CUSTOMER = "coalesce(bin, foreign_registration, 'contract ' || contract_id)"


async def _opted_out(conn, contract_id: str) -> bool:
    """An opt-out recorded on any contract of the customer stands for the customer (the refusal is the
    person's, not the contract's), until withdrawn on that contract."""
    ids = await contracts_of_counterparty(conn, contract_id)
    return bool(await conn.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM consents WHERE contract_id = ANY(:ids) AND purpose = :purpose AND NOT given)"),
        {"ids": ids, "purpose": surveys.SURVEY_PURPOSE}))


class AnswerSurvey(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    answered_on: BusinessDate
    scores: dict[str, int] = Field(description="each of the five criteria, 1–5")
    comment: str = Field("", max_length=5000)


@router.post("/surveys", status_code=201)
async def answer_survey(command: AnswerSurvey, request: Request, actor: Annotated[Actor, Depends(require(roles(Role.CLAIMS)))],
                        service: ServiceDep) -> dict[str, Any]:
    context = command_context(request, actor, service)
    survey_id = str(uuid.uuid4())

    async def body(uow) -> dict[str, Any]:
        contract = await contract_of(uow.conn, command.contract_id)
        events = surveys.answer_survey(survey_id=survey_id, contract_id=command.contract_id,
                                       service_type=contract["service_type"], answered_on=command.answered_on,
                                       scores=command.scores, comment=command.comment,
                                       opted_out=await _opted_out(uow.conn, command.contract_id))
        return await open_stream(service, uow, stream_id=f"survey-{survey_id}", contract_id=command.contract_id,
                                 occurred_at=start_of(command.answered_on, contract["deadline_time_zone"]),
                                 events=events, context=context)

    return await in_transaction(service.engine, body)


@router.get("/reports/satisfaction")
async def satisfaction(request: Request, actor: Annotated[Actor, Depends(require(READERS))], service: ServiceDep,
                       half: Annotated[str, Query(max_length=6, examples=["2024H2"])]) -> dict[str, Any]:
    """The half's figures; the customers due are named by BIN (or foreign registration), so a report
    listing any is a read of personal data, logged with the contracts of those customers."""
    first, last = surveys.half_bounds(half)

    async def read(conn) -> tuple[surveys.SatisfactionReport, list[str]]:
        # customers with a system-service contract in force on any day of the half
        in_force = (await conn.execute(text(
            f"SELECT {CUSTOMER} AS customer, contract_id FROM counterparties WHERE service_type = ANY(:services)"
            " AND delivery_start < :after AND delivery_end > :first ORDER BY contract_id"),
            {"services": sorted(surveys.system_services()), "first": start_of(first, "UTC"),
             "after": end_of(last, "UTC")})).all()
        # the answer names only its contract: the customer is the contract's counterparty
        rows = (await conn.execute(text(
            f"SELECT {CUSTOMER} AS customer, answered_on, scores FROM survey_answers JOIN counterparties"
            " USING (contract_id) WHERE half = :h"), {"h": half})).all()
        opted_out = set((await conn.execute(text(
            f"SELECT DISTINCT {CUSTOMER} FROM counterparties JOIN consents USING (contract_id)"
            " WHERE purpose = :purpose AND NOT given"), {"purpose": surveys.SURVEY_PURPOSE})).scalars())
        responses = [surveys.Response(r.customer, r.answered_on, json.loads(r.scores) if isinstance(r.scores, str)
                                      else r.scores) for r in rows]
        report = surveys.satisfaction_report(half=half, customers={r.customer for r in in_force},
                                             responses=responses, opted_out=opted_out,
                                             satisfied_from=desk_settings().survey_satisfied_from)
        due = set(report.customers_due)
        return report, [r.contract_id for r in in_force if r.customer in due]

    report, _named = await read_logged(service, request, actor, read, lambda result: result[1])
    return {**report.__dict__}
