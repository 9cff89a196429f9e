"""Proves where metering's event types live: the four other services read (the volume act and its dispute, a
declared calendar day, the export part) are `shared/events/metering.py`, known to every process; the nine only
metering reads are
`services/metering/events.py`, registered under the same `metering.*` types and versions wherever metering's
store is folded (its application, and `ledger verify/replay`, which load its projection), so an event stored
before they moved still decodes into today's class."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime

from shared.envelope import EventEnvelope

SHARED = ["metering.CalendarDayDeclared", "metering.PersonalDataExported", "metering.VolumeActDisputed",
          "metering.VolumeActIssued"]
OWN = ["metering.ActualBalanceRecorded", "metering.ContractTermsNoted", "metering.MeterRegistered",
       "metering.MeterReplaced", "metering.PreliminaryActReceived", "metering.ReadingsImported",
       "metering.TransformerRatioChanged", "metering.VolumeActAccepted", "metering.VolumeMeasured"]


def metering_types_after(statement: str) -> list[str]:
    """The `metering.*` types (with their versions) a fresh process knows after `statement`."""
    script = (f"{statement}\nimport json\nfrom shared.events import registry\n"
              "print(json.dumps(sorted(f'{t.event_type}@{t.schema_version}' for t in registry.types()"
              " if t.event_type.startswith('metering.'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def stored_v1(event_type: str, stream_id: str, at: datetime, payload: dict) -> EventEnvelope:
    """An event as metering's store holds it: version 1 of `event_type`, first of its stream."""
    return EventEnvelope(event_id=uuid.uuid4(), event_type=event_type, schema_version=1, source="metering",
                         stream_id=stream_id, stream_version=1, contract_id=payload["contract_id"], occurred_at=at,
                         recorded_at=at, correlation_id=uuid.uuid4(), actor="test", payload=payload)


def test_only_the_events_other_services_read_are_shared():
    assert metering_types_after("import shared.events") == [
        "metering.CalendarDayDeclared@1", "metering.PersonalDataExported@2", "metering.VolumeActDisputed@1",
        "metering.VolumeActIssued@1"]


def test_metering_and_the_audit_know_every_metering_type_at_its_version():
    everything = sorted([*(f"{t}@1" for t in OWN), "metering.CalendarDayDeclared@1", "metering.PersonalDataExported@2",
                         "metering.VolumeActDisputed@1", "metering.VolumeActIssued@1"])
    assert metering_types_after("import services.metering.application") == everything
    # `ledger verify/replay` fold a store through its service's projection (`ledger_cli/audit.projector_of`)
    assert metering_types_after("from ledger_cli.audit import projector_of\nprojector_of('metering')") == everything


def test_an_event_stored_before_the_move_decodes_into_metering_s_own_class():
    from services.metering import events
    from shared.events import registry

    at = datetime(2022, 7, 31, 18, tzinfo=UTC)
    # the payload as `VolumeMeasured` v1 was stored: one meter's day, 1,090 kWh, complete
    payload = {"contract_id": "c-1", "day": "2022-07-31", "volume_kwh": "1090", "complete": True,
               "meters": [{"serial": "01214368", "volume_kwh": "1090", "source": "register", "complete": True}]}
    decoded = registry.decode(stored_v1("metering.VolumeMeasured", "volumes-c-1", at, payload))
    assert type(decoded) is events.VolumeMeasured
    assert decoded.model_dump(mode="json") == payload


def test_a_calendar_day_declared_before_it_was_shared_decodes_into_the_shared_class():
    from shared.events import metering, registry

    at = datetime(2026, 8, 20, 9, tzinfo=UTC)
    # the payload as metering stored `CalendarDayDeclared` v1 in its own events: Monday 31 August 2026 off
    payload = {"contract_id": "*", "day": "2026-08-31", "working": False, "reason": "Constitution Day on a Sunday"}
    decoded = registry.decode(stored_v1("metering.CalendarDayDeclared", "calendar-days", at, payload))
    assert type(decoded) is metering.CalendarDayDeclared
    assert decoded.model_dump(mode="json") == payload
