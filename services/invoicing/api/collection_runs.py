"""Collection runs (§5.3, §5.7, §7.1.1, §11.2): proposed by a person of collections over chosen accounts (or
all) for a business date, approved (whole, or with lines left out, each with why) or declined by another
person of collections, then executed line by line on the accounts; an executed line is reversed by its
counter-event, asked for here and approved at `POST /approvals/{id}/approve` by a second person."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Collections, Reader
from services.invoicing.collection_queries import (
    CollectionLineView,
    CollectionRunView,
    HeldDocumentView,
    LineStatus,
)
from services.invoicing.commands import (
    ApproveCollectionRun,
    Decline,
    ProposeCollectionRun,
    ReversalOfLineRequested,
    ReverseCollectionLine,
)
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, READ_ERRORS, context_of
from shared.paging import Page, PageParams

router = APIRouter(tags=["collection runs"])


@router.post("/collection-runs", status_code=201, response_model=CollectionRunView, responses=COMMAND_ERRORS)
async def propose(command: ProposeCollectionRun, request: Request, actor: Collections, app: App
                  ) -> CollectionRunView:
    """Propose, per account, every action the contract allows on the business date, each with its figures and
    clause, and the documents held out (an open claim, a contested act, a promise to pay). Nothing is recorded
    against an account until another person of collections approves the run."""
    return await app.collections.propose(command, context_of(request, actor))


@router.get("/collection-runs", response_model=Page[CollectionRunView], responses=PAGE_ERRORS)
async def list_runs(_actor: Reader, app: App, page: PageParams,
                    status: Literal["proposed", "approved", "declined"] | None = None,
                    business_date: date | None = None) -> Page[CollectionRunView]:
    """The runs, oldest first, a page at a time (`shared/paging.py`); of a status, of a business date."""
    return await app.collections.runs(page, status, business_date)


@router.get("/collection-runs/{run_id}", response_model=CollectionRunView, responses=READ_ERRORS)
async def get_run(run_id: str, _actor: Reader, app: App) -> CollectionRunView:
    """A run: what it was asked for, who proposed and decided it, its lines by status."""
    return await app.collections.view(run_id)


@router.get("/collection-runs/{run_id}/lines", response_model=Page[CollectionLineView], responses=PAGE_ERRORS)
async def list_lines(run_id: str, _actor: Reader, app: App, page: PageParams, status: LineStatus | None = None,
                     contract_id: str | None = None) -> Page[CollectionLineView]:
    """A run's lines in order, with their figures, clause and what became of each."""
    return await app.collections.lines(run_id, page, status=status, contract_id=contract_id)


@router.get("/collection-runs/{run_id}/held", response_model=Page[HeldDocumentView], responses=PAGE_ERRORS)
async def list_held(run_id: str, _actor: Reader, app: App, page: PageParams) -> Page[HeldDocumentView]:
    """The documents a run held out of collection, and why."""
    return await app.collections.held(run_id, page)


@router.post("/collection-runs/{run_id}/approve", status_code=201, response_model=CollectionRunView,
             responses=COMMAND_ERRORS)
async def approve(run_id: str, command: ApproveCollectionRun, request: Request, actor: Collections, app: App
                  ) -> CollectionRunView:
    """Four eyes: a person of collections other than the proposer approves (its own proposal: 403 `own_request`);
    every line not left out is then executed on its account, decided again on the account as it is (executed,
    or lapsed with why)."""
    return await app.collections.approve(run_id, command, actor, context_of(request, actor))


@router.post("/collection-runs/{run_id}/decline", status_code=201, response_model=CollectionRunView,
             responses=COMMAND_ERRORS)
async def decline(run_id: str, command: Decline, request: Request, actor: Collections, app: App
                  ) -> CollectionRunView:
    """The run is not carried out (its proposer may withdraw it the same way)."""
    return await app.collections.decline(run_id, command.reason, actor, context_of(request, actor))


@router.post("/collection-runs/{run_id}/execute", status_code=201, response_model=CollectionRunView,
             responses=COMMAND_ERRORS)
async def execute(run_id: str, request: Request, actor: Collections, app: App) -> CollectionRunView:
    """Execute what an approved run has not decided yet (a run interrupted midway); a line decided already records
    nothing."""
    return await app.collections.execute(run_id, context_of(request, actor))


@router.post("/collection-runs/{run_id}/lines/{line_id}/reverse", status_code=202,
             response_model=ReversalOfLineRequested, responses=COMMAND_ERRORS)
async def reverse_line(run_id: str, line_id: str, command: ReverseCollectionLine, request: Request,
                       actor: Collections, app: App) -> ReversalOfLineRequested:
    """Ask to take back what an executed line recorded by its counter-event (a restriction notice withdrawn and
    supply restored, a termination notice withdrawn, a penalty reversed); another person of collections approves
    it at `POST /approvals/{id}/approve`."""
    return await app.collections.request_reversal(run_id, line_id, command, context_of(request, actor))
