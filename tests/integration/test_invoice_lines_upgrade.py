"""Proves invoicing's migration 0013 on a database written by the previous version (real PostgreSQL, migrated to
0012 first): an invoice's statement line, written then without its period and ESF deadline, gets them from the
invoice's own event, so the live tables equal a rebuild from the events (what `ledger verify` compares)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text

from services.invoicing.projection import projector
from shared.digest import digests
from shared.events import registry
from shared.eventstore import CommandContext, EventStore
from shared.migrate import upgrade
from tests.integration.test_personal_data_upgrade import database
from tests.unit.test_ledger_rows import invoice, opened

AT = datetime(2022, 2, 1, 6, tzinfo=UTC)


async def test_an_invoice_line_of_the_previous_version_gets_its_period_and_esf_deadline(postgres):
    url, engine = await database(postgres, "invoicing", "0012")
    state, events = opened()
    events += invoice(state, 1, 31000)   # January: 31,000 kWh, invoiced 2022-01-28
    store = EventStore("invoicing", registry)
    try:
        async with engine.begin() as conn:
            stored = await store.append(conn, stream_id="account-C1", expected_version=None, contract_id="C1",
                                        occurred_at=AT, events=events, context=CommandContext("v0", AT))
            await projector.apply(conn, stored)
            # the line as the previous version wrote it: no period, no deadline
            await conn.execute(text("UPDATE statement_lines SET details = details - 'period' - 'esf_deadline'"))
        await asyncio.to_thread(upgrade, "invoicing", url)
        async with engine.begin() as conn:
            details = await conn.scalar(text("SELECT details FROM statement_lines WHERE kind = 'invoice'"))
            # §5.5 the ESF of January is due by the 20th of February
            assert (details["period"], details["esf_deadline"]) == ("2022-01", "2022-02-20")
            live = await digests(conn, projector.tables)
            await projector.rebuild(conn, store)
            assert await digests(conn, projector.tables) == live
    finally:
        await engine.dispose()
