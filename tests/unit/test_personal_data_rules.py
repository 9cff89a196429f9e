"""Proves the pure personal-data rules (law 94-V, KEGOC policy): deletion is judged over every contract of
the counterparty (refused while any is open, earliest the latest end + 5 years, then, once a second privacy
officer approves, all are shredded: its own author cannot approve it); a
contract not yet ended is open and deletion is refused with the earliest date counted from its term; after it ends, refused until 5 years
later (Feb 29 clamps to Feb 28) and done from that day; consent to perform an open contract cannot be
withdrawn, optional purposes can; a request is answered by the reference term, and its details are
recorded only sealed."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest

from services.claims.domain import personal_data
from services.claims.events import PersonalDataDeletionRefused, PersonalDataRequested
from shared import personal_keys
from shared.approvals import OwnRequest, Pending
from shared.errors import ValidationFailed
from shared.events.claims import PersonalDataShredded

KEY = personal_keys.new_key()
SEAL = partial(personal_keys.seal_text, KEY, "k")   # a request's details sealed with the contract's key


def approved(request_events: list, contracts, on: date, requested_by: str = "officer-1",
             approved_by: str = "officer-2") -> list:
    """The second officer's approval of a deletion request that waits for it."""
    [request] = request_events
    return personal_data.approve_deletion(Pending(request.request_id, request.event_type, requested_by, request),
                                          approved_by=approved_by, today=on, contracts=contracts)


def deletion(received_on: date, ends_on: date, ended: bool):
    contracts = [personal_data.HeldContract("k", ends_on, ended)]
    events = personal_data.request_deletion(seal=SEAL, request_id="r", contract_id="k", received_on=received_on,
                                            contracts=contracts)
    if len(events) == 2:
        return events[1]          # refused at once
    return approved(events, contracts, received_on)[1]


def test_deletion_is_judged_over_every_contract_of_the_counterparty():
    # "k" ended 2010-06-30: its own retention ended 2015-06-30, long before the request;
    # "k2" (same BIN) is open, its term ending 2026-12-31: earliest 2026-12-31 + 5 years = 2031-12-31
    ended_long_ago = personal_data.HeldContract("k", date(2010, 6, 30), ended=True)
    still_open = personal_data.HeldContract("k2", date(2026, 12, 31), ended=False)
    [_, refused] = personal_data.request_deletion(seal=SEAL, request_id="r", contract_id="k", received_on=date(2025, 1, 10),
                                                  contracts=[ended_long_ago, still_open])
    assert isinstance(refused, PersonalDataDeletionRefused)
    assert (refused.contract_id, refused.reason, refused.earliest_on) == ("k", "contract_open", date(2031, 12, 31))
    # both ended: the later end (2027-03-31) rules: retained until 2032-03-31, then both are shredded
    both = [ended_long_ago, personal_data.HeldContract("k2", date(2027, 3, 31), ended=True)]
    [_, retained] = personal_data.request_deletion(seal=SEAL, request_id="r", contract_id="k", received_on=date(2032, 3, 30),
                                                   contracts=both)
    assert (retained.reason, retained.earliest_on) == ("retention_period", date(2032, 3, 31))
    asked = personal_data.request_deletion(seal=SEAL, request_id="r", contract_id="k2", received_on=date(2032, 3, 31),
                                           contracts=both)
    assert [type(e) for e in asked] == [PersonalDataRequested]   # nothing deleted yet: it awaits approval
    with pytest.raises(OwnRequest):
        approved(asked, both, date(2032, 4, 2), requested_by="officer-1", approved_by="officer-1")
    [approval, *shredded] = approved(asked, both, date(2032, 4, 2))
    assert (approval.requested_by, approval.approved_by, approval.approved_on) == (
        "officer-1", "officer-2", date(2032, 4, 2))
    # the requesting contract first, then the other, shredded on the day of the approval
    assert [(type(e), e.contract_id, e.shredded_on) for e in shredded] == [
        (PersonalDataShredded, "k2", date(2032, 4, 2)), (PersonalDataShredded, "k", date(2032, 4, 2))]
    [declined] = personal_data.decline_deletion(
        Pending("r", asked[0].event_type, "officer-1", asked[0]), declined_by="officer-1", reason="asked in error")
    assert (declined.declined_by, declined.reason) == ("officer-1", "asked in error")


def test_open_contract_refuses_deletion_with_its_earliest_date():
    refused = deletion(date(2030, 1, 1), date(2022, 12, 31), ended=False)
    assert isinstance(refused, PersonalDataDeletionRefused)
    assert (refused.reason, refused.earliest_on) == ("contract_open", date(2027, 12, 31))


def test_retention_runs_five_years_from_the_end_then_deletion_is_done():
    ended = date(2024, 2, 29)  # 5 × 12 months later: 2029 has no Feb 29, so Feb 28
    refused = deletion(date(2029, 2, 27), ended, ended=True)
    assert (refused.reason, refused.earliest_on) == ("retention_period", date(2029, 2, 28))
    assert isinstance(deletion(date(2029, 2, 28), ended, ended=True), PersonalDataShredded)


def test_consent_rules():
    with pytest.raises(ValidationFailed) as refused:
        personal_data.record_consent(contract_id="k", purpose="contract_performance", given=False,
                                     on=date(2024, 1, 1), contract_open=True)
    assert refused.value.reason == "consent_required_by_contract"
    assert personal_data.record_consent(contract_id="k", purpose="contract_performance", given=False,
                                        on=date(2024, 1, 1), contract_open=False)[0].given is False
    assert personal_data.record_consent(contract_id="k", purpose="newsletters", given=False, on=date(2024, 1, 1),
                                        contract_open=True)[0].purpose == "newsletters"
    with pytest.raises(ValidationFailed) as unknown:
        personal_data.record_consent(contract_id="k", purpose="marketing", given=True, on=date(2024, 1, 1),
                                     contract_open=True)
    assert unknown.value.reason == "unknown_purpose"


def test_request_answer_date_follows_the_reference_term():
    # the reference term is 15 calendar days (flagged *verify* in reference/personal_data.json): Jan 20 → Feb 4
    request = personal_data.receive_request(request_id="r", contract_id="k", kind="access",
                                            received_on=date(2024, 1, 20), details="", seal=SEAL)
    assert request.answer_due == date(2024, 2, 4)
    assert request.details is None   # no words of the requester: nothing to keep


def test_a_requests_details_are_recorded_sealed_with_the_contracts_key():
    request = personal_data.receive_request(request_id="r", contract_id="k", kind="correction", seal=SEAL,
                                            received_on=date(2024, 1, 20), details=" новый e-mail: a.b@mail.kz ")
    assert "a.b@mail.kz" not in request.model_dump_json()
    assert personal_keys.open_text([KEY], "k", request.details) == "новый e-mail: a.b@mail.kz"
