"""Proves the upgrade that seals free texts and unidentified payers on databases written by the previous
version (real PostgreSQL, each service's migrations run from the revision before): the rows written then
take the shape a rebuild from the stored (older) events gives them, so `ledger verify` finds them equal;
the texts stored in clear read as before while the contract's key is held, "[shredded]" once it is
shredded, and not at all while no key has arrived; the receipts' clear columns are emptied, one still in
suspense opens as recorded, and one assigned before has its key marked deleted."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from sqlalchemy import text

from services.claims import projection as claims_projection
from services.claims.personal_keys import shred as claims_shred
from services.invoicing import personal_data, receipt_keys
from services.invoicing.projection import projector as ledger_projector
from shared import personal_keys
from shared.digest import digests
from shared.events import registry
from shared.eventstore import EventStore
from shared.migrate import upgrade
from tests.integration.test_personal_data_upgrade import AT, database, store_v1
from tests.support import seed_contract, unique

CLAIM_COLUMNS = ("claim_id, contract_id, contract_number, subject, description, received_at, received_on, zone,"
                 " answer_due, status, answered_on, answered_in_time, fully, comment, reasons")


def claim_registered(claim_id: str, contract_id: str, description: str) -> dict:
    return {"claim_id": claim_id, "contract_id": contract_id, "contract_number": "N-1",
            "received_at": "2024-06-03T10:00:00+00:00", "received_on": "2024-06-03", "zone": "Asia/Almaty",
            "answer_due": "2024-06-18", "subject": "other", "description": description, "disputed_amount": None,
            "disputed_volume_kwh": None, "disputed_event_id": None, "disputed_document": None}


def answered(claim_id: str, contract_id: str, **answer) -> dict:
    return {"claim_id": claim_id, "contract_id": contract_id, "answered_on": "2024-06-05", "answered_in_time": True,
            **answer}


def requested(request_id: str, contract_id: str, details: str) -> dict:
    return {"request_id": request_id, "contract_id": contract_id, "kind": "correction", "received_on": "2024-06-03",
            "answer_due": "2024-06-18", "details": details}


async def test_the_desks_texts_take_the_shape_a_rebuild_gives_them(postgres):
    url, engine = await database(postgres, "claims", "0011")
    held, shredded, pending = (f"{name}-{unique('K')}" for name in ("held", "shredded", "pending"))
    try:
        async with engine.begin() as conn:
            await store_v1(conn, "claims", [
                ("claims.ClaimRegistered", held, claim_registered("c1", held, "Иванов не ответил")),
                ("claims.ClaimAccepted", held, answered("c1", held, fully=True, correction=None,
                                                        comment="звонил Петров")),
                ("claims.ClaimRegistered", held, claim_registered("c2", held, "счёт неверен")),
                ("claims.ClaimRejected", held, answered("c2", held, reasons=["акт подписан", "Сидоров"])),
                ("claims.PersonalDataRequested", held, requested("q1", held, "новый e-mail: a@b.kz")),
                ("claims.PersonalDataRequested", held, requested("q2", held, "")),
                ("claims.ClaimRegistered", shredded, claim_registered("c3", shredded, "старая жалоба")),
                ("claims.ClaimAccepted", shredded, answered("c3", shredded, fully=True, correction=None, comment="")),
                ("claims.PersonalDataRequested", shredded, requested("q3", shredded, "удалите")),
                ("claims.ClaimRegistered", pending, claim_registered("c4", pending, "без ключа")),
            ])
            # the rows as the previous version's projection wrote them
            for claim_id, contract_id, description, status, comment, reasons in (
                    ("c1", held, "Иванов не ответил", "accepted", "звонил Петров", None),
                    ("c2", held, "счёт неверен", "rejected", None, ["акт подписан", "Сидоров"]),
                    ("c3", shredded, "старая жалоба", "accepted", None, None),
                    ("c4", pending, "без ключа", "open", None, None)):
                answered_on = None if status == "open" else date(2024, 6, 5)
                await conn.execute(text(f"""
                    INSERT INTO claims ({CLAIM_COLUMNS}) VALUES (:id, :c, 'N-1', 'other', :d, '2024-06-03T10:00Z',
                        '2024-06-03', 'Asia/Almaty', '2024-06-18', :s, :on, :in_time, :fully, :comment,
                        CAST(:reasons AS jsonb))
                """), {"id": claim_id, "c": contract_id, "d": description, "s": status, "on": answered_on,
                       "in_time": answered_on and True, "fully": True if status == "accepted" else None,
                       "comment": comment, "reasons": json.dumps(reasons) if reasons else None})
            for request_id, contract_id, details in (("q1", held, "новый e-mail: a@b.kz"), ("q2", held, ""),
                                                     ("q3", shredded, "удалите")):
                await conn.execute(text(
                    "INSERT INTO personal_data_requests (request_id, contract_id, kind, received_on, answer_due,"
                    " details) VALUES (:id, :c, 'correction', '2024-06-03', '2024-06-18', :d)"),
                    {"id": request_id, "c": contract_id, "d": details})
            await conn.execute(text("INSERT INTO personal_data_keys (contract_id, key) VALUES (:c, :k)"),
                               {"c": held, "k": personal_keys.new_key()})
            await conn.execute(text("INSERT INTO personal_data_keys (contract_id, shredded_at) VALUES (:c, now())"),
                               {"c": shredded})
        await asyncio.to_thread(upgrade, "claims", url)

        tables = claims_projection.projector.tables
        async with engine.begin() as conn:
            shown = {row.claim_id: (row.description, row.comment, row.reasons) for row in await conn.execute(
                text("SELECT claim_id, description, comment, reasons FROM claims"))}
            assert shown == {"c1": ("Иванов не ответил", "звонил Петров", None),
                             "c2": ("счёт неверен", None, ["акт подписан", "Сидоров"]),
                             "c3": ("[shredded]", None, None), "c4": (None, None, None)}
            details = dict((await conn.execute(text("SELECT request_id, details FROM personal_data_requests"))).all())
            assert details == {"q1": "новый e-mail: a@b.kz", "q2": "", "q3": "[shredded]"}
            live = await digests(conn, tables)
            await claims_projection.projector.rebuild(conn, EventStore("claims", registry))
            assert await digests(conn, tables) == live   # the migrated rows are what a rebuild writes
            # the contract's key is shredded: its texts go with it
            assert await personal_keys.apply_key_message(conn, held, None, claims_projection.refresh, claims_shred)
            shown = dict((await conn.execute(text("SELECT claim_id, description FROM claims"
                                                  " WHERE contract_id = :c"), {"c": held})).all())
            assert shown == {"c1": "[shredded]", "c2": "[shredded]"}
    finally:
        await engine.dispose()


def payment_v1(contract_id: str, n: int, purpose: str) -> dict:
    amount = {"amount": "1000.00", "currency": "KZT"}
    return {"contract_id": contract_id, "payment_id": f"p{n}", "bank_reference": f"R{n}", "amount": amount,
            "received_on": "2022-02-10", "payer_bin": None, "payer_iban": None, "purpose": purpose,
            "postings": [{"account": "cash", "amount": amount},
                         {"account": "advance", "amount": {"amount": "-1000.00", "currency": "KZT"}}]}


def receipt_v1(reference: str, name: str, purpose: str) -> dict:
    return {"contract_id": "unidentified", "bank_reference": reference, "amount": {"amount": "5.00", "currency": "KZT"},
            "received_on": "2022-02-10", "payer_name": name, "payer_bin": None, "payer_iban": "KZ000000000000000001",
            "purpose": purpose, "why": "unknown_payer"}


async def test_the_ledgers_purposes_and_receipts_take_the_shape_a_rebuild_gives_them(postgres):
    url, engine = await database(postgres, "invoicing", "0009")
    contract_id = unique("K")
    # positions 1…6 in the store: the account, two payments (one without a purpose), two receipts, an assignment
    events = [("invoicing.AccountOpened", contract_id, {"contract_id": contract_id, "terms": seed_contract("N-1")}),
              ("invoicing.PaymentReceived", contract_id, payment_v1(contract_id, 1, "за январь, Ахметов")),
              ("invoicing.PaymentReceived", contract_id, payment_v1(contract_id, 2, "")),
              ("invoicing.UnidentifiedReceiptRecorded", "unidentified", receipt_v1("U1", "ИП Сидоров", "за свет")),
              ("invoicing.UnidentifiedReceiptRecorded", "unidentified", receipt_v1("U2", "ИП Петров", "аванс")),
              ("invoicing.ReceiptAssigned", "unidentified", {"contract_id": "unidentified", "bank_reference": "U2",
                                                             "assigned_contract_id": contract_id})]
    try:
        async with engine.begin() as conn:
            await store_v1(conn, "invoicing", events)
            # the rows as the previous version's projection wrote them (recorded at AT, as the events)
            for position, payment, description in ((2, "p1", "payment: за январь, Ахметов"), (3, "p2", "payment: ")):
                await conn.execute(text(
                    "INSERT INTO statement_lines VALUES (:p, :c, '2022-02-10', :at, 'payment', :r, :d, -1000.00,"
                    " 'KZT', CAST(:details AS jsonb))"),
                    {"p": position, "c": contract_id, "at": AT, "r": f"R{payment[1]}", "d": description,
                     "details": json.dumps({"payment_id": payment, "value_date": "2022-02-10"})})
            for reference, name, purpose, assigned in (("U1", "ИП Сидоров", "за свет", None),
                                                       ("U2", "ИП Петров", "аванс", contract_id)):
                await conn.execute(text(
                    "INSERT INTO unidentified_receipts VALUES (:r, 5.00, 'KZT', '2022-02-10', :n, NULL,"
                    " 'KZ000000000000000001', :p, 'unknown_payer', :a)"),
                    {"r": reference, "n": name, "p": purpose, "a": assigned})
        await asyncio.to_thread(upgrade, "invoicing", url)

        compared = ["statement_lines", "unidentified_receipts"]
        async with engine.begin() as conn:
            rows = (await conn.execute(text("SELECT * FROM unidentified_receipts ORDER BY bank_reference"))).mappings()
            rows = [dict(row) for row in rows]
            assert {(r["payer_name"], r["payer_iban"], r["purpose"]) for r in rows} == {(None, None, None)}
            # still in suspense: opens as recorded; assigned before: its key marked deleted
            [suspended, assigned] = await receipt_keys.opened_lines(conn, rows)
            assert (suspended["payer_name"], suspended["payer_iban"], suspended["purpose"]) == (
                "ИП Сидоров", "KZ000000000000000001", "за свет")
            assert (assigned["payer_name"], assigned["purpose"]) == ("[shredded]", "[shredded]")
            lines = [dict(row) for row in (await conn.execute(text(
                "SELECT contract_id, description, details FROM statement_lines ORDER BY position"))).mappings()]
            assert [line["description"] for line in lines] == ["payment", "payment"]
            # the contract's key has not arrived: no purpose shows; once it has, the one recorded in clear does
            assert [line["description"] for line in await personal_data.purposes_opened(conn, lines)] == [
                "payment", "payment"]
            live = await digests(conn, compared)
            await ledger_projector.rebuild(conn, EventStore("invoicing", registry))
            assert await digests(conn, compared) == live   # the migrated rows are what a rebuild writes
            assert await personal_keys.apply_key_message(conn, contract_id, personal_keys.new_key(),
                                                         personal_data.refresh)
            assert [line["description"] for line in await personal_data.purposes_opened(conn, lines)] == [
                "payment: за январь, Ахметов", "payment"]
    finally:
        await engine.dispose()

