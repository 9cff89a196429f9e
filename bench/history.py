"""A ledger history of many accounts, appended to a real event store fast enough to measure at scale.

One account's history is decided by the ledger's own domain rules (an account opened, then month after
month an invoice from its volume act and the payment that settles it: InvoiceIssued, PaymentReceived,
PaymentAllocated) and appended through `EventStore.append` into a scratch database, so its stored bytes
are exactly the ones the service writes. Every other account's history is a prefix of those bytes with
the contract, document numbers and bank references renamed and fresh event ids, appended through the
store's own append function (`event_store_append`: the lock, positions, the hash chain, every trigger),
about a thousand events to a call. Renaming bytes keeps them canonical (only values change, never a key), and it
skips building a pydantic envelope per event, which made loading a million events take minutes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from devtools.infra.postgres import EmbeddedPostgres
from shared.db import make_engine
from shared.events import registry
from shared.eventstore import CommandContext, EventStore
from shared.migrate import upgrade

TEMPLATE_ID, TEMPLATE_NUMBER, TEMPLATE_REF = "TPLCONTRACT", "TPLNUMBER", "TPLREF"
RECORDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
# whole accounts per call, about this many events: the append function grows its arrays one event at a time,
# which costs the square of a call's size (nothing at a command's few events, seconds at 10,000)
EVENTS_PER_CALL = 1_000
_APPEND = """
    SELECT head_position FROM event_store_append($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::integer[],
        $6::text[], $7::timestamptz[], $8::timestamptz[], $9::bytea[], $10::text[], $11::integer[])
"""


@dataclass(frozen=True)
class StoredTemplate:
    """The template account's events as the store keeps them."""

    event_type: str
    schema_version: int
    stream_version: int
    event_id: str
    body: bytes


def template_events(months: int, plan: tuple[str, ...] = ()) -> list:
    """One account's history, decided by the domain, with placeholder names: the account opened, then
    `months` months of an invoice and the payment that settles it. `plan`: months its contract plans 31,000 kWh
    for (the months a prepayment run demands)."""
    from devtools.builders import sealed_terms, seed_contract
    from services.invoicing.domain import account as acc
    from services.invoicing.domain.rates import vat_rates
    from shared.calendar import WorkingCalendar
    from shared.events.contracts import ContractSigned
    from shared.money import Money
    from shared.personal_keys import new_key, seal_text

    # the buyer (and each payment's purpose) sealed with a throwaway key, as events carry them (replay never
    # opens them)
    terms = sealed_terms({
        **seed_contract(TEMPLATE_NUMBER), "delivery_start": "2010-01-01T00:00:00+06:00",
        "delivery_end": "2040-01-01T00:00:00+06:00",
        "price_schedule": [{"valid_from": "2010-01-01", "valid_to": None, "components": [
            {"code": "cap_tariff", "rate_per_kwh": "11.97"}, {"code": "res_surcharge", "rate_per_kwh": "1.58"}]}],
        **({"planned_volumes": [{"month": month, "volume_kwh": "31000"} for month in plan]} if plan else {})},
        TEMPLATE_ID)
    events = acc.open_account(ContractSigned(contract_id=TEMPLATE_ID, signed_at=datetime(2009, 12, 1, tzinfo=UTC),
                                             terms=terms))
    state = acc.fold(events)
    calendar, vat, key = WorkingCalendar(), vat_rates(), new_key()

    def do(new):
        nonlocal state
        for event in new:
            state = acc.evolve(state, event)
        events.extend(new)
        return new

    for m in range(months):
        year, month = 2010 + m // 12, m % 12 + 1
        day = date(year, month, 28)
        [invoice] = do(acc.issue_invoice(state, act_id=f"act-{m}", period=f"{year}-{month:02d}",
                                         volume_kwh=Decimal(30000 + m), issued_on=day, corrects_act_id=None,
                                         vat=vat, calendar=calendar))
        do(acc.receive_payment(state, payment_id=f"{TEMPLATE_REF}-{m}", bank_reference=f"{TEMPLATE_REF}-{m}",
                               amount=Money(invoice.total.amount, "KZT"), received_on=day, payer=None,
                               purpose=seal_text(key, TEMPLATE_ID, f"invoice {invoice.document_number}")))
    return events


