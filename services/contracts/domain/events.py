"""The contract's events as the domain decides and folds them: the buyer's personal fields in clear.

The events the store and the topic carry (`shared.events.contracts`; those only this service reads,
`services.contracts.events`) hold the buyer sealed with the contract's key, and sealing needs the key and
randomness, neither of which a pure rule may touch. So the rules speak these look-alikes, and the edge
(`services/contracts/sealing.py`) seals them into the registered events before they are recorded and opens
stored events back into them when a contract is loaded. They are not `Event`s: the store refuses anything but
a registered class, so one of them can never be stored with the buyer in clear. Events without personal data
(a termination notice, the settlement, the shredding) are the registered classes themselves.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from services.contracts.events import ContractRegistered
from shared.events import contracts as sealed
from shared.events.contracts import AmendmentDocument, ContractTerms


class InClear(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]


class Registered(InClear):
    event_type = ContractRegistered.event_type

    contract_id: str
    terms: ContractTerms


class Signed(InClear):
    event_type = sealed.ContractSigned.event_type

    contract_id: str
    signed_at: datetime
    terms: ContractTerms


class Amended(AmendmentDocument, InClear):
    event_type = sealed.ContractAmended.event_type

    terms: ContractTerms


class ContactsCorrected(InClear):
    event_type = sealed.PartyContactsCorrected.event_type

    contract_id: str
    party: Literal["buyer"]
    email: str | None
    address: str
    corrected_on: date
    request_id: str | None = None
