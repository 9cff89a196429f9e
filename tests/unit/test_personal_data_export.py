"""Proves the pure rules of access and portability exports: the request is answered exactly when the
fourth service's part is in (a repeated part adds nothing), in time up to its last day; the archive holds
a manifest whose SHA-256 and sizes match each part's file, is the same bytes for the same parts, and
refuses a part that does not match its recorded digest; an unanswered request is overdue once, after
its last day."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.claims.domain import export
from services.claims.events import PersonalDataExportPartReceived, PersonalDataRequestAnswered
from shared.events.claims import SealedFields

SEALED = SealedFields(nonce="bm9uY2U=", ciphertext="c2VhbGVk")   # the sealing itself is the edge's business


def requested(received_on: date = date(2024, 6, 3)) -> export.DataRequest:
    # 2024-06-03 + 15 calendar days (reference term) = 2024-06-18, the last day to answer
    return export.fold(export.request_export(request_id="r1", contract_id="k1", kind="access",
                                             received_on=received_on, details="", contract_ids=["k1"],
                                             seal=lambda _text: SEALED))


def receive(state: export.DataRequest, service: str, part: dict, on: date) -> list:
    """A part as it arrives: sealed, with the digest of its file computed by the answering service."""
    return export.receive_part(state, service=service, sha256=hashlib.sha256(export.part_file(part)).hexdigest(),
                               sealed=SEALED, on=on)


def answer(state: export.DataRequest, service: str, part: dict, on: date = date(2024, 6, 10)) -> export.DataRequest:
    return export.fold_onto(state, receive(state, service, part, on=on))


PARTS = {"contracts": {"contracts": [{"number": "01/2021-85"}]}, "metering": {"meters": [{"serial": "01214368"}]},
         "invoicing": {"payments": [{"amount": "470456.00"}]}, "claims": {"counterparties": [{"bin": "110740003844"}]}}


def test_the_fourth_part_answers_the_request_and_a_repeat_adds_nothing():
    state = requested()
    assert state.answer_due == date(2024, 6, 18) and state.contract_ids == ("k1",)
    for service in ("claims", "contracts", "metering"):
        events = receive(state, service, PARTS[service], on=date(2024, 6, 10))
        assert [type(e) for e in events] == [PersonalDataExportPartReceived]
        state = export.fold_onto(state, events)
    assert receive(state, "metering", PARTS["metering"], on=date(2024, 6, 10)) == []
    last = receive(state, "invoicing", PARTS["invoicing"], on=date(2024, 6, 18))
    assert isinstance(last[1], PersonalDataRequestAnswered)
    assert (last[1].answered_on, last[1].answered_in_time) == (date(2024, 6, 18), True)
    assert last[1].parts == {s: hashlib.sha256(export.part_file(p)).hexdigest() for s, p in PARTS.items()}
    done = export.fold_onto(state, last)
    assert receive(done, "claims", {}, on=date(2024, 6, 19)) == []


def test_an_answer_after_the_last_day_is_late():
    state = requested()
    for service in ("claims", "contracts", "metering"):
        state = answer(state, service, PARTS[service])
    late = receive(state, "invoicing", PARTS["invoicing"], on=date(2024, 6, 19))
    assert late[1].answered_in_time is False


def test_an_unanswered_request_is_overdue_once_after_its_last_day():
    state = requested()
    assert export.close_day(state, day=date(2024, 6, 17)) == []
    [overdue] = export.close_day(state, day=date(2024, 6, 18))   # the close of the last day: still no answer
    assert (overdue.answer_due, overdue.closed_day) == (date(2024, 6, 18), date(2024, 6, 18))
    assert export.close_day(export.fold_onto(state, [overdue]), day=date(2024, 6, 19)) == []


def test_an_answered_request_is_never_overdue():
    state = requested()
    for service, part in PARTS.items():
        state = answer(state, service, part)
    assert state.answered_on == date(2024, 6, 10)
    assert export.close_day(state, day=date(2024, 7, 1)) == []


def answered_with(parts: dict) -> export.DataRequest:
    state = requested()
    for service in export.SERVICES:
        state = answer(state, service, parts[service])
    return state


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
parts_strategy = st.fixed_dictionaries({s: st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=4)
                                        for s in export.SERVICES})


@given(parts_strategy)
def test_the_manifest_digests_match_the_files_and_the_archive_is_reproducible(parts):
    state = answered_with(parts)
    data = export.archive(state, parts)
    assert export.archive(state, parts) == data
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        files = {name: zipped.read(name) for name in zipped.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    assert [p["service"] for p in manifest["parts"]] == list(export.SERVICES)
    for entry in manifest["parts"]:
        assert hashlib.sha256(files[entry["file"]]).hexdigest() == entry["sha256"] == state.parts[entry["service"]]
        assert len(files[entry["file"]]) == entry["bytes"]
        assert json.loads(files[entry["file"]]) == parts[entry["service"]]


def test_a_part_that_does_not_match_its_digest_is_refused():
    state = answered_with(PARTS)
    with pytest.raises(AssertionError, match="does not match"):
        export.archive(state, {**PARTS, "metering": {"meters": [{"serial": "OTHER-1"}]}})
