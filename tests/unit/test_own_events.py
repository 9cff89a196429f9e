"""Proves the split of a service's events: the ones in `services/<svc>/events.py` are read by no other
service (no other service subscribes to them), the ones left in `shared/events/<svc>.py` are read by another
service or are personal-data events every service answers, and a process of any service knows every type
(so its consumer acknowledges a type it does not apply instead of dead-lettering it as unknown)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_s_process_knows_invoicing_s_own_events(service):
    # a fresh interpreter, as `python -m services.<service>` starts: only what the service's app imports
    names = sorted(cls.event_type for cls in own_events("invoicing"))
    probe = (f"import services.{service}.app\n"
             "from shared.events import registry\n"
             f"print(sorted(t for t in {names!r} if not registry.knows(t)))")
    unknown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert unknown.strip() == "[]", f"the {service} process does not know {unknown.strip()}"
