"""Proves that group commit of payments keeps one-command semantics on the real database: payments sent
at once are recorded in fewer transactions than payments, each decided alone (a refused one records
nothing, a reference twice answers the first result), debt first across a batch, and the chain holds;
and that the batch's read finds posted references by the primary key in the plan a connection keeps."""

from __future__ import annotations

import asyncio

from services.invoicing.batcher import _POSTED_AND_TAILS
from shared.eventstore import verify_chain
from tests.integration.test_ledger_api import account, event_count, publish_act, signed_contract, wait_for_debt
from tests.support import auth, unique


def payment(contract_id: str, amount: str, reference: str | None = None, currency: str = "KZT") -> dict:
    return {"contract_id": contract_id, "bank_reference": reference or unique("GC"), "received_on": "2022-02-07",
            "amount": {"amount": amount, "currency": currency}, "purpose": "group commit"}


async def test_a_burst_of_payments_is_recorded_in_fewer_transactions_each_decided_alone(system):
    first, second = await signed_contract(system), await signed_contract(system)
    client, batcher = system.clients["invoicing"], system["invoicing"].application.payments
    twice = unique("TWICE")
    burst = ([payment(first, "100.00") for _ in range(5)] + [payment(second, "250.00") for _ in range(3)]
             + [payment(first, "7.00", reference=twice), payment(first, "7.00", reference=twice)]
             + [payment(first, "10.00", currency="USD"), payment("no-such-contract", "10.00")])
    events_before, batches_before = await event_count(system), batcher.batches

    answers = await asyncio.gather(*(client.post("/payments", json=body, headers=auth()) for body in burst))

    statuses = [answer.status_code for answer in answers]
    assert statuses[:8] == [201] * 8
    # the same reference twice: one is recorded, the other gets its result (which one is first is the race's)
    assert sorted(statuses[8:10]) == [200, 201]
    assert answers[8].json()["payment_id"] == answers[9].json()["payment_id"]
    assert [(a.status_code, a.json()["reason"]) for a in answers[10:]] == [(422, "currency_mismatch"),
                                                                          (404, "account_not_found")]
    # 9 payments recorded (5 + 3 + the reference once), each one PaymentReceived (no debt to allocate);
    # the refused two recorded nothing
    assert await event_count(system) == events_before + 9
    assert batcher.batches - batches_before < 9, "the burst shared transactions"
    # 5 × 100.00 + 7.00 = 507.00 held for the first contract; 3 × 250.00 = 750.00 for the second
    assert (await account(system, first))["advance"] == {"amount": "507.00", "currency": "KZT"}
    assert (await account(system, second))["advance"] == {"amount": "750.00", "currency": "KZT"}
    async with system["invoicing"].engine.connect() as conn:
        assert (await verify_chain(conn)).ok


async def test_payments_in_one_batch_pay_the_oldest_debt_first_and_leave_the_rest_as_advance(system):
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    # 31,000 × 13.55 = 420,050.00 energy + VAT 12% 50,406.00 = 470,456.00
    await wait_for_debt(system, contract_id, "470456.00")
    client = system.clients["invoicing"]

    answers = await asyncio.gather(*(client.post("/payments", json=payment(contract_id, amount), headers=auth())
                                     for amount in ("400000.00", "100000.00")))

    assert [a.status_code for a in answers] == [201, 201]
    # whichever came first, 500,000.00 paid energy 420,050.00 then VAT 50,406.00 and left
    # 500,000.00 − 470,456.00 = 29,544.00 as advance
    paid: dict[str, int] = {}
    for answer in answers:
        for piece in answer.json()["allocations"]:
            paid[piece["kind"]] = paid.get(piece["kind"], 0) + int(piece["amount"].replace(".", ""))
    assert paid == {"energy": 42_005_000, "vat": 5_040_600}  # in tiyn
    found = await account(system, contract_id)
    assert (found["debt"]["amount"], found["advance"]["amount"]) == ("0.00", "29544.00")


async def test_the_batch_read_finds_posted_references_by_key_in_the_plan_a_connection_keeps(system):
    # A connection plans a prepared statement generically from its sixth run and keeps that plan until the next
    # ANALYZE. Planned with the payments table at a few hundred rows (a new database, or the bench's), a lookup by
    # `bank_reference = ANY(:refs)` chose to scan the whole table, and every later batch scanned it again as it
    # grew (0.75 ms a batch at 16,000 payments). A probe per reference is an index scan from ~400 rows on.
    sql = str(_POSTED_AND_TAILS)
    for number, name in enumerate(("streams", "versions", "refs", "payers"), start=1):
        sql = sql.replace(f":{name}", f"${number}")
    async with system["invoicing"].engine.connect() as conn:  # never committed: the rows below are rolled back
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql(
            "INSERT INTO payments (bank_reference, payment_id, contract_id, amount, currency, received_on)"
            " SELECT 'PLAN-' || n, 'plan-payment-' || n, 'plan-contract', 10, 'KZT', DATE '2022-02-07'"
            " FROM generate_series(1, 800) AS n")
        await conn.exec_driver_sql(f"PREPARE batch_read(text[], integer[], text[], text[]) AS {sql}")
        try:
            plan = "\n".join(row[0] for row in await conn.exec_driver_sql(
                "EXPLAIN EXECUTE batch_read('{account-plan}', '{0}', '{PLAN-1,PLAN-2,PLAN-3}', '{}')"))
        finally:
            await conn.exec_driver_sql("DEALLOCATE batch_read")
    assert "Index Scan using payments_pkey on payments" in plan, plan
    assert "Seq Scan on payments" not in plan, plan
