"""Builders the tests and the benchmarks share: the seed contract and its sealed terms, the KEGOC portfolio as
contracts to import, unique names, and a Kafka tap that produces to and reads a topic."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

from shared.reference import SEED_CONTRACT


def seed_contract(number: str | None = None, meter_serials: tuple[str, str] | None = None) -> dict[str, Any]:
    """The seed contract's terms, under another number and with other meters when given (a meter measures
    one contract at a time: two contracts of one test system over the same year need meters of their own)."""
    terms = json.loads(SEED_CONTRACT.read_text(encoding="utf-8"))
    terms = copy.deepcopy(terms)
    if number:
        terms["number"] = number
    if meter_serials:
        for point, serial in zip(terms["delivery_points"], meter_serials, strict=True):
            point["meter"]["serial"] = serial
    return terms


def unique_meters() -> tuple[str, str]:
    """Two meter serials no other test contract has (in the seed's 8-digit shape)."""
    n = uuid.uuid4().int % 10**7
    return f"7{n:07d}", f"8{n:07d}"   # in the seed's order: the first sorts first


def sealed_terms(terms: dict[str, Any], contract_id: str, key: bytes | None = None):
    """Terms as events carry them: the buyer sealed with `key` (a fresh one by default), as the contracts
    service seals them with the contract's key."""
    from shared import personal_keys
    from shared.events.contracts import ContractTerms

    opened = ContractTerms.model_validate(terms) if isinstance(terms, dict) else terms
    sealed = personal_keys.seal(key or personal_keys.new_key(), contract_id, opened.buyer.model_dump(mode="json"))
    return opened.sealing(sealed)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class KafkaTap:
    """A real producer for a relay under test and a reader of everything on a topic."""

    def __init__(self, bootstrap: str):
        from aiokafka import AIOKafkaProducer

        self.bootstrap = bootstrap
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False,
                                         request_timeout_ms=3000, retry_backoff_ms=100)

    async def __aenter__(self) -> "KafkaTap":
        await self.producer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    def publisher(self, topic: str):
        async def publish(events) -> None:
            futures = [await self.producer.send(topic, e.body, key=e.contract_id.encode()) for e in events]
            await asyncio.gather(*futures)

        return publish

    async def read_all(self, topic: str, expected: int, timeout_s: float = 20.0) -> list:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        records = []
        try:
            deadline = time.monotonic() + timeout_s
            while len(records) < expected and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for messages in batch.values():
                    records.extend(messages)
            # a little longer: anything beyond `expected` would be a duplicate or a leak
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
        finally:
            await consumer.stop()
        return records


KEGOC_PORTFOLIO = Path(__file__).resolve().parent / "fixtures" / "kegoc_portfolio_2024.json"


def _bin(serial: int) -> str:
    """A BIN that passes the check digit: registered 2011-07, legal entity, serial number `serial`."""
    from shared.identifiers import _bin_check_digit

    while True:
        first = f"110740{serial:05d}"
        digit = _bin_check_digit(first)
        if digit is not None:
            return f"{first}{digit}"
        serial += 50_000  # never issued: take a number from another block


def unique_bin() -> str:
    """A valid BIN of its own, so a test's buyer is not the same counterparty as other tests' seed buyers."""
    return _bin(10_000 + uuid.uuid4().int % 40_000)


def unique_iban() -> str:
    """A valid Kazakh IBAN of its own (mod-97 check digits), so a payer matches one test's buyer only."""
    from stdnum import iban

    account = f"432220{uuid.uuid4().int % 10**10:010d}"
    return f"KZ{iban.calc_check_digits(f'KZ00{account}')}{account}"


def portfolio_contracts(year: int = 2024, fixture: Path = KEGOC_PORTFOLIO) -> list[dict[str, Any]]:
    """The KEGOC portfolio as contracts to import: the seed contract's shape with the fixture's service
    types and categories, each a distinct number, buyer and meters, delivering for the whole `year`. The
    rows, the total and the commercial (421) and industrial (284) counts are KEGOC's published figures;
    how the rest splits by category is the fixture's own (see its `_source`)."""
    spec = json.loads(fixture.read_text(encoding="utf-8"))
    contracts, n = [], 0
    for row in spec["contracts"]:
        for category, count in row["categories"].items():
            for _ in range(count):
                n += 1
                terms = seed_contract(f"KEGOC-{year}-{n:05d}")
                terms.update(service_type=row["service_type"], counterparty_category=category,
                             delivery_start=f"{year}-01-01T00:00:00+05:00",
                             delivery_end=f"{year + 1}-01-01T00:00:00+05:00", time_zone="Asia/Almaty",
                             planned_volumes=[{"month": f"{year}-{m:02d}", "volume_kwh": "1000"} for m in range(1, 13)])
                terms["price_schedule"][0].update(valid_from=f"{year}-01-01", valid_to=f"{year}-12-31")
                terms["buyer"]["name"] = f"Counterparty {n:05d}"
                if category == "foreign":
                    terms["buyer"].update(bin=None, foreign_registration=f"FOREIGN-{n:05d}")
                else:
                    terms["buyer"]["bin"] = _bin(n)
                for index, point in enumerate(terms["delivery_points"]):
                    point["meter"]["serial"] = f"K{n:05d}-{index + 1}"
                contracts.append({"terms": terms, "signed_at": f"{year - 1}-12-15T10:00:00+05:00"})
    return contracts
