"""Proves that aging on a past date is the position of that day rebuilt from the events, on the real services:
a payment valued after `as_of` does not reduce it (though recorded before the report), an invoice issued after
`as_of` does not appear in it, and prepayment demands (§5.3) issued by then and not covered by the money valued
by then are aged by their due dates, until their month is invoiced. Figures derived by hand beside each check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import text

from services.invoicing import queries
from services.invoicing.aging_positions import AgingPositions
from services.invoicing.application import AGED_EVENT_TYPES
from services.invoicing.domain import account as acc
from shared.events import registry
from shared.money import Money
from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.support import auth, unique

ZERO = "0.00"


async def pay(client, contract_id: str, amount: str, on: str) -> None:
    paid = await client.post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": unique("AG"), "received_on": on,
        "amount": {"amount": amount, "currency": "KZT"}, "purpose": "электроэнергия"})
    assert paid.status_code == 201, paid.text


async def aged(client, contract_id: str, as_of: str) -> dict:
    answer = await client.get("/aging", params={"as_of": as_of, "contract_id": contract_id}, headers=auth())
    assert answer.status_code == 200, answer.text
    return answer.json()["contracts"].get(contract_id, {})


def buckets(entry: dict) -> dict[str, str]:
    return {name: entry[name] for name in ("current", "1-30", "31-60", "61-90", ">90")}


async def test_aging_as_of_a_past_date_is_that_days_position(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]

    # January's plan 31,000 kWh over 31 days = 1,000 kWh a day; §5.3 blocks of ten days: 1–10, 11–20, 21–30, and
    # the 31st alone. A 10-day block 10,000 × 13.55 = 135,500.00 + VAT 12% 16,260.00 = 151,760.00; the 31st:
    # 1,000 × 13.55 = 13,550.00 + 1,626.00 = 15,176.00. Due 3 banking days before each block: 1 Jan → 29 Dec
    # 2021; 11 Jan → 5 Jan (7 Jan a holiday, 8–9 a weekend); 21 Jan → 18 Jan; 31 Jan → 26 Jan
    demanded = await client.post(f"/accounts/{contract_id}/prepayments", headers=auth("billing"),
                                 json={"period": "2022-01", "requested_on": "2022-01-03"})
    assert demanded.status_code == 201, demanded.text
    assert [(d["amount"]["amount"], d["due_date"]) for d in demanded.json()] == [
        ("151760.00", "2021-12-29"), ("151760.00", "2022-01-05"), ("151760.00", "2022-01-18"),
        ("15176.00", "2022-01-26")]
    await pay(client, contract_id, "151760.00", "2022-01-05")

    # January's invoice, issued 2022-02-01: 470,456.00 due 2022-02-08; the 151,760.00 held pays part of it
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "318696.00")   # 470,456.00 − 151,760.00
    await pay(client, contract_id, "48240.00", "2022-02-10")
    await pay(client, contract_id, "270456.00", "2022-02-20")   # 151,760 + 48,240 + 270,456 = 470,456: paid
    # February's invoice, issued 2022-03-02: 25,000 × 13.55 = 338,750.00 + 40,650.00 = 379,400.00 due 2022-03-10
    # (3, 4, 7, 9, 10 March: 8 March a holiday)
    await publish_act(system, contract_id, "act-2022-02", "2022-02", "25000", "2022-03-02")
    await wait_for_debt(system, contract_id, "379400.00")

    # 17 Jan: the four demands issued 3 Jan, the 151,760.00 valued 5 Jan pays the first due (29 Dec); the
    # second (due 5 Jan, 12 days past) 151,760.00 is 1–30; the third (due 18 Jan) and the fourth (due 26 Jan)
    # are not yet due: 151,760.00 + 15,176.00 = 166,936.00 current.
    # The payments valued 10 and 20 Feb and January's invoice of 1 Feb are not there yet
    assert buckets(await aged(client, contract_id, "2022-01-17")) == {
        "current": "166936.00", "1-30": "151760.00", "31-60": ZERO, "61-90": ZERO, ">90": ZERO}

    # 15 Feb: January is invoiced, so its demands are settled by the invoice: 470,456.00 due 8 Feb (7 days past),
    # paid by what was valued by then, 151,760.00 + 48,240.00 = 200,000.00: 270,456.00 open in 1–30. The
    # 270,456.00 valued 20 Feb does not reduce it; February's invoice of 2 Mar does not appear
    assert buckets(await aged(client, contract_id, "2022-02-15")) == {
        "current": ZERO, "1-30": "270456.00", "31-60": ZERO, "61-90": ZERO, ">90": ZERO}

    # 15 Mar: January paid in full; February's 379,400.00 due 10 Mar is 5 days past
    assert buckets(await aged(client, contract_id, "2022-03-15")) == {
        "current": ZERO, "1-30": "379400.00", "31-60": ZERO, "61-90": ZERO, ">90": ZERO}
    # a day before January's first demand was issued, nothing was owed
    assert await aged(client, contract_id, "2022-01-02") == {}


async def test_a_position_kept_for_a_day_is_rebuilt_once_the_account_records_more(system):
    """The service keeps each account's position for a day between reports (`aging_positions.py`): a payment
    recorded after a report, valued on or before its day, shows in the next report of that same day."""
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    # January's invoice, issued 2022-02-01: 31,000 × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00, due
    # 2022-02-08; on 2022-02-15 it is 7 days past due
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    assert buckets(await aged(client, contract_id, "2022-02-15")) == {
        "current": ZERO, "1-30": "470456.00", "31-60": ZERO, "61-90": ZERO, ">90": ZERO}
    # 100,000.00 valued 2022-02-10 pays it in part: 470,456.00 − 100,000.00 = 370,456.00 open on the 15th
    await pay(client, contract_id, "100000.00", "2022-02-10")
    assert buckets(await aged(client, contract_id, "2022-02-15")) == {
        "current": ZERO, "1-30": "370456.00", "31-60": ZERO, "61-90": ZERO, ">90": ZERO}
    # a report of the portfolio holds the same position for this contract
    portfolio = await client.get("/aging", params={"as_of": "2022-02-15"}, headers=auth())
    assert portfolio.status_code == 200, portfolio.text
    assert buckets(portfolio.json()["contracts"][contract_id])["1-30"] == "370456.00"


async def test_a_fold_written_by_one_process_spares_the_next_the_history(system):
    """A report writes each account's fold with the version it reached (`aging_folds`); a process with nothing in
    memory (a new `AgingPositions`, as after a restart) reads that fold and reads no event of the account, and
    gives the same position; after one more event it reads that event alone."""
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    first = await aged(client, contract_id, "2022-02-15")
    service = system["invoicing"]
    stream = acc.stream_id(contract_id)
    async with service.engine.connect() as conn:
        version = await conn.scalar(text("SELECT max(stream_version) FROM event_store WHERE stream_id = :s"),
                                    {"s": stream})
        kept = await conn.scalar(text("SELECT version FROM aging_folds WHERE contract_id = :c"), {"c": contract_id})
    assert kept == version

    fresh = AgingPositions(service.engine, registry, AGED_EVENT_TYPES)
    read_after: list[dict[str, int]] = []
    events_of = fresh._events

    async def spied(conn, owners, after, through):
        read_after.append(dict(after))
        return await events_of(conn, owners, after, through)

    fresh._events = spied
    async with service.engine.connect() as conn:
        owners = await queries.aged_accounts(conn, contract_id)
        [(_, items)] = await fresh.open_items(conn, owners, date(2022, 2, 15))
    assert read_after == [{contract_id: version}]   # after the version kept: nothing of the history
    assert sum((item.open for item in items), kzt_zero()) == Money(Decimal(first["1-30"]), "KZT")

    # 100,000.00 valued 2022-02-10: the next report reads that payment's events alone
    await pay(client, contract_id, "100000.00", "2022-02-10")
    read_after.clear()
    async with service.engine.connect() as conn:
        [(_, items)] = await fresh.open_items(conn, owners, date(2022, 2, 15))
    assert read_after == [{contract_id: version}]
    assert sum((item.open for item in items), kzt_zero()) == Money(Decimal("370456.00"), "KZT")   # 470,456 − 100,000


def kzt_zero() -> Money:
    return Money.zero("KZT")
