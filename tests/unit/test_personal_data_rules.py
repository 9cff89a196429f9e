"""Proves the pure personal-data rules (law 94-V, KEGOC policy): a contract not yet ended is open and
deletion is refused with the earliest date counted from its term; after it ends, refused until 5 years
later (Feb 29 clamps to Feb 28) and done from that day; consent to perform an open contract cannot be
withdrawn, optional purposes can; a request is answered by the reference term."""

from __future__ import annotations

from datetime import date

import pytest

from services.claims.domain import personal_data
from shared.errors import ValidationFailed
from shared.events.claims import PersonalDataDeletionRefused, PersonalDataShredded


def deletion(received_on: date, ends_on: date, ended: bool):
    return personal_data.request_deletion(request_id="r", contract_id="k", received_on=received_on,
                                          ends_on=ends_on, ended=ended)[1]


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
                                            received_on=date(2024, 1, 20), details="")
    assert request.answer_due == date(2024, 2, 4)