async def stored_template(postgres: EmbeddedPostgres, months: int, plan: tuple[str, ...] = ()
                          ) -> list[StoredTemplate]:
    """The template account appended through the event store into a scratch database, read back."""
    name = f"bench_template_{months}{'_planned' if plan else ''}"
    postgres.create_databases([name])
    url = postgres.url(name)
    await asyncio.to_thread(upgrade, "invoicing", url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            stored = await EventStore("invoicing", registry).append(
                conn, stream_id=f"account-{TEMPLATE_ID}", expected_version=0, contract_id=TEMPLATE_ID,
                occurred_at=RECORDED_AT, events=template_events(months, plan),
                context=CommandContext(actor="bench", recorded_at=RECORDED_AT))
            await conn.rollback()   # only its bytes were wanted
    finally:
        await engine.dispose()
    return [StoredTemplate(s.envelope.event_type, s.envelope.schema_version, s.envelope.stream_version,
                           str(s.envelope.event_id), s.body) for s in stored]


def account_events(template: list[StoredTemplate], n: int, length: int) -> list[tuple]:
    """Account `n`'s first `length` events: (event id, type, schema version, stream version, contract, body)."""
    names = ((TEMPLATE_ID.encode(), f"C{n:06d}".encode()), (TEMPLATE_NUMBER.encode(), f"B{n:06d}".encode()),
             (TEMPLATE_REF.encode(), f"R{n:06d}".encode()))
    out = []
    for event in template[:length]:
        event_id = str(uuid.uuid4())
        body = event.body.replace(event.event_id.encode(), event_id.encode())
        for old, new in names:
            body = body.replace(old, new)
        out.append((event_id, event.event_type, event.schema_version, event.stream_version, f"C{n:06d}", body))
    return out


async def load_history(postgres: EmbeddedPostgres, database: str, lengths: list[int], plan: tuple[str, ...] = ()
                       ) -> float:
    """A fresh invoicing database holding one account per length (its first `length` template events; `plan`:
    the months its contract plans volumes for); the seconds it took."""
    postgres.create_databases([database])
    url = postgres.url(database)
    await asyncio.to_thread(upgrade, "invoicing", url)
    template = await stored_template(postgres, (max(lengths) - 1 + 2) // 3, plan)
    started = time.perf_counter()
    await append_accounts(url, template, 0, lengths)
    loaded = time.perf_counter() - started
    # as a store that has lived is: vacuumed and analysed, so no autovacuum of the load runs in what is measured
    postgres.execute(database, "VACUUM (ANALYZE) event_store")
    return loaded


async def append_accounts(url: str, template: list[StoredTemplate], first: int, lengths: list[int]) -> None:
    """Accounts `first`, `first + 1`, … with those lengths of history, whole accounts to a call."""
    engine = make_engine(url)
    try:
        batch: list[tuple] = []
        for n, length in enumerate(lengths, start=first):
            if batch and len(batch) + length > EVENTS_PER_CALL:
                await _append(engine, batch)
                batch = []
            batch += account_events(template, n, length)
        if batch:
            await _append(engine, batch)
    finally:
        await engine.dispose()


async def _append(engine, events: list[tuple]) -> None:
    """New accounts' events in one call of the store's append function (each stream starts at version 0)."""
    streams = sorted({f"account-{e[4]}" for e in events})
    async with engine.begin() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.fetchval(_APPEND, [e[0] for e in events], [f"account-{e[4]}" for e in events],
                              [e[3] for e in events], [e[1] for e in events], [e[2] for e in events],
                              [e[4] for e in events], [RECORDED_AT] * len(events), [RECORDED_AT] * len(events),
                              [e[5] for e in events], streams, [0] * len(streams))


def history_lengths(events: int, accounts: int) -> list[int]:
    """Events per account adding up to exactly `events`: an opening and 3 a month for every account,
    a month more for the first few, and what is left (1 or 2 events) as the start of a month for the
    next one. Every length is a prefix of a history one month longer than the common one."""
    if events < 4 * accounts:
        raise ValueError(f"every account needs an opening and a month: at least {4 * accounts:,} events")
    common = 1 + 3 * ((events // accounts - 1) // 3)
    longer, left = divmod(events - accounts * common, 3)
    lengths = [common + 3] * longer + [common] * (accounts - longer)
    lengths[longer] += left   # left < 3, and longer < accounts since common > events / accounts − 3
    return lengths
