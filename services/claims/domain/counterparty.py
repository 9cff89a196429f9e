"""The claims desk's counterparties: the buyer of each signed contract (§9 claims go between them)."""

from __future__ import annotations

from shared.events.claims import ContractTermsNoted, CounterpartyRegistered
from shared.events.contracts import ContractSigned
from shared.events.registry import Event


def stream_id(contract_id: str) -> str:
    return f"counterparty-{contract_id}"


def register_counterparty(signed: ContractSigned) -> list[Event]:
    buyer, terms = signed.terms.buyer, signed.terms
    return [
        CounterpartyRegistered(
            contract_id=signed.contract_id, contract_number=terms.number, name=buyer.name, bin=buyer.bin,
            foreign_registration=buyer.foreign_registration, email=buyer.email, address=buyer.address,
        ),
        # §9.2 counts claim deadlines like §4.3 counts applications: in Astana time, a contract term
        ContractTermsNoted(contract_id=signed.contract_id, deadline_time_zone=terms.deadline_time_zone,
                           currency=terms.currency, service_type=terms.service_type,
                           delivery_start=terms.delivery_start, delivery_end=terms.delivery_end),
    ]
