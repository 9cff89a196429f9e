"""Proves on the real database and broker that a day an administrator declares off in metering
(`POST /calendar/days`, `metering.CalendarDayDeclared` on metering's topic) reaches the ledger
(`invoicing.CalendarDayNoted`) and moves the due date of an invoice charged after it by one banking day (figures by
hand), while an invoice charged before it keeps the date it was issued with."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from services.invoicing.events import InvoiceIssued
from shared.envelope import EventEnvelope
from shared.events import registry
from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.support import auth, eventually


async def recorded(system, event_type: str, contract_id: str) -> list:
    async with system["invoicing"].engine.connect() as conn:
        bodies = (await conn.execute(text("SELECT body FROM event_store WHERE event_type = :t AND contract_id = :c "
                                          "ORDER BY position"), {"t": event_type, "c": contract_id})).scalars().all()
    return [registry.decode(EventEnvelope.from_bytes(bytes(body))) for body in bodies]


async def invoice_of(system, contract_id: str) -> InvoiceIssued:
    [invoice] = await recorded(system, InvoiceIssued.event_type, contract_id)
    assert isinstance(invoice, InvoiceIssued)
    return invoice


async def test_a_day_declared_off_in_metering_moves_the_ledger_s_due_date(system):
    before, after = await signed_contract(system), await signed_contract(system)
    # §5.4 January's act issued Tue 1 Feb 2022, due 5 banking days later: Wed 2, Thu 3, Fri 4, Mon 7, Tue 8
    await publish_act(system, before, "act-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, before, "470456.00")
    assert (await invoice_of(system, before)).due_date == date(2022, 2, 8)

    declared = await system.clients["metering"].post("/calendar/days", headers=auth("admin"), json={
        "day": "2022-02-03", "working": False, "reason": "announced day off"})
    assert declared.status_code == 201, declared.text

    async def noted():
        return await recorded(system, "invoicing.CalendarDayNoted", "*")

    [note] = await eventually(noted)
    assert (note.day, note.working, note.reason) == (date(2022, 2, 3), False, "announced day off")
    # Thursday 3 February off: Wed 2, Fri 4, Mon 7, Tue 8, Wed 9 → due 9 February
    await publish_act(system, after, "act-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, after, "470456.00")
    assert (await invoice_of(system, after)).due_date == date(2022, 2, 9)
    # the invoice charged before the declaration keeps its due date
    assert (await invoice_of(system, before)).due_date == date(2022, 2, 8)
