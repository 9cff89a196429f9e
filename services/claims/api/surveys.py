"""Satisfaction surveys: the customers' answers, the half-year and the annual report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.claims import queries
from services.claims.api.deps import App, ClaimsDesk, Reader, ServiceDep
from services.claims.commands import AnswerSurvey
from services.claims.domain.surveys import AnnualSatisfactionReport, SatisfactionReport
from services.claims.events import SurveyAnswered
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, COMMON_ERRORS, context_of

router = APIRouter(tags=["surveys"])


@router.post("/surveys", status_code=201, response_model=SurveyAnswered, responses=COMMAND_ERRORS)
async def answer_survey(command: AnswerSurvey, request: Request, actor: ClaimsDesk, app: App) -> SurveyAnswered:
    return await app.answer_survey(command, context_of(request, actor))


@router.get("/reports/satisfaction", response_model=SatisfactionReport, responses=COMMON_ERRORS)
async def satisfaction(request: Request, actor: Reader, service: ServiceDep,
                       half: Annotated[str, Query(pattern=r"^(19|20)[0-9]{2}H[12]$", examples=["2024H2"])]) -> SatisfactionReport:
    """The half's figures; the customers due are named by BIN (or foreign registration), so a report
    listing any is a read of personal data, logged with the contracts of those customers."""
    report, _named = await read_logged(service, request, actor, lambda conn: queries.satisfaction(conn, half),
                                       lambda found: found[1])
    return report


@router.get("/reports/satisfaction/annual", response_model=AnnualSatisfactionReport, responses=COMMON_ERRORS)
async def annual_satisfaction(request: Request, actor: Reader, service: ServiceDep,
                              year: Annotated[int, Query(ge=1900, le=2099, examples=[2024])]
                              ) -> AnnualSatisfactionReport:
    """The year's figures (KEGOC publishes the annual average) with the two half-year reports it is made
    of; a read of personal data when it, or one of its halves, names customers due."""
    report, _named = await read_logged(service, request, actor,
                                       lambda conn: queries.annual_satisfaction(conn, year),
                                       lambda found: found[1])
    return report
