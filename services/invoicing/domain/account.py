"""The contract's settlement account (§5): opened when the contract is signed, at zero."""

from __future__ import annotations

from shared.events.contracts import ContractSigned
from shared.events.invoicing import AccountOpened
from shared.events.registry import Event


def stream_id(contract_id: str) -> str:
    return f"account-{contract_id}"


def open_account(signed: ContractSigned) -> list[Event]:
    return [AccountOpened(contract_id=signed.contract_id, terms=signed.terms)]
