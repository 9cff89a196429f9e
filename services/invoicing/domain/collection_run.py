"""A collection run: its proposal, review and decision, as the events of its own stream.

    proposed  a collections clerk asked what the contracts allow on a business date: the lines, each with its
              figures and clause, and the documents held out (`domain/collection.py` decides them per account)
    approved  another person of collections (four eyes: never the proposer) approved it, with the lines left
              out and why; every other line is then executed on its account, once
    declined  not carried out; the proposer may withdraw the run the same way

A run's lines are recorded in parts of at most `PART_SIZE` lines (a portfolio of thousands of accounts is one
run, and an event's size is bounded). No event of a run touches an account: the executed lines are recorded
on their accounts (`CollectionLineExecuted`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from services.invoicing.events import (
    CollectionLinesProposed,
    CollectionRunApproved,
    CollectionRunDeclined,
    CollectionRunProposed,
    HeldItem,
    LineExclusion,
    ProposedLine,
)
from shared.approvals import Pending, check_approver
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.registry import Event

PART_SIZE = 200         # lines (and held documents) per part of a proposal: a part stays well under an event's bound
RunStatus = Literal["proposed", "approved", "declined"]


def stream_id(run_id: str) -> str:
    return f"collection-run-{run_id}"


@dataclass(frozen=True)
class Run:
    run_id: str
    business_date: date
    proposed_by: str
    accounts: tuple[str, ...] | None
    version: int = 1
    lines: tuple[ProposedLine, ...] = ()
    held: tuple[HeldItem, ...] = ()
    status: RunStatus = "proposed"
    decided_by: str | None = None
    excluded: dict[str, str] = field(default_factory=dict)   # line id → why it is left out

    def line(self, line_id: str) -> ProposedLine:
        found = next((line for line in self.lines if line.line_id == line_id), None)
        if found is None:
            raise NotFound(f"run {self.run_id} has no line {line_id}", reason="line_not_found")
        return found

    def to_execute(self) -> list[ProposedLine]:
        """The approved lines, in the run's order (none before approval)."""
        if self.status != "approved":
            return []
        return [line for line in self.lines if line.line_id not in self.excluded]


def evolve(state: Run | None, event: Event) -> Run:
    if isinstance(event, CollectionRunProposed):
        assert state is None, "a run is proposed once"
        return Run(event.run_id, event.business_date, event.proposed_by,
                   tuple(event.accounts) if event.accounts is not None else None)
    assert state is not None, f"{event.event_type} before the run was proposed"
    state = dataclasses.replace(state, version=state.version + 1)
    match event:
        case CollectionLinesProposed():
            return dataclasses.replace(state, lines=state.lines + tuple(event.lines),
                                       held=state.held + tuple(event.held))
        case CollectionRunApproved():
            return dataclasses.replace(state, status="approved", decided_by=event.approved_by,
                                       excluded={e.line_id: e.reason for e in event.excluded})
        case CollectionRunDeclined():
            return dataclasses.replace(state, status="declined", decided_by=event.declined_by)
    raise AssertionError(f"a run's stream holds an unexpected event {event.event_type}")


def fold(events: Iterable[Event]) -> Run | None:
    state: Run | None = None
    for event in events:
        state = evolve(state, event)
    return state


def propose(*, run_id: str, business_date: date, accounts: Sequence[str] | None, considered: int,
            lines: Sequence[ProposedLine], held: Sequence[HeldItem], proposed_by: str) -> list[Event]:
    """The run's events: its head, then its lines and held documents in parts of `PART_SIZE`."""
    events: list[Event] = [CollectionRunProposed(
        contract_id="*", run_id=run_id, business_date=business_date,
        accounts=sorted(accounts) if accounts is not None else None, considered=considered, lines=len(lines),
        held=len(held), proposed_by=proposed_by)]
    parts = max(1, -(-max(len(lines), len(held)) // PART_SIZE))
    for part in range(parts):
        window = slice(part * PART_SIZE, (part + 1) * PART_SIZE)
        events.append(CollectionLinesProposed(contract_id="*", run_id=run_id, part=part + 1,
                                              lines=list(lines[window]), held=list(held[window])))
    return events


def _pending(run: Run) -> None:
    if run.status != "proposed":
        raise Conflict(f"run {run.run_id} is {run.status} by {run.decided_by}", reason=f"run_{run.status}",
                       details={"status": run.status, "decided_by": run.decided_by})


def approve(run: Run | None, *, run_id: str, approved_by: str, excluded: Sequence[LineExclusion]) -> list[Event]:
    """Four eyes: a person other than the proposer approves; the lines left out each say why."""
    if run is None:
        raise NotFound(f"no collection run {run_id}", reason="run_not_found")
    _pending(run)
    check_approver(Pending(run.run_id, CollectionRunProposed.event_type, run.proposed_by, None), approved_by)
    seen: set[str] = set()
    for exclusion in excluded:
        run.line(exclusion.line_id)
        if exclusion.line_id in seen:
            raise ValidationFailed(f"line {exclusion.line_id} is left out twice", reason="line_excluded_twice")
        if not exclusion.reason.strip():
            raise ValidationFailed("a line left out says why", reason="missing_reason")
        seen.add(exclusion.line_id)
    return [CollectionRunApproved(contract_id="*", run_id=run.run_id, requested_by=run.proposed_by,
                                  approved_by=approved_by,
                                  excluded=[LineExclusion(line_id=e.line_id, reason=e.reason.strip()) for e in excluded])]


def decline(run: Run | None, *, run_id: str, declined_by: str, reason: str) -> list[Event]:
    """Not carried out; the proposer may withdraw the run so too."""
    if run is None:
        raise NotFound(f"no collection run {run_id}", reason="run_not_found")
    _pending(run)
    if not reason.strip():
        raise ValidationFailed("declining needs a reason", reason="missing_reason")
    return [CollectionRunDeclined(contract_id="*", run_id=run.run_id, declined_by=declined_by, reason=reason.strip())]
