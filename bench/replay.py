"""Replay and verify of one million ledger events (issue: audit replay), in process on a real
PostgreSQL.

The history: 1,629 accounts (KEGOC's portfolio), each a contract opened and then, month after month,
an invoice from its volume act and the payment that settles it (InvoiceIssued, PaymentReceived,
PaymentAllocated), exactly 1,000,000 events in all: 204 months × 3 + 1 = 613 events an account
(998,577), one month more for the first 474 (+1,422) and the next one's 205th invoice unpaid (+1), so
each account's history is a prefix of one 205-month history. One account's history is decided by
the ledger's own domain rules; the others are that history with the contract, document numbers and
bank references renamed (deciding 1,629 histories one command at a time would take ten minutes of set
up and measure nothing more). The events are appended through the event store (hash chain and all),
without read models; then `replay` (the CLI's code) rebuilds every read model from them, and `verify`
walks the chain and rebuilds again into temporary tables to compare digests.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from devtools.infra.postgres import EmbeddedPostgres
from ledger_cli import audit
from shared.envelope import canonical_json
from shared.events import registry
from shared.eventstore import CommandContext, EventStore
from shared.migrate import upgrade

ACCOUNTS = 1_629
EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "1000000"))
APPEND_ACCOUNTS_PER_TX = 50
TEMPLATE_ID, TEMPLATE_NUMBER, TEMPLATE_REF = "TPLCONTRACT", "TPLNUMBER", "TPLREF"


def template_history(months: int) -> list[dict]:
    """One account's history, decided by the domain, as (type, payload) with placeholder names."""
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
            {"code": "cap_tariff", "rate_per_kwh": "11.97"}, {"code": "res_surcharge", "rate_per_kwh": "1.58"}]}]},
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
    return [{"type": e.event_type, "payload": canonical_json(e.model_dump(mode="json")).decode()} for e in events]


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


def renamed(template: list[dict], n: int) -> list:
    names = ((TEMPLATE_ID, f"C{n:05d}"), (TEMPLATE_NUMBER, f"B{n:05d}"), (TEMPLATE_REF, f"R{n:05d}"))
    out = []
    for item in template:
        text = item["payload"]
        for old, new in names:
            text = text.replace(old, new)
        out.append(registry.type_of(item["type"]).model_validate(json.loads(text)))
    return out


async def bench_replay(postgres: EmbeddedPostgres) -> list[tuple[str, str, str]]:
    from shared.db import make_engine

    postgres.create_databases(["bench_replay"])
    url = postgres.url("bench_replay")
    await asyncio.to_thread(upgrade, "invoicing", url)
    lengths = history_lengths(EVENTS, ACCOUNTS)
    template = template_history((max(lengths) - 1 + 2) // 3)   # enough whole months for the longest prefix
    store = EventStore("invoicing", registry)
    engine = make_engine(url)
    context = CommandContext(actor="bench", recorded_at=datetime(2026, 1, 1, tzinfo=UTC))
    started = time.perf_counter()
    try:
        for first in range(0, ACCOUNTS, APPEND_ACCOUNTS_PER_TX):
            async with engine.begin() as conn:
                for n in range(first, min(first + APPEND_ACCOUNTS_PER_TX, ACCOUNTS)):
                    await store.append(conn, stream_id=f"account-C{n:05d}", expected_version=0,
                                       contract_id=f"C{n:05d}", occurred_at=context.recorded_at,
                                       events=renamed(template[:lengths[n]], n), context=context)
    finally:
        await engine.dispose()
    total = sum(lengths)
    loaded_s = time.perf_counter() - started

    replayed = await audit.replay_service("invoicing", url)
    assert replayed.events == total
    began = time.perf_counter()
    verified = await audit.verify_service("invoicing", url)
    verify_s = time.perf_counter() - began
    assert verified.ok, verified
    return [
        ("replay of the ledger (every read model rebuilt)", f"{replayed.rate_per_s:,.0f} events/s",
         f"{total:,} events ({ACCOUNTS} accounts × {min(lengths)}–{max(lengths)}) in {replayed.seconds:.1f} s; "
         f"loaded through the event store in {loaded_s:.0f} s beforehand"),
        ("verify (chain walk + rebuild into temporary tables + digests)", f"{verify_s:.1f} s",
         f"{total:,} events, {len(verified.tables)} tables, all equal"),
    ]
