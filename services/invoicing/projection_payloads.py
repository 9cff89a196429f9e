"""The payloads `projection.AccountRows` folds, as the fold reads them.

A history is nearly all invoices, payments and their allocations (three events of four in a year of
monthly billing): their payloads are decoded by msgspec straight into Structs of the fields the fold
reads. The fields it skips are never made, and a Struct outside the cycle collector is freed at once:
decoding and freeing these three took a third of a rebuild's fold when they were dicts. Every other
type stays the dict of its JSON form (`Fact`), and so does every payload of an older schema until it is
upcast; a dict of a type below is converted to its Struct (`typed`), so a command's rows and a
rebuild's rows come from the same fold of the same values.

The field names are the payloads' own (`events.py`); texts stay as the event carries them, so an
amount or a date reaches its table spelled as it was recorded.
"""

from __future__ import annotations

from typing import Any

import msgspec

from services.invoicing.events import InvoiceIssued, PaymentAllocated, PaymentReceived
from shared.events import registry
from shared.projector import check_columns


class MoneyText(msgspec.Struct, frozen=True, gc=False):
    """An amount as the event spells it: written as it is, read as a Decimal only where the fold sums it."""

    amount: str
    currency: str


class Posting(msgspec.Struct, frozen=True, gc=False):
    """One line of an event's double entry (`events.PostingLine`)."""

    account: str
    amount: MoneyText


class Slice(msgspec.Struct, frozen=True, gc=False):
    """What an allocation paid of one debt item (`events.AllocationSlice`)."""

    item_id: str
    document: str
    kind: str
    period: str
    amount: MoneyText


class InvoiceIssuedFolded(msgspec.Struct, frozen=True, gc=False):
    contract_id: str
    document_number: str
    period: str
    corrects_document: str | None
    invoice_date: str
    esf_date: str
    esf_deadline: str
    due_date: str
    volume_kwh: str
    net: MoneyText
    vat: MoneyText
    total: MoneyText
    postings: list[Posting]
    released_to_advance: list[Slice] = []


class PaymentReceivedFolded(msgspec.Struct, frozen=True, gc=False):
    contract_id: str
    payment_id: str
    bank_reference: str
    amount: MoneyText
    received_on: str
    purpose: dict[str, Any] | None   # sealed: kept as the event carries it
    postings: list[Posting]
    posted_on: str | None = None


class PaymentAllocatedFolded(msgspec.Struct, frozen=True, gc=False):
    contract_id: str
    policy: str
    trigger: str
    allocated_on: str
    slices: list[Slice]
    advance_left: MoneyText
    postings: list[Posting]
    posted_on: str | None = None


STRUCTS: dict[str, type[msgspec.Struct]] = {
    InvoiceIssued.event_type: InvoiceIssuedFolded,
    PaymentReceived.event_type: PaymentReceivedFolded,
    PaymentAllocated.event_type: PaymentAllocatedFolded,
}
_DECODERS = {event_type: msgspec.json.Decoder(struct) for event_type, struct in STRUCTS.items()}


class StoredFact(msgspec.Struct, gc=False, kw_only=True):
    """An event as a rebuild folds it: the envelope's fields `Fact` has (the fold reads either), decoded by
    msgspec with the rest of the envelope skipped, and its payload (`payload`, typed by the subclasses below)."""

    event_type: str
    contract_id: str
    schema_version: int
    stream_version: int
    occurred_at: str
    recorded_at: str
    position: int = 0   # not in the envelope: the store's column


class _RawPayload(StoredFact, gc=False, kw_only=True):
    payload: msgspec.Raw   # decoded once its schema version is known


# one decoder per type, the envelope and its payload in one pass (two passes, the payload first skipped as raw
# bytes, cost a quarter more); every other type, and any payload of an older schema, by its JSON form
_ONE_PASS = {event_type: msgspec.json.Decoder(msgspec.defstruct(f"Stored{struct.__name__}", [("payload", struct)],
                                                                 bases=(StoredFact,), gc=False, kw_only=True))
             for event_type, struct in STRUCTS.items()}
_ENVELOPE = msgspec.json.Decoder(_RawPayload)
_ANY = msgspec.json.Decoder()
_CURRENT = {event_type: registry.type_of(event_type).schema_version for event_type in STRUCTS}


def typed(event_type: str, payload: dict[str, Any]) -> Any:
    """A payload in its JSON form as the fold reads it: a Struct for the types above, else the dict itself."""
    struct = STRUCTS.get(event_type)
    return payload if struct is None else msgspec.convert(payload, struct)


def postings(payload: dict[str, Any]) -> list[Posting]:
    """The postings of a payload folded as a dict, as `AccountRows._post` takes them."""
    return msgspec.convert(payload["postings"], list[Posting])


def stored_fact(position: int, event_type: str, contract_id: str, body: bytes) -> StoredFact:
    """One stored event decoded for the fold (its payload `.payload`), its columns checked against its bytes
    (`check_columns`), its payload upcast to today's schema when it is older."""
    decoder = _ONE_PASS.get(event_type)
    fact = None
    if decoder is not None:
        try:
            fact = decoder.decode(body)
        except msgspec.ValidationError:   # an older schema's payload: upcast below
            pass
    if fact is None or fact.schema_version != _CURRENT[event_type]:
        fact = _ENVELOPE.decode(body)
        payload = _ANY.decode(fact.payload)
        if fact.schema_version != registry.type_of(event_type).schema_version:
            payload = registry.upcast(event_type, fact.schema_version, payload)
        fact = msgspec.structs.replace(fact, payload=typed(event_type, payload))
    check_columns(position, event_type, contract_id, fact.event_type, fact.contract_id)
    fact.position = position
    return fact
