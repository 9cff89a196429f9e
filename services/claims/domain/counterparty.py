"""The claims desk's counterparties: the buyer of each signed contract (§9 claims go between them)."""

from __future__ import annotations

from services.claims.events import (
    ContractEnded,
    ContractTermsNoted,
    CounterpartyContactsCorrected,
    CounterpartyRecorded,
)
from shared.events.claims import SealedFields
from shared.events.contracts import ContractSettled, ContractSigned, ContractTerminated, PartyContactsCorrected
from shared.events.registry import Event


def stream_id(contract_id: str) -> str:
    return f"counterparty-{contract_id}"


def correct_contacts(corrected: PartyContactsCorrected, personal: SealedFields) -> list[Event]:
    """`personal`: the corrected contacts, sealed (the desk's record merges them over what it holds)."""
    return [CounterpartyContactsCorrected(contract_id=corrected.contract_id, personal=personal,
                                          request_id=corrected.request_id)]


def register_counterparty(signed: ContractSigned, personal: SealedFields) -> list[Event]:
    """`personal`: the buyer's personal fields, sealed with the contract's key."""
    terms = signed.terms
    return [
        CounterpartyRecorded(contract_id=signed.contract_id, contract_number=terms.number, personal=personal),
        # §9.2 counts claim deadlines like §4.3 counts applications: in Astana time, a contract term
        ContractTermsNoted(contract_id=signed.contract_id, deadline_time_zone=terms.deadline_time_zone,
                           currency=terms.currency, service_type=terms.service_type,
                           delivery_start=terms.delivery_start, delivery_end=terms.delivery_end),
    ]


def end_contract(event: ContractSettled | ContractTerminated) -> list[Event]:
    if isinstance(event, ContractSettled):
        return [ContractEnded(contract_id=event.contract_id, ended_on=event.settled_on, how="settled")]
    return [ContractEnded(contract_id=event.contract_id, ended_on=event.terminated_on, how="terminated")]
