"""Proves the force-majeure desk on real PostgreSQL (§8): the end of the circumstances is recorded once
(a second end, or an end before they began, is 409 with its reason and stores nothing; an unknown notice
is 404; a notice in time announces its period when notified and when it ends: §8.1), and the §8.5 review list names an event lasting over 3 months from its review date on, and not
one that ended by then; the list survives a rebuild of the read models."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import running_system
from tests.integration.test_claims_api import sign
from tests.support import auth


@pytest.fixture(scope="module")
async def desk(postgres, broker):
    async with running_system(postgres, broker, names=("claims",)) as system:
        yield system


async def notify(desk, contract_id: str, started_on: str, notified_on: str) -> dict:
    response = await desk.clients["claims"].post("/force-majeure", headers=auth(), json={
        "contract_id": contract_id, "party": "seller", "started_on": started_on, "notified_on": notified_on,
        "description": "mudflow cut line 154", "certificate": "NCE 17/2024"})
    assert response.status_code == 201, response.text
    return response.json()


async def event_count(desk) -> int:
    async with desk["claims"].engine.connect() as conn:
        return await conn.scalar(text("SELECT count(*) FROM event_store"))


async def stream_types(desk, notice_id: str) -> list[str]:
    async with desk["claims"].engine.connect() as conn:
        rows = await conn.execute(text("SELECT event_type FROM event_store WHERE stream_id = :s ORDER BY position"),
                                  {"s": f"force-majeure-{notice_id}"})
        return [row[0] for row in rows]


async def reviews_due(desk, on: str) -> list[str]:
    page = await desk.clients["claims"].get("/force-majeure/review-due", params={"on": on, "limit": 100},
                                            headers=auth("auditor"))
    assert page.status_code == 200, page.text
    return [item["notice_id"] for item in page.json()["items"]]


async def test_an_end_is_recorded_once_and_not_before_the_start(desk):
    client = desk.clients["claims"]
    notice = await notify(desk, await sign(desk), "2024-03-04", "2024-03-10")
    end = f"/force-majeure/{notice['notice_id']}/end"
    before = await event_count(desk)
    early = await client.post(end, json={"ended_on": "2024-03-03"}, headers=auth())
    assert (early.status_code, early.json()["reason"]) == (409, "force_majeure_ends_before_start")
    assert await event_count(desk) == before

    ended = await client.post(end, json={"ended_on": "2024-04-20"}, headers=auth())
    assert ended.status_code == 201, ended.text
    assert (ended.json()["ended_on"], ended.json()["started_on"]) == ("2024-04-20", "2024-03-04")
    # notified on day 6 of 30, in time: the end and its period's announcement (§8.1)
    assert await event_count(desk) == before + 2
    assert await stream_types(desk, notice["notice_id"]) == [
        "claims.ForceMajeureNotified", "claims.ForceMajeurePeriodRecorded",
        "claims.ForceMajeureEnded", "claims.ForceMajeurePeriodRecorded"]

    again = await client.post(end, json={"ended_on": "2024-04-21"}, headers=auth())
    assert (again.status_code, again.json()["reason"]) == (409, "force_majeure_already_ended")
    assert again.json()["details"]["ended_on"] == "2024-04-20"
    assert await event_count(desk) == before + 2

    unknown = await client.post("/force-majeure/no-such-notice/end", json={"ended_on": "2024-04-21"}, headers=auth())
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "force_majeure_notice_not_found")


async def test_the_review_is_due_from_three_months_on_while_the_event_lasts(desk):
    client = desk.clients["claims"]
    # started 2023-01-10: review on 2023-04-10 (§8.5, three months)
    lasting = await notify(desk, await sign(desk), "2023-01-10", "2023-01-20")
    # started the same day, ended 2023-04-10: exactly three months, not "over", never due
    ended_in_time = await notify(desk, await sign(desk), "2023-01-10", "2023-01-25")
    assert (await client.post(f"/force-majeure/{ended_in_time['notice_id']}/end", json={"ended_on": "2023-04-10"},
                              headers=auth())).status_code == 201
    # started 2023-01-10 and ended 2023-05-02, after its review date: the decision was due, and stays listed
    ended_late = await notify(desk, await sign(desk), "2023-01-10", "2023-01-30")
    assert (await client.post(f"/force-majeure/{ended_late['notice_id']}/end", json={"ended_on": "2023-05-02"},
                              headers=auth())).status_code == 201
    ours = {lasting["notice_id"], ended_in_time["notice_id"], ended_late["notice_id"]}

    assert ours.isdisjoint(await reviews_due(desk, "2023-04-09"))
    due = ours & set(await reviews_due(desk, "2023-04-10"))
    assert due == {lasting["notice_id"], ended_late["notice_id"]}
    assert ours & set(await reviews_due(desk, "2023-06-01")) == due

    service = desk["claims"]
    async with service.engine.begin() as conn:
        await service.projector.rebuild(conn, service.store)
    assert ours & set(await reviews_due(desk, "2023-06-01")) == due
