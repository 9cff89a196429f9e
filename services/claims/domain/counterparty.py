"""The claims desk's counterparties: the buyer of each signed contract (§9 claims go between them)."""

from __future__ import annotations

from shared.events.claims import CounterpartyRegistered
from shared.events.contracts import ContractSigned
from shared.events.registry import Event


def stream_id(contract_id: str) -> str:
    return f"counterparty-{contract_id}"


def register_counterparty(signed: ContractSigned) -> list[Event]:
    buyer = signed.terms.buyer
    return [CounterpartyRegistered(
        contract_id=signed.contract_id, contract_number=signed.terms.number, name=buyer.name, bin=buyer.bin,
        foreign_registration=buyer.foreign_registration, email=buyer.email, address=buyer.address,
    )]
