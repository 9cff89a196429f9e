"""Proves §8.1 across the services on the real database and broker: the buyer's force-majeure notice given in
time at the claims desk, and its end, reach the ledger (`ForceMajeurePeriodRecorded` → the account's
`PenaltyPausedByForceMajeure`), and the month's penalty leaves out the paused days.

Figures by hand (derivation in tests/unit/test_force_majeure_penalty.py): January 470,456.00 due 02-08, paid
03-01; late 02-09 … 03-01 = 21 days less the 6 paused days 02-15 … 02-20: 6 + 3 days at 10.25% and 6 days at
13.50% on 470,456 × 1.5 = 1,189.0292 + 594.5146 + 1,566.0385 = 3,349.5823 → 3,349.58 (4,538.61 without)."""

from __future__ import annotations

from sqlalchemy import text

from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.integration.test_ledger_replay import accrue, pay
from tests.support import auth, eventually, unique


async def paused_periods(system, contract_id: str) -> list[tuple[str, str | None]]:
    async with system["invoicing"].engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT body->'payload'->>'first_day', body->'payload'->>'last_day'"
            " FROM (SELECT convert_from(body, 'UTF8')::jsonb AS body, position, contract_id, event_type"
            " FROM event_store) AS stored WHERE contract_id = :c"
            " AND event_type = 'invoicing.PenaltyPausedByForceMajeure' ORDER BY position"), {"c": contract_id})
        return [(row[0], row[1]) for row in rows]


async def test_the_buyers_force_majeure_leaves_its_days_out_of_the_penalty(system):
    contract_id = await signed_contract(system)
    ledger, desk = system.clients["invoicing"], system.clients["claims"]
    # January: 470,456.00, issued 02-01, due 02-08; paid in full on 03-01
    await publish_act(system, contract_id, "act-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    await pay(ledger, contract_id, unique("P"), "470456.00", "2022-03-01")

    async def notified():
        # the claims desk knows the contract once it has read its signing
        answer = await desk.post("/force-majeure", headers=auth(), json={
            "contract_id": contract_id, "party": "buyer", "started_on": "2022-02-15", "notified_on": "2022-02-16",
            "description": "mudflow on line 154", "certificate": "NCE 3/2022"})
        return answer.json() if answer.status_code == 201 else None

    notice = await eventually(notified)
    ended = await desk.post(f"/force-majeure/{notice['notice_id']}/end", json={"ended_on": "2022-02-20"},
                            headers=auth())
    assert ended.status_code == 201, ended.text

    async def both_announcements():
        return await paused_periods(system, contract_id) == [("2022-02-15", None), ("2022-02-15", "2022-02-20")]

    await eventually(both_announcements)
    [penalty] = await accrue(ledger, contract_id, "2022-03-31")
    assert penalty["amount"]["amount"] == "3349.58"
