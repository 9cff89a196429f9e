"""Proves the sealing of personal fields without I/O: a sealed blob opens only with its own key and its own
contract id, not at all without a key or once altered; fields an old event carried in clear open only
while a key is held; the contracts edge seals what its rules decide and opens it back (the shredded
placeholder without the key) and the store refuses the rules' plaintext look-alikes; every upcaster turns
a stored older version (buyer, contacts, payer, payee, export part, an unidentified receipt's bank line or a
free text in clear: a payment's purpose, a claim's description, comment and reasons, a request's details)
into today's schema, an empty free text into none, and one too malformed to upcast is undecodable (a dead
letter), not a crash; a key message is a 32-byte key or a tombstone of a named contract."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime

import pytest

from services.contracts import sealing
from services.contracts.domain import contract as domain
from services.contracts.domain.events import ContactsCorrected, Registered
from shared import personal_keys
from shared.envelope import EventEnvelope
from shared.events import registry
from shared.events.claims import part_file
from shared.events.contracts import ContractTerms, PartyContactsCorrected, PartyTerms
from shared.events.registry import UndecodableEvent
from shared.events.sealing import SHREDDED, ClearFields, SealedFields, shredded_party
from shared.eventstore.store import EventStore
from tests.support import seed_contract

FIELDS = {"name": "TOO «Т-Транзит»", "bin": "110740003844", "email": None}


def test_a_sealed_blob_opens_with_its_key_and_contract_only():
    key = personal_keys.new_key()
    sealed = personal_keys.seal(key, "c-1", FIELDS)
    assert "Т-Транзит" not in sealed.model_dump_json() and "110740003844" not in sealed.model_dump_json()
    assert personal_keys.unseal(key, "c-1", sealed) == FIELDS
    assert personal_keys.unseal(personal_keys.new_key(), "c-1", sealed) is None   # another key
    assert personal_keys.unseal(key, "c-2", sealed) is None                       # copied to another contract
    assert personal_keys.unseal(None, "c-1", sealed) is None                      # shredded
    flipped = sealed.model_copy(update={"ciphertext": ("A" if sealed.ciphertext[0] != "A" else "B")
                                        + sealed.ciphertext[1:]})
    assert personal_keys.unseal(key, "c-1", flipped) is None                      # altered


def test_each_sealing_draws_a_new_nonce():
    key = personal_keys.new_key()
    first, second = personal_keys.seal(key, "c-1", FIELDS), personal_keys.seal(key, "c-1", FIELDS)
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_the_first_key_that_fits_opens_and_clear_fields_open_only_with_a_key():
    own, contracts = personal_keys.new_key(), personal_keys.new_key()
    sealed = personal_keys.seal(own, "c-1", FIELDS)
    assert personal_keys.unseal_any([contracts, own], "c-1", sealed) == FIELDS
    assert personal_keys.unseal_any([], "c-1", sealed) is None
    old = ClearFields(in_clear=FIELDS)
    assert personal_keys.unseal(own, "c-1", old) == FIELDS
    assert personal_keys.unseal(None, "c-1", old) is None   # a shredded counterparty reads as shredded
    assert personal_keys.sealed_of(sealed.model_dump()) == sealed
    assert personal_keys.sealed_of(old.model_dump()) == old


def terms() -> ContractTerms:
    return ContractTerms.model_validate(seed_contract())


def test_the_contracts_edge_seals_what_the_rules_decide_and_opens_it_back():
    key = personal_keys.new_key()
    registered = sealing.seal_event(key, Registered(contract_id="c-1", terms=terms()))
    assert isinstance(registered.terms.buyer, SealedFields)
    assert "Т-Транзит" not in registered.model_dump_json() and "Текелийский" in registered.model_dump_json()
    assert sealing.open_event(key, registered) == Registered(contract_id="c-1", terms=terms())
    shredded = sealing.open_event(None, registered)
    assert shredded.terms.buyer == domain.SHREDDED_BUYER and shredded.terms.number == "01/2021-85"

    corrected = ContactsCorrected(contract_id="c-1", party="buyer", email="x@example.kz", address="Abaya 2",
                                  corrected_on=date(2022, 3, 1), request_id=None)
    stored = sealing.seal_event(key, corrected)
    assert isinstance(stored, PartyContactsCorrected) and "x@example.kz" not in stored.model_dump_json()
    assert sealing.open_event(key, stored) == corrected


def test_the_store_refuses_the_rules_plaintext_look_alikes():
    store = EventStore("contracts", registry)
    with pytest.raises(TypeError, match="not the registered class"):
        store._check_registered([Registered(contract_id="c-1", terms=terms())])


def upcast(event_type: str, payload: dict, version: int = 1):
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event_type, schema_version=version, source="test",
                             stream_id="s", stream_version=1, contract_id="c-1",
                             occurred_at=datetime(2022, 1, 1, tzinfo=UTC), recorded_at=datetime(2022, 1, 1, tzinfo=UTC),
                             correlation_id=uuid.uuid4(), actor="test", payload=payload)
    return registry.decode(envelope)


@pytest.mark.parametrize("event_type", ["contracts.ContractRegistered", "contracts.ContractSigned",
                                        "contracts.ContractAmended", "invoicing.AccountOpened",
                                        "invoicing.AccountTermsAmended"])
def test_v1_terms_are_upcast_with_the_buyer_recorded_in_clear(event_type):
    v1_terms = seed_contract()
    payload = {"contract_id": "c-1", "terms": v1_terms}
    payload |= {"signed_at": "2021-12-07T04:00:00+00:00"} if event_type.endswith("Signed") else {}
    if event_type.endswith("Amended"):
        payload |= {"kind": "price_change_notice", "document_number": "N-1", "document_date": "2022-01-20",
                    "effective_from": "2022-02-01", "summary": "s"}
    event = upcast(event_type, payload)
    assert type(event).schema_version == 2
    assert event.terms.buyer == ClearFields(in_clear=v1_terms["buyer"])
    assert event.terms.number == v1_terms["number"] and event.terms.seller.name == v1_terms["seller"]["name"]
    assert payload["terms"]["buyer"] == v1_terms["buyer"]   # the stored payload itself is not changed


def test_a_v1_too_malformed_to_upcast_is_undecodable_not_a_crash():
    # a ContractSigned v1 without terms: poison for the dead-letter topic, like a payload failing its schema
    with pytest.raises(UndecodableEvent) as refused:
        upcast("contracts.ContractSigned", {"contract_id": "c-1"})
    assert refused.value.reason == "undecodable_event"


def test_v1_contacts_payer_and_payee_are_upcast_in_clear():
    contacts = upcast("contracts.PartyContactsCorrected", {
        "contract_id": "c-1", "party": "buyer", "email": "x@example.kz", "address": "Abaya 2",
        "corrected_on": "2022-03-01", "request_id": None})
    assert contacts.contacts == ClearFields(in_clear={"email": "x@example.kz", "address": "Abaya 2"})
    payment = {"contract_id": "c-1", "payment_id": "p", "bank_reference": "r", "received_on": "2022-02-10",
               "amount": {"amount": "1.00", "currency": "KZT"}, "purpose": "", "postings": []}
    paid = upcast("invoicing.PaymentReceived", {**payment, "payer_bin": "110740003844", "payer_iban": None})
    assert paid.payer == ClearFields(in_clear={"bin": "110740003844", "iban": None})
    assert paid.purpose is None   # v1 → v2 → v3: an empty purpose is none
    assert upcast("invoicing.PaymentReceived", {**payment, "payer_bin": None, "payer_iban": None}).payer is None
    refund = upcast("invoicing.RefundIssued", {
        "contract_id": "c-1", "document_number": "RF-1", "refund_on": "2023-01-10",
        "amount": {"amount": "1.00", "currency": "KZT"}, "beneficiary": "TOO «Т-Транзит»",
        "iban": "KZ244322203398M00165", "bic": "VTBAKZKZ", "postings": []})
    assert refund.payee == ClearFields(in_clear={"name": "TOO «Т-Транзит»", "iban": "KZ244322203398M00165",
                                                 "bic": "VTBAKZKZ"})


@pytest.mark.parametrize("service", ["contracts", "metering", "invoicing"])
def test_a_v1_export_part_is_upcast_in_clear_with_the_digest_of_its_file(service):
    part = {"accounts": [{"buyer_name": "TOO «Т-Транзит»", "balance": "0.00"}]}
    event = upcast(f"{service}.PersonalDataExported", {"request_id": "r", "contract_id": "c-1",
                                                       "contract_ids": ["c-1"], "part": part})
    assert event.part == ClearFields(in_clear=part)
    assert event.sha256 == hashlib.sha256(part_file(part)).hexdigest()


def test_a_key_message_is_a_key_or_a_tombstone_of_a_named_contract():
    key = personal_keys.new_key()
    assert personal_keys.parse_key_message(b"c-1", key) == ("c-1", key)
    assert personal_keys.parse_key_message(b"c-1", None) == ("c-1", None)
    for bad_key, bad_value in ((None, key), (b"", key), (b"\xff", key), (b"c-1", b""), (b"c-1", key[:16])):
        with pytest.raises(personal_keys.MalformedKeyMessage):
            personal_keys.parse_key_message(bad_key, bad_value)


def test_the_placeholder_is_a_party_of_the_shape_every_reader_knows():
    assert PartyTerms.model_validate(shredded_party()) == domain.SHREDDED_BUYER
    assert domain.SHREDDED_BUYER.name == SHREDDED == "[shredded]"


def test_free_texts_of_older_events_are_upcast_in_clear_and_an_empty_one_to_none():
    texts = {"description": "Иванов И.И. просит пересчитать", "comment": "звонил Петров", "details": "новый e-mail"}
    payment = {"contract_id": "c-1", "payment_id": "p", "bank_reference": "r", "received_on": "2022-02-10",
               "amount": {"amount": "1.00", "currency": "KZT"}, "payer": None, "postings": []}
    # PaymentReceived v2 (the payer sealed, the purpose in clear) and v1 (both in clear), up to v3
    assert upcast("invoicing.PaymentReceived", {**payment, "purpose": "за январь, Ахметов"}, version=2).purpose == \
        ClearFields(in_clear={"text": "за январь, Ахметов"})
    assert upcast("invoicing.PaymentReceived", {**payment, "purpose": ""}, version=2).purpose is None
    v1 = {k: v for k, v in payment.items() if k != "payer"} | {"payer_bin": None, "payer_iban": None}
    assert upcast("invoicing.PaymentReceived", {**v1, "purpose": "январь"}).purpose == ClearFields(
        in_clear={"text": "январь"})

    claim = upcast("claims.ClaimRegistered", {
        "claim_id": "k", "contract_id": "c-1", "contract_number": "N", "received_at": "2024-06-03T10:00:00+00:00",
        "received_on": "2024-06-03", "zone": "Asia/Almaty", "answer_due": "2024-06-18", "subject": "other",
        "description": texts["description"], "disputed_amount": None, "disputed_volume_kwh": None,
        "disputed_event_id": None, "disputed_document": None})
    assert claim.description == ClearFields(in_clear={"text": texts["description"]})
    answer = {"claim_id": "k", "contract_id": "c-1", "answered_on": "2024-06-05", "answered_in_time": True}
    accepted = upcast("claims.ClaimAccepted", {**answer, "fully": True, "correction": None,
                                               "comment": texts["comment"]})
    assert accepted.comment == ClearFields(in_clear={"text": texts["comment"]})
    assert upcast("claims.ClaimAccepted", {**answer, "fully": True, "correction": None, "comment": ""}).comment is None
    rejected = upcast("claims.ClaimRejected", {**answer, "reasons": ["нет", "акт подписан"]})
    assert rejected.reasons == ClearFields(in_clear={"text": ["нет", "акт подписан"]})
    request = {"request_id": "r", "contract_id": "c-1", "kind": "correction", "received_on": "2024-06-03",
               "answer_due": "2024-06-18"}
    assert upcast("claims.PersonalDataRequested", {**request, "details": texts["details"]}).details == ClearFields(
        in_clear={"text": texts["details"]})
    assert upcast("claims.PersonalDataRequested", {**request, "details": ""}).details is None
    # what is recorded in clear opens only while a key is held, as a text
    assert personal_keys.open_text([personal_keys.new_key()], "c-1", claim.description) == texts["description"]
    assert personal_keys.open_text([], "c-1", claim.description) is None


def test_a_v1_unidentified_receipt_is_upcast_with_its_bank_line_recorded_in_clear():
    receipt = upcast("invoicing.UnidentifiedReceiptRecorded", {
        "contract_id": "unidentified", "bank_reference": "r", "amount": {"amount": "1.00", "currency": "KZT"},
        "received_on": "2022-02-10", "payer_name": "ИП Сидоров", "payer_bin": "110740003844",
        "payer_iban": None, "purpose": "за свет", "why": "unknown_payer"})
    assert type(receipt).schema_version == 2
    assert receipt.bank_line == ClearFields(in_clear={"name": "ИП Сидоров", "bin": "110740003844", "iban": None,
                                                      "purpose": "за свет"})
    assert receipt.why == "unknown_payer"
