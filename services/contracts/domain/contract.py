"""The contract aggregate: registered as a draft, then signed (§1–3; amendments come later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.contracts.domain.terms import check_terms
from shared.errors import Conflict, NotFound
from shared.events.contracts import ContractRegistered, ContractSigned, ContractTerms
from shared.events.registry import Event


class ContractStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"


@dataclass(frozen=True)
class Contract:
    contract_id: str
    version: int
    status: ContractStatus
    terms: ContractTerms
    signed_at: datetime | None = None


def stream_id(contract_id: str) -> str:
    return f"contract-{contract_id}"


def evolve(state: Contract | None, event: Event) -> Contract:
    match event:
        case ContractRegistered():
            assert state is None, "a contract is registered once"
            return Contract(event.contract_id, 1, ContractStatus.DRAFT, event.terms)
        case ContractSigned():
            assert state is not None and state.status is ContractStatus.DRAFT
            return Contract(state.contract_id, state.version + 1, ContractStatus.SIGNED, state.terms,
                            event.signed_at)
    raise AssertionError(f"contract stream holds an unexpected event {event.event_type}")


def fold(events: list[Event]) -> Contract | None:
    state: Contract | None = None
    for event in events:
        state = evolve(state, event)
    return state


def register_contract(contract_id: str, terms: ContractTerms) -> list[Event]:
    check_terms(terms)
    return [ContractRegistered(contract_id=contract_id, terms=terms)]


def sign_contract(state: Contract | None, contract_id: str, signed_at: datetime) -> list[Event]:
    if state is None:
        raise NotFound(f"contract {contract_id} is not registered", reason="contract_not_found")
    if state.status is not ContractStatus.DRAFT:
        raise Conflict(f"contract {state.terms.number} is already signed", reason="already_signed",
                       details={"signed_at": state.signed_at.isoformat() if state.signed_at else None})
    return [ContractSigned(contract_id=contract_id, signed_at=signed_at, terms=state.terms)]
