"""Personal-data rights (law 94-V, the KEGOC privacy policy): consents and opt-outs, requests with their
answer date, and deletion refused while any contract of the counterparty is open or within the retention
after it ends.

Pure rules: the key table and the encryption that make deletion possible in an append-only store
(crypto-shredding) live at the edge, in `services/claims/personal_keys.py`; a request's details (the
requester's own words) are recorded sealed by `seal`, which the edge binds to the contract's key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import TypedDict

from services.claims.domain.force_majeure import add_months
from services.claims.events import (
    ConsentRecorded,
    PersonalDataDeletionApproved,
    PersonalDataDeletionDeclined,
    PersonalDataDeletionRefused,
    PersonalDataRequested,
    PersonalDataRequestKind,
)
from shared.approvals import Pending, check_approver
from shared.errors import ValidationFailed
from shared.events.claims import PersonalDataShredded
from shared.events.registry import Event
from shared.events.sealing import SealText, text_or_none

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "personal_data.json"


class Purpose(TypedDict):
    optional: bool        # false: needed to perform the contract, no withdrawal while one is open


class PersonalDataReference(TypedDict):
    """The parts of `reference/personal_data.json` the rules read."""

    retention_years_after_end: int
    answer_within_calendar_days: int
    purposes: dict[str, Purpose]


@cache
def reference() -> PersonalDataReference:
    parsed: PersonalDataReference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return parsed


def stream_id(contract_id: str) -> str:
    """The contract's consents and deletion requests (access, portability and correction requests are
    streams of their own: `export.stream_id`)."""
    return f"personal-data-{contract_id}"


def retention_ends(ended_on: date) -> date:
    """The first day personal data may be deleted: 5 years after the relationship ended."""
    return add_months(ended_on, 12 * reference()["retention_years_after_end"])


def record_consent(*, contract_id: str, purpose: str, given: bool, on: date, contract_open: bool) -> list[Event]:
    purposes = reference()["purposes"]
    if purpose not in purposes:
        raise ValidationFailed(f"unknown purpose {purpose!r}", reason="unknown_purpose",
                               details={"purposes": sorted(purposes)})
    # 94-V: consent cannot be withdrawn where that would stop an open contract or a duty under law
    if not given and not purposes[purpose]["optional"] and contract_open:
        raise ValidationFailed("consent to perform an open contract cannot be withdrawn",
                               reason="consent_required_by_contract")
    return [ConsentRecorded(contract_id=contract_id, purpose=purpose, given=given, recorded_on=on)]


def receive_request(*, request_id: str, contract_id: str, kind: PersonalDataRequestKind, received_on: date,
                    details: str, seal: SealText) -> PersonalDataRequested:
    due = received_on + timedelta(days=reference()["answer_within_calendar_days"])
    return PersonalDataRequested(request_id=request_id, contract_id=contract_id, kind=kind, received_on=received_on,
                                 answer_due=due, details=text_or_none(details.strip(), seal))


@dataclass(frozen=True)
class HeldContract:
    """One contract of the counterparty as the desk holds it: `ends_on` is when it ended (terminated or
    settled) or, while it has not, the end of its delivery term. A contract stays in force for
    settlement until every obligation is performed, so one not yet `ended` is open whatever the date,
    and its earliest date is counted from the term's end."""

    contract_id: str
    ends_on: date
    ended: bool


def request_deletion(*, request_id: str, contract_id: str, received_on: date, contracts: list[HeldContract],
                     seal: SealText, details: str = "") -> list[Event]:
    """Judged over every contract of the counterparty (same BIN or foreign registration), not the one the
    request names: its personal data are the same in all of them, so deleting them is refused while any
    is open or retained, with the earliest date the latest "end + 5 years" over all of them; otherwise it
    waits for a second privacy officer, whose approval shreds each of those contracts (one
    `PersonalDataShredded` per contract)."""
    assert any(c.contract_id == contract_id for c in contracts), "the requesting contract is one of them"
    request = receive_request(request_id=request_id, contract_id=contract_id, kind="deletion",
                              received_on=received_on, details=details, seal=seal)
    refused = _refusal(request_id, contract_id, received_on, contracts)
    # a deletion that may go ahead waits for a second privacy officer (four eyes): `approve_deletion`
    return [request, *refused]


def _refusal(request_id: str, contract_id: str, on: date, contracts: list[HeldContract]) -> list[Event]:
    earliest = max(retention_ends(c.ends_on) for c in contracts)
    if any(not c.ended for c in contracts):
        return [PersonalDataDeletionRefused(request_id=request_id, contract_id=contract_id, reason="contract_open",
                                            earliest_on=earliest)]
    if on < earliest:
        return [PersonalDataDeletionRefused(request_id=request_id, contract_id=contract_id,
                                            reason="retention_period", earliest_on=earliest)]
    return []


def approve_deletion(pending: Pending, *, approved_by: str, today: date, contracts: list[HeldContract]) -> list[Event]:
    """The second privacy officer approves a deletion request: judged again on `today` (a contract may have
    been reopened meanwhile), then each contract of the counterparty is shredded."""
    check_approver(pending, approved_by)
    request: PersonalDataRequested = pending.request
    refused = _refusal(request.request_id, request.contract_id, today, contracts)
    if refused:
        return refused
    return [PersonalDataDeletionApproved(request_id=request.request_id, contract_id=request.contract_id,
                                         requested_by=pending.requested_by, approved_by=approved_by,
                                         approved_on=today),
            *(PersonalDataShredded(request_id=request.request_id, contract_id=c.contract_id, shredded_on=today)
              for c in sorted(contracts, key=lambda c: c.contract_id != request.contract_id))]


def decline_deletion(pending: Pending, *, declined_by: str, reason: str) -> list[Event]:
    if not reason.strip():
        raise ValidationFailed("declining needs a reason", reason="missing_reason")
    request: PersonalDataRequested = pending.request
    return [PersonalDataDeletionDeclined(request_id=request.request_id, contract_id=request.contract_id,
                                         declined_by=declined_by, reason=reason.strip())]
