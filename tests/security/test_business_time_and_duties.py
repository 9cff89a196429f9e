"""Proves, on the four real services, that business time is bounded and duties are split (architecture
MUSTs 10 and 11), each refusal with its reason and the event store unchanged:

- a day close of 2099 is refused (`day_not_over`) and a real day close afterwards still works;
- a deletion request dated in the future is refused (`business_date_in_future`), and so is a payment
  valued tomorrow; no business date anywhere lies in the future;
- a desk cannot do another desk's work (a billing clerk posting money, an auditor closing a day);
- one person cannot post and reverse a payment: the reversal is requested, its author's approval is
  refused (`own_request`), a second treasury clerk's approval records it, naming both;
- the penalty's multiplier is the contract's: a request naming one is refused;
- a token past its expiry is refused, and production settings refuse development tokens;
- a closed month takes no posting (`period_closed`), money valued in it is booked today, and an admin's
  reopening (with its reason) opens it again.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from shared.auth import token_hash
from shared.business_time import today
from shared.clock import SystemClock
from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.support import auth, seed_contract, unique


async def stored(system, service: str) -> int:
    async with system[service].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


def tomorrow() -> str:
    return (today(SystemClock()) + timedelta(days=1)).isoformat()


async def test_a_day_close_of_2099_is_refused_and_real_days_still_close(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    before = await stored(system, "invoicing")
    refused = await client.post("/day-close", json={"day": "2099-12-31"}, headers=auth("collections"))
    assert refused.status_code == 409 and refused.json()["reason"] == "day_not_over"
    today_refused = await client.post("/day-close", json={"day": today(SystemClock()).isoformat()},
                                      headers=auth("collections"))
    assert today_refused.json()["reason"] == "day_not_over"   # a day is closed once it is over
    assert await stored(system, "invoicing") == before
    closed = await client.post("/day-close", json={"day": "2022-01-05"}, headers=auth("collections"))
    assert closed.status_code == 200
    assert closed.json()["events"][contract_id][-1] == "invoicing.DayClosed"
    again = await client.post("/day-close", json={"day": "2022-01-06"}, headers=auth("collections"))
    assert again.json()["events"][contract_id][-1] == "invoicing.DayClosed"


async def test_future_business_dates_are_refused_everywhere(system):
    contract_id = await signed_contract(system)
    claims, invoicing = system.clients["claims"], system.clients["invoicing"]
    before = {name: await stored(system, name) for name in ("claims", "invoicing")}
    deletion = await claims.post(f"/personal-data/{contract_id}/requests", headers=auth("privacy"),
                                 json={"kind": "deletion", "received_on": "2099-01-01"})
    assert deletion.status_code == 409 and deletion.json()["reason"] == "business_date_in_future"
    assert deletion.json()["details"]["errors"][0]["loc"][-1] == "received_on"
    payment = await invoicing.post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": unique("FUT"), "amount": {"amount": "10.00", "currency": "KZT"},
        "received_on": tomorrow()})
    assert payment.status_code == 409 and payment.json()["reason"] == "business_date_in_future"
    answered = await claims.post("/claims/x/accept", headers=auth("claims"),
                                 json={"answered_on": tomorrow(), "answer": "ok"})
    assert answered.status_code == 409 and answered.json()["reason"] == "business_date_in_future"
    assert {name: await stored(system, name) for name in before} == before


async def test_each_desk_does_its_own_work(system):
    contract_id = await signed_contract(system)
    invoicing = system.clients["invoicing"]
    body = {"contract_id": contract_id, "bank_reference": unique("DESK"),
            "amount": {"amount": "10.00", "currency": "KZT"}, "received_on": "2022-01-10"}
    billing = await invoicing.post("/payments", json=body, headers=auth("billing"))
    assert billing.status_code == 403 and billing.json()["reason"] == "role_not_allowed"
    assert "treasury" in billing.json()["message"]
    auditor = await invoicing.post("/day-close", json={"day": "2022-01-05"}, headers=auth("auditor"))
    assert auditor.status_code == 403 and auditor.json()["reason"] == "role_not_allowed"
    treasury = await invoicing.post("/payments", json=body, headers=auth("treasury"))
    assert treasury.status_code == 201


async def test_one_person_cannot_post_and_reverse_a_payment(system):
    contract_id = await signed_contract(system)
    invoicing = system.clients["invoicing"]
    reference = unique("REV")
    posted = await invoicing.post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": reference, "amount": {"amount": "1000.00", "currency": "KZT"},
        "received_on": "2022-01-10"})
    assert posted.status_code == 201
    asked = await invoicing.post(f"/payments/{reference}/reverse", headers=auth("treasury"), json={
        "contract_id": contract_id, "reason": "another buyer's money", "reversed_on": "2022-01-11"})
    assert asked.status_code == 202
    [request] = asked.json()
    assert request["requested_by"] == "test-treasury"
    pending = await invoicing.get("/approvals", params={"contract_id": contract_id}, headers=auth("auditor"))
    assert [p["request_id"] for p in pending.json()["items"]] == [request["request_id"]]
    before = await stored(system, "invoicing")
    own = await invoicing.post(f"/approvals/{request['request_id']}/approve", headers=auth("treasury"))
    assert own.status_code == 403 and own.json()["reason"] == "own_request"
    other_desk = await invoicing.post(f"/approvals/{request['request_id']}/approve", headers=auth("billing"))
    assert other_desk.status_code == 403 and other_desk.json()["reason"] == "role_not_allowed"
    assert await stored(system, "invoicing") == before
    approved = await invoicing.post(f"/approvals/{request['request_id']}/approve", headers=auth("treasury-2"))
    assert approved.status_code == 201
    [reversal] = approved.json()
    assert reversal["amount"] == {"amount": "1000.00", "currency": "KZT"}
    assert reversal["approval"] == {"request_id": request["request_id"], "requested_by": "test-treasury",
                                    "approved_by": "test-treasury-2"}
    twice = await invoicing.post(f"/approvals/{request['request_id']}/approve", headers=auth("treasury-2"))
    assert twice.status_code == 404 and twice.json()["reason"] == "request_not_found"
    assert (await invoicing.get("/approvals", params={"contract_id": contract_id}, headers=auth())).json()["items"] == []


async def test_a_request_chooses_no_penalty_term(system):
    """§5.7 the multiplier, the day-count basis and whether the payment day counts are the contract's
    (`PenaltyClauseTerms`): a request naming any of them is refused, and its document says so."""
    contract_id = await signed_contract(system)
    before = await stored(system, "invoicing")
    for field, value in (("multiplier", "0.0001"), ("basis_days", 366), ("count_payment_day", False)):
        refused = await system.clients["invoicing"].post(
            f"/accounts/{contract_id}/penalties/accrue", headers=auth("billing"),
            json={"as_of": "2022-03-31", field: value})
        assert refused.status_code == 422 and refused.json()["reason"] == "invalid_request", field
        assert refused.json()["details"]["errors"][0]["loc"][-1] == field
    assert await stored(system, "invoicing") == before
    document = (await system.clients["invoicing"].get("/openapi.json")).json()
    body = document["components"]["schemas"]["AccruePenalties"]
    assert set(body["properties"]) == {"as_of"} and body["additionalProperties"] is False


async def test_an_expired_token_is_refused(system):
    from shared.settings import TokenGrant

    service = system["invoicing"]
    expired = token_hash("test-expired-token")
    service.settings.tokens[expired] = TokenGrant(actor="test-expired", roles=["treasury"],
                                                  expires_at=datetime.now(UTC) - timedelta(minutes=1))
    try:
        answer = await system.clients["invoicing"].get("/books", headers={"Authorization": "Bearer test-expired-token"})
        assert answer.status_code == 401 and answer.json()["reason"] == "token_expired"
        assert answer.headers["www-authenticate"] == "Bearer"
    finally:
        del service.settings.tokens[expired]


def test_production_refuses_development_tokens_and_tokens_that_never_expire():
    from services.invoicing.app import Settings

    development = {token_hash("t"): {"actor": "dev-treasury", "roles": ["treasury"], "development": True,
                                     "expires_at": "2030-01-01T00:00:00+05:00"}}
    forever = {token_hash("t"): {"actor": "a.person", "roles": ["treasury"]}}
    for tokens in (development, forever):
        with pytest.raises(ValueError, match="production refuses"):
            Settings(environment="production", tokens=tokens)
        Settings(environment="development", tokens=tokens)   # a laptop may
    Settings(environment="production", tokens={token_hash("t"): {"actor": "a.person", "roles": ["treasury"],
                                                                  "expires_at": "2030-01-01T00:00:00+05:00"}})


async def test_a_closed_month_takes_no_posting_until_an_admin_reopens_it(system):
    contract_id = await signed_contract(system)
    invoicing = system.clients["invoicing"]
    await publish_act(system, contract_id, f"act-{unique('c')}", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    books = (await invoicing.get("/books", headers=auth())).json()
    # the books are the ledger's: close every month up to 2022-02 that is not closed yet, in order
    month = date(2022, 1, 1) if books["closed_through"] is None else date.fromisoformat(books["closed_through"]) + \
        timedelta(days=1)
    while month <= date(2022, 2, 1):
        closed = await invoicing.post(f"/books/{month:%Y-%m}/close", headers=auth("billing"))
        assert closed.status_code == 201, closed.text
        month = (month + timedelta(days=32)).replace(day=1)
    reference = unique("LATE")
    # a statement that came late: valued 2022-02-20, in a closed month: booked today, and the statement
    # shows it on today's date with its value date beside it
    posted = await invoicing.post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": reference, "amount": {"amount": "100.00", "currency": "KZT"},
        "received_on": "2022-02-20"})
    assert posted.status_code == 201
    statement = (await invoicing.get(f"/accounts/{contract_id}/statement", headers=auth())).json()
    [line] = [line for line in statement["lines"] if line["document"] == reference]
    # today in the contract's own zone (the seed contract settles in UTC+1): the day the ledger learned of it
    zone = (await invoicing.get(f"/accounts/{contract_id}", headers=auth())).json()["terms"]["time_zone"]
    assert line["business_date"] == today(SystemClock(), zone).isoformat()
    assert line["details"]["value_date"] == "2022-02-20"
    # a reversal dated in the closed month is refused; nothing recorded
    before = await stored(system, "invoicing")
    refused = await invoicing.post(f"/payments/{reference}/reverse", headers=auth("treasury"), json={
        "contract_id": contract_id, "reason": "posted twice", "reversed_on": "2022-02-21"})
    assert refused.status_code == 409 and refused.json()["reason"] == "period_closed"
    assert refused.json()["details"]["closed_through"] >= "2022-02-28"
    assert await stored(system, "invoicing") == before
    not_admin = await invoicing.post("/books/2022-02/reopen", headers=auth("billing"), json={"reason": "late act"})
    assert not_admin.status_code == 403
    reopened = await invoicing.post("/books/2022-02/reopen", headers=auth("admin"),
                                    json={"reason": "a reversal of February's wrong payment"})
    assert reopened.status_code == 201 and reopened.json()["closed_through"] == "2022-01-31"
    asked = await invoicing.post(f"/payments/{reference}/reverse", headers=auth("treasury"), json={
        "contract_id": contract_id, "reason": "posted twice", "reversed_on": "2022-02-21"})
    assert asked.status_code == 202


async def test_personal_data_deletion_needs_a_second_privacy_officer(system):
    created = await system.clients["contracts"].post("/contracts", json=seed_contract(unique("PD")),
                                                     headers=auth("contracts"))
    contract_id = created.json()["contract_id"]
    await system.clients["contracts"].post(f"/contracts/{contract_id}/sign", headers=auth("contracts"))
    claims = system.clients["claims"]

    async def registered():
        return (await claims.get(f"/counterparties/{contract_id}", headers=auth())).status_code == 200

    from tests.support import eventually
    await eventually(registered)
    # an open contract: the deletion is refused at once, with its reason: nothing to approve
    [request, refused] = (await claims.post(f"/personal-data/{contract_id}/requests", headers=auth("privacy"),
                                            json={"kind": "deletion", "received_on": "2024-06-03"})).json()
    assert refused["reason"] == "contract_open"
    again = await claims.post(f"/personal-data/requests/{request['request_id']}/approve", headers=auth("privacy-2"))
    assert again.status_code == 409 and again.json()["reason"] == "request_decided"
