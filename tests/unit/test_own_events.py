"""Proves the split of a service's events: the ones in `services/<svc>/events.py` are read by no other
service (no other service subscribes to them); invoicing's left in `shared/events/invoicing.py` are read by
another service or are personal-data events; and an invoicing event stored before the move (a payment of
schema version 1) still decodes, into invoicing's own class. That every process knows every type:
`tests/unit/test_event_types_per_process.py`."""

from __future__ import annotations

import importlib
import importlib.util
import uuid
from datetime import UTC, datetime

import pytest

from shared.envelope import EventEnvelope
from shared.events import registry
from shared.events.personal_data import PersonalDataAccess, PersonalDataPart
from shared.events.registry import Event
from shared.migrate import SERVICES


def own_events(service: str) -> list[type[Event]]:
    """The event types `services/<service>/events.py` registers (none while the service has no such module)."""
    if importlib.util.find_spec(f"services.{service}.events") is None:
        return []
    module = importlib.import_module(f"services.{service}.events")
    return [cls for cls in registry.types() if cls.__module__ == module.__name__]


def shared_events(service: str) -> list[type[Event]]:
    return [cls for cls in registry.types() if cls.__module__ == f"shared.events.{service}"]


def subscribed_by_others(service: str) -> set[str]:
    """Every event type another service's consumer applies."""
    applied: set[str] = set()
    for other in SERVICES:
        if other == service:
            continue
        definition = importlib.import_module(f"services.{other}.app").definition
        applied |= {event_type for handlers in definition.subscriptions.values() for event_type in handlers}
    return applied


def test_invoicing_has_events_of_its_own():
    # the test below would prove nothing of invoicing without them
    assert {cls.event_type for cls in own_events("invoicing")} >= {"invoicing.PaymentReceived",
                                                                    "invoicing.AccountOpened"}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_s_own_events_are_read_by_no_other_service(service):
    read_elsewhere = sorted({cls.event_type for cls in own_events(service)} & subscribed_by_others(service))
    assert read_elsewhere == [], f"{read_elsewhere} are read by another service: they belong in shared/events/"


def test_the_invoicing_events_left_shared_are_read_by_another_service_or_are_personal_data_events():
    others = subscribed_by_others("invoicing")
    private = [cls.event_type for cls in shared_events("invoicing")
               if cls.event_type not in others and not issubclass(cls, PersonalDataAccess | PersonalDataPart)]
    assert private == [], f"{private} are read by invoicing alone: they belong in services/invoicing/events.py"


def test_a_payment_stored_before_the_move_decodes_into_invoicing_s_own_class():
    from services.invoicing import events

    at = datetime(2022, 2, 7, 5, tzinfo=UTC)
    # `PaymentReceived` as v1 stored it: the payer's BIN and IBAN and the purpose in clear, no posting date
    payload = {"contract_id": "c-1", "payment_id": "p-1", "bank_reference": "R-1",
               "amount": {"amount": "100.00", "currency": "KZT"}, "received_on": "2022-02-07",
               "payer_bin": "123456789012", "payer_iban": None, "purpose": "for January",
               "postings": [{"account": "cash", "amount": {"amount": "100.00", "currency": "KZT"}},
                            {"account": "advance", "amount": {"amount": "-100.00", "currency": "KZT"}}]}
    stored = EventEnvelope(event_id=uuid.uuid4(), event_type="invoicing.PaymentReceived", schema_version=1,
                           source="invoicing", stream_id="account-c-1", stream_version=2, contract_id="c-1",
                           occurred_at=at, recorded_at=at, correlation_id=uuid.uuid4(), actor="test", payload=payload)
    decoded = registry.decode(stored)
    assert type(decoded) is events.PaymentReceived
    assert (decoded.bank_reference, decoded.amount.amount, decoded.posting_date) == ("R-1", 100, at.date())
    # the upcasters of v1 → v3 ran: the payer and the purpose as recorded in clear
    assert decoded.payer.in_clear == {"bin": "123456789012", "iban": None}
    assert decoded.purpose.in_clear == {"text": "for January"}
