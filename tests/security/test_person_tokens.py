"""Proves the back office's person tokens on the real services (`shared/person_tokens.py`, docs/security.md):

- a person token's person is the actor of the event its command records, through a FastAPI route
  (contracts' registration) and through the fast `POST /payments` path alike, and an Idempotency-Key
  is that person's;
- a token for another service (`aud`), expired, issued in the future beyond the skew, living longer than
  300 s, signed by a key the service does not trust, with its payload tampered with, from another
  issuer or with no signature is refused with 401 and its reason, recording nothing;
- an auditor's person token cannot command: a forged POST is refused by the service with 403;
- a role the services do not know grants nothing, and a service trusting no key refuses person tokens.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from shared.auth import Actor, Role, Unauthenticated, authorize, identify
from shared.person_tokens import issue_person_token, new_key_pair
from tests.integration.test_ledger_api import signed_contract
from tests.security.support import events_in, payment
from tests.support import (
    PERSON_TOKEN_PRIVATE_KEY,
    PERSON_TOKEN_PUBLIC_KEY,
    person_auth,
    seed_contract,
    unique,
    unique_meters,
)


async def actor_of(system, service: str, contract_id: str) -> list[str]:
    """The actors of the contract's events in the service's store, in order."""
    async with system[service].engine.connect() as conn:
        bodies = (await conn.scalars(text("SELECT body FROM event_store WHERE contract_id = :c ORDER BY position"),
                                     {"c": contract_id})).all()
    return [json.loads(body)["actor"] for body in bodies]


def signed(claims: dict, private_key_b64: str = PERSON_TOKEN_PRIVATE_KEY) -> str:
    """A token with exactly these claims, signed as the back office signs (what `issue_person_token` would
    refuse to make, a too-long lifetime, is made here)."""
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key_b64))
    return jwt.encode(claims, key, algorithm="EdDSA")


def claims(audience: str = "invoicing", *, issued: datetime | None = None, lifetime_s: int = 120, **change) -> dict:
    at = int((issued or datetime.now(UTC)).timestamp())
    return {"iss": "backoffice", "sub": "a.nurlanovna", "roles": ["treasury"], "aud": audience, "iat": at,
            "exp": at + lifetime_s, "jti": str(uuid.uuid4()), **change}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_person_of_a_token_is_the_actor_of_what_their_command_records(system):
    number = unique("PT")
    created = await system.clients["contracts"].post(
        "/contracts", json=seed_contract(number, unique_meters()),
        headers=person_auth("a.serikova", ["contracts"], "contracts"))
    assert created.status_code == 201, created.text
    assert await actor_of(system, "contracts", created.json()["contract_id"]) == ["a.serikova"]


async def test_a_payment_through_the_fast_route_names_the_person_and_their_key_is_theirs(system):
    contract_id = await signed_contract(system)
    service = system["invoicing"]
    before = dict(service.fast_route_counts["POST /payments"])
    reference = unique("PTPAY")
    key = unique("pt-key")
    first = await system.clients["invoicing"].post(
        "/payments", json=payment(contract_id, reference, "250.00"),
        headers={**person_auth("b.akhmetov", ["treasury"], "invoicing"), "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert service.fast_route_counts["POST /payments"]["answered"] == before["answered"] + 1
    recorded = [actor for actor in await actor_of(system, "invoicing", contract_id) if actor == "b.akhmetov"]
    assert len(recorded) >= 1   # the payment and what its allocation recorded, all by the person
    count = await events_in(system, "invoicing")
    # a second token of the same person (another jti, another call) meets the same key: the first answer again
    again = await system.clients["invoicing"].post(
        "/payments", json=payment(contract_id, reference, "250.00"),
        headers={**person_auth("b.akhmetov", ["treasury"], "invoicing"), "Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert await events_in(system, "invoicing") == count


@pytest.mark.parametrize(("case", "token", "reason"), [
    ("another service's", lambda: signed(claims("contracts")), "unknown_token"),
    ("expired", lambda: signed(claims(issued=datetime.now(UTC) - timedelta(seconds=121))), "token_expired"),
    ("issued 60 s ahead", lambda: signed(claims(issued=datetime.now(UTC) + timedelta(seconds=60))),
     "token_not_yet_valid"),
    ("living 301 s", lambda: signed(claims(lifetime_s=301)), "token_lifetime_too_long"),
    ("signed by a foreign key", lambda: signed(claims(), new_key_pair()[0]), "unknown_token"),
    ("tampered with", lambda: _tampered(signed(claims(roles=["auditor"])), roles=["treasury"]), "unknown_token"),
    ("another issuer's", lambda: signed(claims(iss="someone-else")), "unknown_token"),
    ("unsigned", lambda: jwt.encode(claims(), None, algorithm="none"), "unknown_token"),
    ("without a subject", lambda: signed({k: v for k, v in claims().items() if k != "sub"}), "unknown_token"),
])
async def test_a_token_the_service_must_not_take_is_refused_with_its_reason(system, case, token, reason):
    contract_id = unique("nobody")  # unknown: a taken token would be answered 404, never 201
    before = await events_in(system, "invoicing")
    answer = await system.clients["invoicing"].post("/payments", json=payment(contract_id, unique("PTX")),
                                                    headers=bearer(token()))
    assert answer.status_code == 401, (case, answer.text)
    assert answer.json()["reason"] == reason, case
    assert answer.headers["www-authenticate"] == "Bearer"
    assert await events_in(system, "invoicing") == before


async def test_an_auditors_forged_post_is_refused_by_the_service(system):
    contract_id = await signed_contract(system)
    before = await events_in(system, "invoicing")
    auditor = person_auth("c.auditova", [Role.AUDITOR.value], "invoicing")
    forged = await system.clients["invoicing"].post("/payments", json=payment(contract_id, unique("PTA")),
                                                    headers=auditor)
    assert forged.status_code == 403 and forged.json()["reason"] == "role_not_allowed"
    assert forged.json()["details"]["granted"] == ["auditor"]
    assert await events_in(system, "invoicing") == before
    read = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auditor)
    assert read.status_code == 200   # what an auditor may do, the same token does


class _Trust:
    def __init__(self, keys: list[str]):
        self.tokens: dict = {}
        self.person_token_public_keys = keys


def test_a_role_the_service_does_not_know_grants_nothing():
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    token = issue_person_token(PERSON_TOKEN_PRIVATE_KEY, person="d.root", roles=["treasury", "superuser"],
                               audience="invoicing", now=now)
    actor = authorize(_Trust([PERSON_TOKEN_PUBLIC_KEY]), "invoicing", "Bearer", token, frozenset({Role.TREASURY}), now)
    assert actor == Actor(name="d.root", roles=frozenset({"treasury"}))


def test_time_is_the_services_clock_and_a_trustless_service_refuses_person_tokens():
    issued = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    token = issue_person_token(PERSON_TOKEN_PRIVATE_KEY, person="e.time", roles=["billing"], audience="invoicing",
                               now=issued)
    trust = _Trust([PERSON_TOKEN_PUBLIC_KEY])
    # 119 s after issue it is taken; at 120 s (exp) it is not; 30 s before issue (the skew) it is, 31 s not
    assert identify(trust, "invoicing", "Bearer", token, issued + timedelta(seconds=119)).name == "e.time"
    assert identify(trust, "invoicing", "Bearer", token, issued - timedelta(seconds=30)).name == "e.time"
    for at, reason in ((issued + timedelta(seconds=120), "token_expired"),
                       (issued - timedelta(seconds=31), "token_not_yet_valid")):
        with pytest.raises(Unauthenticated) as refused:
            identify(trust, "invoicing", "Bearer", token, at)
        assert refused.value.reason == reason
    with pytest.raises(Unauthenticated) as refused:
        identify(_Trust([]), "invoicing", "Bearer", token, issued)
    assert refused.value.reason == "unknown_token"
    # a rotated-in key beside the old one: tokens of either are taken
    assert identify(_Trust([new_key_pair()[1], PERSON_TOKEN_PUBLIC_KEY]), "invoicing", "Bearer", token,
                    issued).name == "e.time"


def _tampered(token: str, **change) -> str:
    """The token with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, **change}).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"
