"""Personal-data rights (law 94-V, the KEGOC privacy policy): consents and opt-outs, requests with their
answer date, and deletion refused while any contract of the counterparty is open or within the retention
after it ends.

Pure rules: the key table and the encryption that make deletion possible in an append-only store
(crypto-shredding) live at the edge, in `services/claims/personal_keys.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from services.claims.domain.force_majeure import add_months
from shared.errors import ValidationFailed
from shared.events.claims import (
    ConsentRecorded,
    PersonalDataDeletionRefused,
    PersonalDataRequested,
    PersonalDataRequestKind,
    PersonalDataShredded,
)
from shared.events.registry import Event

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "personal_data.json"


@cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


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
                    details: str) -> PersonalDataRequested:
    due = received_on + timedelta(days=reference()["answer_within_calendar_days"])
    return PersonalDataRequested(request_id=request_id, contract_id=contract_id, kind=kind, received_on=received_on,
                                 answer_due=due, details=details.strip())


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
                     details: str = "") -> list[Event]:
    """Judged over every contract of the counterparty (same BIN or foreign registration), not the one the
    request names: its personal data are the same in all of them, so deleting them is refused while any
    is open or retained, with the earliest date the latest "end + 5 years" over all of them; otherwise
    each of those contracts is shredded (one `PersonalDataShredded` per contract)."""
    assert any(c.contract_id == contract_id for c in contracts), "the requesting contract is one of them"
    request = receive_request(request_id=request_id, contract_id=contract_id, kind="deletion",
                              received_on=received_on, details=details)
    earliest = max(retention_ends(c.ends_on) for c in contracts)
    if any(not c.ended for c in contracts):
        return [request, PersonalDataDeletionRefused(request_id=request_id, contract_id=contract_id,
                                                     reason="contract_open", earliest_on=earliest)]
    if received_on < earliest:
        return [request, PersonalDataDeletionRefused(request_id=request_id, contract_id=contract_id,
                                                     reason="retention_period", earliest_on=earliest)]
    return [request, *(PersonalDataShredded(request_id=request_id, contract_id=c.contract_id, shredded_on=received_on)
                       for c in sorted(contracts, key=lambda c: c.contract_id != contract_id))]
