"""Proves the correction of a counterparty's contacts (law 94-V) as pure rules: the contract keeps the
corrected contacts in its terms (so a later amendment starts from them) and refuses a correction that
changes nothing, or one of a buyer whose data were deleted; the claims desk's record, opened from the
sealed buyer and the sealed correction, keeps name and identifiers and takes the new contacts; a
correction request is answered by the owner's correction, on time up to its last day, once, and only
by a correction of the same contract."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest

from services.claims.domain import export
from services.claims.domain.personal_data import receive_request
from services.claims.events import PersonalDataRequestAnswered
from services.claims.projection import opened_fields
from services.contracts.domain import contract
from shared import personal_keys
from shared.errors import Conflict
from tests.unit.test_contract_lifecycle import apply, signed


def test_the_contract_keeps_the_corrected_contacts_in_its_terms():
    state = signed()
    assert state.terms.buyer.email is None   # the seed's buyer gave no e-mail
    events = contract.correct_buyer_contacts(
        state, email="office@t-tranzit.kz", address="041700, г. Текели, ул. Абая, 2", corrected_on=date(2022, 3, 1),
        request_id="r1")
    corrected = apply(state, events)
    assert (corrected.terms.buyer.email, corrected.terms.buyer.address) == (
        "office@t-tranzit.kz", "041700, г. Текели, ул. Абая, 2")
    assert (corrected.terms.buyer.bin, corrected.terms.buyer.iban) == (state.terms.buyer.bin, state.terms.buyer.iban)
    assert corrected.version == state.version + 1


def test_a_correction_that_changes_nothing_is_refused():
    state = signed()
    with pytest.raises(Conflict) as refused:
        contract.correct_buyer_contacts(state, email=None, address=state.terms.buyer.address, corrected_on=date(2022, 3, 1),
                               request_id=None)
    assert refused.value.reason == "nothing_to_correct"


def test_a_buyer_whose_data_were_deleted_cannot_be_corrected():
    state = apply(signed(), contract.shred_buyer(signed(), request_id="r9", shredded_on=date(2028, 3, 31)))
    assert state.terms.buyer.name == "[shredded]" and state.buyer_shredded_on == date(2028, 3, 31)
    with pytest.raises(Conflict) as refused:
        contract.correct_buyer_contacts(state, email="x@example.kz", address="Somewhere 1",
                                        corrected_on=date(2028, 4, 1), request_id=None)
    assert refused.value.reason == "personal_data_shredded"
    assert contract.shred_buyer(state, request_id="r9", shredded_on=date(2028, 3, 31)) == []   # once


def test_the_desk_record_keeps_name_and_identifiers_and_takes_the_contacts():
    key = personal_keys.new_key()
    buyer = {"name": "TOO «Т-Транзит»", "bin": "110740003844", "foreign_registration": None, "iban": "KZ1",
             "bic": "B", "email": None, "address": "old"}
    blobs = [personal_keys.seal(key, "k1", buyer).model_dump(),
             personal_keys.seal(key, "k1", {"email": "new@example.kz", "address": "New street 1"}).model_dump()]
    assert opened_fields([key], "k1", blobs) == {**buyer, "email": "new@example.kz", "address": "New street 1"}
    assert opened_fields([personal_keys.new_key()], "k1", blobs) == {}   # another key opens nothing


def correction_request(contract_id: str = "k1"):
    # received 2024-06-03: + 15 calendar days = last day 2024-06-18
    return export.fold([receive_request(request_id="r1", contract_id=contract_id, kind="correction",
                                        received_on=date(2024, 6, 3), details="",
                                        seal=partial(personal_keys.seal_text, personal_keys.new_key(), contract_id))])


def test_a_correction_request_is_answered_by_the_owners_correction_once():
    state = correction_request()
    [answered] = export.answer_correction(state, contract_id="k1", corrected_on=date(2024, 6, 18))
    assert isinstance(answered, PersonalDataRequestAnswered)
    assert (answered.answered_on, answered.answered_in_time, answered.parts) == (date(2024, 6, 18), True, {})
    assert export.answer_correction(export.fold_onto(state, [answered]), contract_id="k1",
                                    corrected_on=date(2024, 6, 19)) == []
    [late] = export.answer_correction(state, contract_id="k1", corrected_on=date(2024, 6, 19))
    assert late.answered_in_time is False


def test_only_a_correction_of_the_same_contract_answers_a_correction_request():
    assert export.answer_correction(correction_request(), contract_id="k2", corrected_on=date(2024, 6, 10)) == []
    access = export.fold(export.request_export(request_id="r1", contract_id="k1", kind="access",
                                               received_on=date(2024, 6, 3), details="", contract_ids=["k1"],
                                               seal=partial(personal_keys.seal_text, personal_keys.new_key(), "k1")))
    assert export.answer_correction(access, contract_id="k1", corrected_on=date(2024, 6, 10)) == []
    assert export.answer_correction(None, contract_id="k1", corrected_on=date(2024, 6, 10)) == []
