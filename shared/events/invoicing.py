"""Events of the invoicing service that other services read (topic `invoicing.events.v1`): the account's
coverage, restriction and restoration of supply, the termination notice, its withdrawal and the settlement
(the contracts service), and its personal-data answers (the claims desk, every service's access log).

The events only invoicing reads (the postings, payments, penalties, requests and books) are its own:
`services/invoicing/events.py`, registered in the same registry under the same names.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.events.personal_data import PersonalDataAccess, PersonalDataPart, upcast_part_v1_v2
from shared.events.registry import Event, registry
from shared.money import Money


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Approval(Part):
    """Four eyes: the person who asked for a correction and the other person who approved it (MUST 11)."""

    request_id: str
    requested_by: str
    approved_by: str


@registry.register
class CoverageChanged(Event):
    """§5.3: whether the prepayments due so far are covered by the advance held (contracts listens)."""

    event_type = "invoicing.CoverageChanged"
    schema_version = 1

    contract_id: str
    as_of: date
    covered: bool
    required: Money
    held: Money


@registry.register
class SupplyRestricted(Event):
    """The notice ran out unpaid: the contracts service reduces accepted applications to what the prepayment
    held covers (§5.3 "уменьшив или снизив до нуля"): `held` of `held + amount_due` due; to zero when nothing is
    held (or `held` is absent, as in restrictions recorded before it was published)."""

    event_type = "invoicing.SupplyRestricted"
    schema_version = 1

    contract_id: str
    notice_document: str
    restricted_from: date
    amount_due: Money
    held: Money | None = None


@registry.register
class SupplyRestored(Event):
    """Coverage is back (a payment arrived): restriction and notice are lifted."""

    event_type = "invoicing.SupplyRestored"
    schema_version = 1

    contract_id: str
    restored_on: date
    notice_document: str


@registry.register
class TerminationNoticeIssued(Event):
    """§7.1.1: unpaid final settlement; the contract may be terminated 30 calendar days after notice
    (`kind` "termination"). §11.2: a breach repeated more than once; the seller withdraws from the contract
    7 calendar days after notice (`kind` "withdrawal"). `kind` is absent in notices issued before
    withdrawals were: a termination."""

    event_type = "invoicing.TerminationNoticeIssued"
    schema_version = 1

    contract_id: str
    document_number: str
    issued_on: date
    terminate_on: date
    overdue_amount: Money
    overdue_documents: list[str]
    approval: Approval | None = None   # absent in notices issued before four eyes
    kind: Literal["termination", "withdrawal"] = "termination"


class NoticeWithdrawal(Event):
    """A notice the ledger took back, four eyes (a collection run's line reversed): what every withdrawal says."""

    contract_id: str
    document_number: str
    withdrawn_on: date
    reason: str
    approval: Approval


@registry.register
class TerminationNoticeWithdrawn(NoticeWithdrawal):
    """A termination or withdrawal notice taken back before it took effect: the contracts service lifts the
    notice and brings back the days it had cut."""

    event_type = "invoicing.TerminationNoticeWithdrawn"
    schema_version = 1


@registry.register
class AccountSettled(Event):
    """Every obligation is performed: supply is over (the delivery term ended, or a termination ended it),
    every month supplied invoiced, no debt is open, no advance is left and every refund is paid out. The
    contracts service closes the contract on it."""

    event_type = "invoicing.AccountSettled"
    schema_version = 1

    contract_id: str
    settled_on: date


@registry.register
class PersonalDataExported(PersonalDataPart):
    """What the invoicing service holds about a counterparty, in answer to `claims.PersonalDataExportRequested`."""

    event_type = "invoicing.PersonalDataExported"
    schema_version = 2


registry.upcaster(PersonalDataExported.event_type, 1)(upcast_part_v1_v2)


@registry.register
class PersonalDataRead(PersonalDataAccess):
    """A read through the API of an account, its statement or reconciliation act, with the buyer's name,
    or of unidentified receipts with their payers' names, BINs and IBANs (law 94-V access log). Such a
    receipt belongs to no contract yet, so the read names the bank lines it returned (`bank_references`):
    the only key by which a payer's question "who saw my data" can find it. v1 had no `bank_references`."""

    event_type = "invoicing.PersonalDataRead"
    schema_version = 2

    bank_references: list[str]


@registry.upcaster(PersonalDataRead.event_type, 1)
def upcast_personal_data_read_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 read was of one contract's account, statement or act: it returned no bank line."""
    payload.setdefault("bank_references", [])
    return payload
