"""Daily applications at portfolio scale: 1,629 contracts (KEGOC's 1,628 plus the seed contract's
shape) each submit one day's application through HTTP to one contracts process, as dispatch sees them
arrive before the 10:00 deadline."""

from __future__ import annotations

import asyncio
import copy
import time

import httpx

from bench.cpu import cpu_ms_each, cpu_of_system, quiet
from bench.http import LeanConnection
from bench.stats import percentiles
from devtools.builders import portfolio_contracts
from devtools.infra.runner import LocalSystem

CLIENTS = 16
DAY = "2024-06-15"
SUBMITTED_AT = "2024-06-14T09:00:00+05:00"   # on time: the deadline is 10:00 Astana of D−1
IMPORT_CHUNK = 500


def contracts_1629() -> list[dict]:
    items = portfolio_contracts(2024)
    extra = copy.deepcopy(items[0])
    extra["terms"]["number"] = "KEGOC-2024-SEED"
    return [*items, extra]


async def bench_applications(system: LocalSystem) -> list[tuple[str, str, str]]:
    headers = {"Authorization": f"Bearer {system.tokens['operator']}"}
    base = system.url_of("contracts")
    async with httpx.AsyncClient(headers=headers, timeout=300) as client:
        items = contracts_1629()
        ids: list[str] = []
        started_import = time.perf_counter()
        for start in range(0, len(items), IMPORT_CHUNK):
            response = await client.post(f"{base}/contracts/import",
                                         json={"contracts": items[start:start + IMPORT_CHUNK]})
            assert response.status_code == 200, response.text[:300]
            ids += [c["contract_id"] for c in response.json()["imported"]]
        import_s = time.perf_counter() - started_import
        # the other services take the 1,629 ContractSigned in: let them finish before timing
        await quiet(system)

        queue: asyncio.Queue[str] = asyncio.Queue()
        for contract_id in ids:
            queue.put_nowait(contract_id)
        latencies_ms: list[float] = []
        hours = [str(30 + h % 7) for h in range(24)]

        async def dispatcher() -> None:
            # its own keep-alive connection (bench/http.py: httpx cost ~2 ms of CPU a request, the
            # same two cores the system runs on)
            async with LeanConnection(base, headers) as connection:
                while not queue.empty():
                    contract_id = queue.get_nowait()
                    begun = time.perf_counter()
                    status, answer = await connection.post_json(
                        f"/contracts/{contract_id}/applications",
                        {"day": DAY, "hours_kwh": hours, "submitted_at": SUBMITTED_AT})
                    latencies_ms.append((time.perf_counter() - begun) * 1000)
                    assert status == 201 and answer["status"] == "accepted", answer

        system_before = cpu_of_system(system)
        started = time.perf_counter()
        await asyncio.gather(*(dispatcher() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
        await quiet(system)  # the consumers' share (invoicing and metering take every decision in)
        system_after = cpu_of_system(system)
        schedule = (await client.get(f"{base}/schedule", params={"date": DAY})).json()
        assert len(schedule["contracts"]) == len(ids)
    shares = cpu_ms_each(system_before, system_after, len(ids))
    latencies_ms.sort()
    return [
        ("portfolio import (register + sign)", f"{len(ids) / import_s:,.0f} contracts/s",
         f"{len(ids)} contracts in {import_s:.1f} s, chunks of {IMPORT_CHUNK}, one transaction each"),
        ("daily applications accepted (HTTP → decision → event)", f"{len(ids) / elapsed:,.0f} applications/s",
         f"{len(ids)} contracts, one day each, {CLIENTS} concurrent clients; "
         f"{percentiles(latencies_ms)}; schedule lists all {len(ids)}; "
         f"CPU ms per application, whole system (consumers included): {shares}"),
    ]
