"""Proves the list routes' keyset cursors: a page of `limit` rows says where the next starts only when a
row beyond it exists, the cursor carries the last row's whole key (dates and times as ISO text) and turns
back into the same values, and a cursor that is not one of ours — not base64, not JSON, another number of
values — names no page (`page_not_found`); a descending order reverses the whole tuple, in its ORDER BY and
in the condition that starts the next page."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest

from shared.errors import NotFound
from shared.paging import Keyset

QUEUE = Keyset((("answer_due", "date"), ("received_at", "timestamptz"), ("claim_id", "text")),
               ("answer_due", "received_at", "claim_id"))


def rows(n: int) -> list[dict]:
    return [{"answer_due": date(2024, 6, 18), "received_at": datetime(2024, 6, 3, 7, n, tzinfo=UTC),
             "claim_id": f"c-{n}"} for n in range(n)]


def test_a_full_page_with_a_row_beyond_it_points_after_its_last_row():
    kept, cursor = QUEUE.page(rows(4), limit=3)   # read limit + 1 = 4 rows: one more page follows
    assert [r["claim_id"] for r in kept] == ["c-0", "c-1", "c-2"]
    condition, params = QUEUE.after(cursor)
    assert condition == ("(answer_due, received_at, claim_id) > (CAST(CAST(:cursor_0 AS text) AS date), "
                         "CAST(CAST(:cursor_1 AS text) AS timestamptz), CAST(CAST(:cursor_2 AS text) AS text))")
    assert params == {"cursor_0": "2024-06-18", "cursor_1": "2024-06-03T07:02:00+00:00", "cursor_2": "c-2"}


def test_a_descending_order_pages_below_the_last_row():
    descending = QUEUE.reversed()
    assert descending.order_by == "answer_due DESC, received_at DESC, claim_id DESC"
    assert QUEUE.order_by == "answer_due, received_at, claim_id" and descending.reversed() == QUEUE
    _, cursor = descending.page(rows(4), limit=3)
    condition, _ = descending.after(cursor)
    assert condition.startswith("(answer_due, received_at, claim_id) < (")


@pytest.mark.parametrize("read", [0, 2, 3])
def test_the_last_page_has_no_cursor(read):
    kept, cursor = QUEUE.page(rows(read), limit=3)
    assert (len(kept), cursor) == (read, None)


def test_without_a_cursor_every_row_qualifies():
    assert QUEUE.after(None) == ("true", {})


@pytest.mark.parametrize("cursor", [
    "%%%not base64%%%",
    base64.urlsafe_b64encode(b"not json").decode(),
    base64.urlsafe_b64encode(b'{"a": 1}').decode(),            # not a list
    base64.urlsafe_b64encode(b'["2024-06-18", "c-1"]').decode(),  # two values for a three-column order
    base64.urlsafe_b64encode(b'["2024-06-18", 7, "c-1"]').decode(),  # not all text
])
def test_a_cursor_that_is_not_ours_is_refused(cursor):
    with pytest.raises(NotFound) as refused:
        QUEUE.after(cursor)
    assert refused.value.reason == "page_not_found"
