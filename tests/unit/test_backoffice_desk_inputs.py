"""The treasury's and the claims desk's forms as the services read them, without a browser: an amount typed the
Russian way reaches the service as its decimal string, a text area's reasons as a list, a claim's days left are
counted from today in the claim's zone; and the back office refuses a body over its limit before reading it
(a form 1 MB, the statement upload 50 MB), signed in or not."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from services.backoffice.app import MAX_FORM_BYTES, UPLOAD_LIMITS, build
from services.backoffice.settings import BackofficeSettings
from services.backoffice.web import inputs
from services.backoffice.web.claims import days_left
from shared.person_tokens import new_key_pair


def test_an_amount_typed_with_grouping_spaces_and_a_decimal_comma_reaches_the_service_as_a_decimal():
    form = {"amount": " 150\u00a0000,50 ", "narrow": "1\u202f000", "empty": "  ", "currency": "USD"}
    assert inputs.amount(form, "amount") == "150000.50"
    assert inputs.amount(form, "narrow") == "1000"
    assert inputs.amount(form, "empty") is None
    assert inputs.amount(form, "missing") is None
    assert inputs.money(form, "amount") == {"amount": "150000.50", "currency": "USD"}
    assert inputs.money({"amount": "10"}, "amount") == {"amount": "10", "currency": "KZT"}
    # nothing judged here: what is not a number goes on as typed, for the service to refuse
    assert inputs.amount({"amount": "сто"}, "amount") == "сто"


def test_reasons_are_the_text_areas_non_empty_lines():
    assert inputs.lines({"reasons": "не оплачено\r\n\r\n  акт подписан  \n"}, "reasons") == ["не оплачено", "акт подписан"]
    assert inputs.lines({}, "reasons") == []


def test_days_left_count_from_today_in_the_claims_zone():
    claim = {"status": "open", "answer_due": "2026-12-22", "zone": "Asia/Almaty"}
    # 2026-12-07 05:00 UTC is 10:00 on the 7th in Almaty (UTC+5): 22 − 7 = 15 days
    assert days_left(claim, datetime(2026, 12, 7, 5, 0, tzinfo=UTC)) == 15
    # 19:30 UTC on the 7th is 00:30 on the 8th there: 14 days, though in UTC it is still the 7th
    assert days_left(claim, datetime(2026, 12, 7, 19, 30, tzinfo=UTC)) == 14
    # past the answer date: negative, the days overdue
    assert days_left(claim, datetime(2026, 12, 24, 5, 0, tzinfo=UTC)) == -2
    assert days_left({**claim, "status": "accepted"}, datetime(2026, 12, 7, 5, 0, tzinfo=UTC)) is None


async def test_a_body_over_its_limit_is_refused_before_it_is_read():
    private, _public = new_key_pair()
    app = build(BackofficeSettings(signing_key=private))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://backoffice") as client:
        form = await client.post("/sign-out", content=b"x" * (MAX_FORM_BYTES + 1),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        upload = await client.post("/treasury/statements",
                                   content=b"x" * (UPLOAD_LIMITS["/treasury/statements"] + 1),
                                   headers={"Content-Type": "multipart/form-data; boundary=x"})
        small = await client.post("/treasury/statements", content=b"x" * (MAX_FORM_BYTES + 1),
                                  headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert (form.status_code, form.json()["reason"]) == (413, "request_too_large")
    assert (upload.status_code, upload.json()["reason"]) == (413, "request_too_large")
    # the upload's own limit is larger than a form's: this body passes it and meets the sign-in check instead
    assert small.status_code == 303 and small.headers["location"] == "/sign-in"
