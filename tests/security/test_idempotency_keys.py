"""Proves `Idempotency-Key` on the real services and database: a partial penalty waiver retried with one
key is applied once and answered the same; the same key with another body is refused
(`idempotency_key_reused`); the fast `POST /payments` route honours the key as the FastAPI routes do;
a retry while the first is still running is told to wait (`idempotency_key_in_progress`, Retry-After);
when the answer is lost after the command committed, a retry never runs it again
(`idempotency_outcome_unknown`), while a first attempt that died before committing is run by the retry;
an answer that says "retry" frees the key only when nothing was committed, and an answer too large to
keep is not replayed but its command is not run again; keys are per person; a malformed key is refused;
every POST of the four services declares the header."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import text

from shared.idempotency import IdempotencyKeys, KeyStore, request_digest
from shared.migrate import SERVICES
from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.security.support import events_in, payment
from tests.support import auth, unique

OPERATOR = "test-operator"  # the actor of auth("operator") (tests/support.py)


def keyed(key: str, role: str = "operator") -> dict[str, str]:
    return {**auth(role), "Idempotency-Key": key, "Content-Type": "application/json"}


async def penalised_contract(system) -> tuple[str, str]:
    """A contract with an accrued penalty: (contract id, the penalty's document number)."""
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    client = system.clients["invoicing"]
    paid = await client.post("/payments", json={**payment(contract_id, unique("LATE"), "470456.00", "2022-03-01")},
                             headers=auth())
    assert paid.status_code == 201, paid.text
    accrued = await client.post(f"/accounts/{contract_id}/penalties/accrue", json={"as_of": "2022-03-31"},
                                headers=auth())
    penalty = next(e for e in accrued.json() if "late_item_id" in e)
    # 15 days at 10.25% + 6 days at 13.50% on 470,456.00 → 4,538.61 (tests/unit/test_ledger_rules.py)
    assert penalty["amount"]["amount"] == "4538.61"
    return contract_id, penalty["document_number"]


def waiver(amount: str) -> bytes:
    return json.dumps({"reason": "goodwill after the outage", "amount": {"amount": amount, "currency": "KZT"},
                       "waived_on": "2022-04-01"}).encode()


async def test_a_partial_waiver_retried_with_one_key_is_applied_once(system):
    contract_id, document = await penalised_contract(system)
    client = system.clients["invoicing"]
    path = f"/accounts/{contract_id}/penalties/{document}/waive"
    key = unique("waive")

    # the waiver is asked for (four eyes): the retry of the request replays its answer, one request recorded
    before = await events_in(system, "invoicing")
    first = await client.post(path, content=waiver("1000.00"), headers=keyed(key))
    assert first.status_code == 202, first.text
    assert await events_in(system, "invoicing") == before + 1  # one PenaltyWaiverRequested
    retried = await client.post(path, content=waiver("1000.00"), headers=keyed(key))
    assert (retried.status_code, retried.json()) == (202, first.json())
    assert retried.headers["idempotent-replayed"] == "true"
    assert await events_in(system, "invoicing") == before + 1

    reused = await client.post(path, content=waiver("500.00"), headers=keyed(key))
    assert (reused.status_code, reused.json()["reason"]) == (409, "idempotency_key_reused")
    assert await events_in(system, "invoicing") == before + 1

    # the second person's approval, retried after a timeout with its own key: one PenaltyWaived
    approve = f"/approvals/{first.json()[0]['request_id']}/approve"
    approval_key = unique("approve")
    approved = await client.post(approve, headers=keyed(approval_key, "approver"))
    assert approved.status_code == 201, approved.text
    again = await client.post(approve, headers=keyed(approval_key, "approver"))
    assert (again.status_code, again.json()) == (201, approved.json())
    assert await events_in(system, "invoicing") == before + 2

    # applied once: 4,538.61 − 1,000.00 = 3,538.61 is still open, and not a tiyn more
    over = await client.post(path, content=waiver("3538.62"), headers=keyed(unique("waive")))
    assert (over.status_code, over.json()["reason"]) == (422, "waiver_exceeds_penalty")
    rest = await client.post(path, content=waiver("3538.61"), headers=keyed(unique("waive")))
    assert rest.status_code == 202, rest.text


async def test_the_fast_payment_route_honours_the_key(system):
    contract_id = await signed_contract(system)
    service, client = system["invoicing"], system.clients["invoicing"]
    answered = service.fast_route_counts["POST /payments"]["answered"]
    body = json.dumps(payment(contract_id, unique("FAST"))).encode()
    key = unique("pay")

    first = await client.post("/payments", content=body, headers=keyed(key))
    assert first.status_code == 201, first.text
    before = await events_in(system, "invoicing")
    again = await client.post("/payments", content=body, headers=keyed(key))
    assert (again.status_code, again.json()) == (201, first.json())  # the first answer, not the 200 of a repeat
    assert again.headers["idempotent-replayed"] == "true"
    assert await events_in(system, "invoicing") == before
    assert service.fast_route_counts["POST /payments"]["answered"] == answered + 2

    other = json.dumps(payment(contract_id, unique("FAST"))).encode()
    reused = await client.post("/payments", content=other, headers=keyed(key))
    assert (reused.status_code, reused.json()["reason"]) == (409, "idempotency_key_reused")
    assert await events_in(system, "invoicing") == before


async def held_key(system) -> tuple[bytes, str]:
    """(a payment's body, a key): the key held by a first request of that body, as a request holds it from
    its claim until its answer is stored."""
    body = json.dumps(payment(await signed_contract(system), unique("HELD"))).encode()
    key = unique("pay")
    claim = await KeyStore(system["invoicing"]).claim(OPERATOR, key, request_digest("POST", "/payments", b"", [body]))
    assert claim.key == key
    return body, key


async def test_a_retry_while_the_first_runs_is_told_to_wait(system):
    client = system.clients["invoicing"]
    body, key = await held_key(system)

    before = await events_in(system, "invoicing")
    waiting = await client.post("/payments", content=body, headers=keyed(key))
    assert (waiting.status_code, waiting.json()["reason"]) == (409, "idempotency_key_in_progress")
    assert waiting.headers["retry-after"] == "1"
    assert await events_in(system, "invoicing") == before


async def age(system, service: str, key: str) -> None:
    """Make the key's first request older than any request lives (`idempotency_running_timeout_s`)."""
    async with system[service].engine.begin() as conn:
        await conn.execute(text("UPDATE idempotency_keys SET started_at = started_at - interval '2 hours'"
                                " WHERE key = :k"), {"k": key})


async def test_an_answer_lost_after_the_commit_is_never_run_again(system, monkeypatch):
    contract_id, document = await penalised_contract(system)
    client = system.clients["invoicing"]
    path = f"/accounts/{contract_id}/penalties/{document}/waive"
    key = unique("waive")

    async def dies_before_storing(self, claim, answer):
        raise ConnectionResetError("the process died between the command's commit and its stored answer")

    with monkeypatch.context() as patched:
        patched.setattr(KeyStore, "finish", dies_before_storing)
        first = await client.post(path, content=waiver("100.00"), headers=keyed(key))
    assert first.status_code == 202, first.text
    after_first = await events_in(system, "invoicing")

    soon = await client.post(path, content=waiver("100.00"), headers=keyed(key))
    assert (soon.status_code, soon.json()["reason"]) == (409, "idempotency_key_in_progress")
    await age(system, "invoicing", key)
    later = await client.post(path, content=waiver("100.00"), headers=keyed(key))
    assert (later.status_code, later.json()["reason"]) == (409, "idempotency_outcome_unknown")
    assert await events_in(system, "invoicing") == after_first


async def test_a_first_attempt_that_died_before_committing_is_run_by_the_retry(system):
    client = system.clients["invoicing"]
    body, key = await held_key(system)
    await age(system, "invoicing", key)

    before = await events_in(system, "invoicing")
    retried = await client.post("/payments", content=body, headers=keyed(key))
    assert retried.status_code == 201, retried.text
    assert await events_in(system, "invoicing") > before
    replayed = await client.post("/payments", content=body, headers=keyed(key))
    assert (replayed.status_code, replayed.json()) == (201, retried.json())


async def test_a_key_is_per_person_and_a_malformed_key_is_refused(system):
    client = system.clients["invoicing"]
    key = unique("rate")
    rate = json.dumps({"effective_from": "2031-01-01", "rate_percent": "11.5", "source": "NBK decision"}).encode()
    # the operator may not set rates: the refusal is the operator's first answer under this key
    refused = await client.post("/base-rates", content=rate, headers=keyed(key))
    assert refused.status_code == 403
    # the same key is the admin's own: another person's request, run
    set_rate = await client.post("/base-rates", content=rate, headers=keyed(key, "admin"))
    assert set_rate.status_code == 201, set_rate.text
    assert "idempotent-replayed" not in set_rate.headers

    before = await events_in(system, "invoicing")
    for bad in ("with space", "x" * 256, "tab\there"):
        response = await client.post("/base-rates", content=rate,
                                     headers={**keyed("placeholder", "admin"), "Idempotency-Key": bad})
        assert (response.status_code, response.json()["reason"]) == (422, "invalid_idempotency_key"), bad
    assert await events_in(system, "invoicing") == before


@pytest.mark.parametrize("name", SERVICES)
async def test_every_post_declares_the_header(system, name):
    document = (await system.clients[name].get("/openapi.json")).json()
    posts = {path: operations["post"] for path, operations in document["paths"].items() if "post" in operations}
    assert posts, f"{name} has no POST"
    for path, post in posts.items():
        assert "Idempotency-Key" in [p["name"] for p in post.get("parameters", []) if p["in"] == "header"], path


async def test_without_a_key_a_request_stores_nothing(system):
    contract_id = await signed_contract(system)
    async with system["invoicing"].engine.connect() as conn:
        before = await conn.scalar(text("SELECT count(*) FROM idempotency_keys"))
    posted = await system.clients["invoicing"].post("/payments", json=payment(contract_id, unique("PLAIN")),
                                                    headers=auth())
    assert posted.status_code == 201
    async with system["invoicing"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM idempotency_keys")) == before
    assert uuid.UUID(posted.json()["payment_id"])


class StandIn:
    """A stand-in command behind the real middleware and key store: counts its runs, may commit a
    transaction (which marks the key, as every command's commit does) and answers as it is told."""

    def __init__(self, service, status: int, *, commits: bool = False, headers: dict | None = None,
                 body: bytes = b"{}", fails: bool = False):
        self.service, self.status, self.commits, self.headers, self.body, self.fails = (
            service, status, commits, headers or {}, body, fails)
        self.runs = 0

    async def __call__(self, scope, receive, send) -> None:
        self.runs += 1
        if self.commits:
            async with self.service.unit_of_work() as uow:
                await uow.commit()
        if self.fails:
            raise RuntimeError("a bug")
        headers = [(b"content-type", b"application/json"),
                   *((k.encode(), v.encode()) for k, v in self.headers.items())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def send_twice(system, command: StandIn) -> list:
    app = IdempotencyKeys(command, service=system["invoicing"], on_error=lambda exc: None)
    headers = keyed(unique("direct"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://direct") as client:
        return [await client.post("/command", content=b"{}", headers=headers) for _ in range(2)]


async def test_an_answer_that_says_retry_frees_the_key_only_when_nothing_was_committed(system):
    service = system["invoicing"]
    unavailable = StandIn(service, 503, headers={"Retry-After": "1"})
    assert [r.status_code for r in await send_twice(system, unavailable)] == [503, 503]
    assert unavailable.runs == 2  # freed: the retry ran it

    conflict = StandIn(service, 409, headers={"Retry-After": "1"})
    assert [r.status_code for r in await send_twice(system, conflict)] == [409, 409]
    assert conflict.runs == 2

    committed = StandIn(service, 503, commits=True, headers={"Retry-After": "1"})
    first, second = await send_twice(system, committed)
    assert committed.runs == 1  # something was committed: the first answer is kept, never run again
    assert (second.status_code, second.headers["idempotent-replayed"]) == (503, "true")

    bug = StandIn(service, 201, fails=True)
    assert [r.status_code for r in await send_twice(system, bug)] == [500, 500]
    assert bug.runs == 2  # a failure that committed nothing frees the key


async def test_an_answer_too_large_to_keep_is_not_replayed_but_the_command_is_not_run_again(system):
    service = system["invoicing"]
    large = StandIn(service, 200, commits=True, body=b"[" + b"0," * service.settings.idempotency_max_answer_bytes + b"0]")
    first, second = await send_twice(system, large)
    assert first.status_code == 200 and large.runs == 1
    assert (second.status_code, second.json()["reason"], second.json()["details"]["status"]) == (
        409, "idempotency_answer_not_kept", 200)
