"""Proves `POST /payments` answers the same through its fast path as through FastAPI alone, on the real
database: every case of the API's contract (recorded, repeated, reused reference, refused by the
rules, unknown contract, bad token, wrong role, body off its schema, malformed JSON, another content
type) gets the same status and body from an instance with fast routes and one without, and the fast
path answers exactly the common cases."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import text

from tests.conftest import build_service
from tests.integration.test_ledger_api import signed_contract
from tests.support import auth, unique


def comparable(response, reference: str = "") -> tuple[int, object]:
    """Status and body, without what differs by design between two recordings: the payment's id and the
    bank reference each instance was given."""
    text_ = response.text.replace(reference, "<reference>") if reference else response.text
    try:
        body = json.loads(text_)
    except ValueError:
        return response.status_code, text_
    if isinstance(body, dict):
        body.pop("payment_id", None)
        if isinstance(body.get("details"), dict):
            body["details"].pop("payment_id", None)
    return response.status_code, body


async def test_the_fast_path_and_fastapi_give_the_same_answers(system):
    contract_id = await signed_contract(system)
    fast = system.clients["invoicing"]
    service = system["invoicing"]
    # a second instance on the same database, serving every route through FastAPI (a replica, as in prod)
    plain_service = build_service("invoicing", system.urls["invoicing"], system.bootstrap, service.tracer_provider,
                                  http_fast_routes=False)
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_service.app), base_url="http://plain")
    posted_fast, posted_plain = unique("FAST"), unique("PLAIN")

    def payment(reference: str, **change) -> dict:
        return {"contract_id": contract_id, "bank_reference": reference, "received_on": "2022-02-07",
                "amount": {"amount": "100.00", "currency": "KZT"}, "purpose": "fast or not", **change}

    # (name, the request for the fast instance, the same for the plain one, answered by the fast path?)
    cases = [
        ("recorded", payment(posted_fast), payment(posted_plain), auth(), True),
        ("repeated", payment(posted_fast), payment(posted_plain), auth(), True),
        ("reference reused with another amount", payment(posted_fast, amount={"amount": "7.00", "currency": "KZT"}),
         payment(posted_plain, amount={"amount": "7.00", "currency": "KZT"}), auth(), True),
        ("zero amount", *[payment(unique("Z"), amount={"amount": "0.00", "currency": "KZT"})] * 2, auth(), True),
        ("another currency", *[payment(unique("U"), amount={"amount": "5.00", "currency": "USD"})] * 2, auth(), True),
        ("unknown contract", *[payment(unique("N"), contract_id="no-such-contract")] * 2, auth(), True),
        ("amount as a float", *[payment(unique("F"), amount={"amount": 10.5, "currency": "KZT"})] * 2, auth(), False),
        ("no date", *[{k: v for k, v in payment(unique("D")).items() if k != "received_on"}] * 2, auth(), False),
        ("control character in the purpose", *[payment(unique("C"), purpose="a\x07b")] * 2, auth(), False),
        ("no token", *[payment(unique("T"))] * 2, {}, False),
        ("unknown token", *[payment(unique("T"))] * 2, {"Authorization": "Bearer nobody"}, False),
        ("an auditor", *[payment(unique("A"))] * 2, auth("auditor"), False),
    ]
    try:
        for name, fast_body, plain_body, headers, answered_fast in cases:
            before = dict(service.fast_route_counts.get("POST /payments", {"answered": 0, "passed_on": 0}))
            got_fast = await fast.post("/payments", json=fast_body, headers=headers)
            got_plain = await plain.post("/payments", json=plain_body, headers=headers)
            assert comparable(got_fast, fast_body["bank_reference"]) == \
                comparable(got_plain, plain_body["bank_reference"]), name
            after = service.fast_route_counts["POST /payments"]
            way = "answered" if answered_fast else "passed_on"
            assert after[way] == before[way] + 1, name
        charset_references: list[str] = []
        # raw bodies the JSON helper cannot send: malformed JSON, a JSON body typed as text, a charset
        for name, body, content_type, status in [
            ("malformed JSON", b"{\"contract_id\": ", "application/json", 422),
            ("typed as text", b"{}", "text/plain", 422),
            ("with a charset", None, "application/json; charset=utf-8", 201),
        ]:
            answers = []
            for client in (fast, plain):
                if body is None:
                    charset_references.append(unique("S"))
                raw = body if body is not None else httpx.Request(
                    "POST", "/", json=payment(charset_references[-1])).content
                answers.append(comparable(await client.post(
                    "/payments", content=raw, headers={**auth(), "content-type": content_type}),
                    charset_references[-1] if body is None else ""))
            assert answers[0] == answers[1] and answers[0][0] == status, name
        counts = service.fast_route_counts["POST /payments"]
        assert counts["answered"] == 7 and counts["passed_on"] >= 8, counts
        # the plain instance never took the fast path: it has no counts at all
        assert plain_service.fast_route_counts == {}
        # and what the fast path recorded is what FastAPI recorded: one payment each, on the same account
        async with service.engine.connect() as conn:
            references = list(await conn.scalars(text("SELECT bank_reference FROM payments WHERE contract_id = :c"),
                                                 {"c": contract_id}))
        assert sorted(references) == sorted([posted_fast, posted_plain, *charset_references]), references
    finally:
        await plain.aclose()
        await plain_service.engine.dispose()
