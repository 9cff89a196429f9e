"""Metering's reactions to other services' events."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from services.metering.domain import meters
from shared.errors import ValidationFailed
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationReduced,
    ApplicationReinstated,
    ApplicationRejected,
    ContractAmended,
    ContractSigned,
)

HOURS_IN_DAY = 24  # Kazakhstan keeps no summer time: every day of the schedule has 24 hours


async def on_contract(service, uow, event: ContractSigned | ContractAmended, envelope, context) -> None:
    """The terms metering keeps and the meters of new delivery points, as metering's own events."""
    stream = meters.stream_id(event.contract_id)
    stored = await service.store.read_stream(uow.conn, stream)
    state = meters.fold(event.contract_id, (service.store.registry.decode(s.envelope) for s in stored))
    learned = meters.learn_contract(state, event)
    if learned:
        occurred_at = event.signed_at if isinstance(event, ContractSigned) else envelope.occurred_at
        await service.record(uow, stream_id=stream, expected_version=state.version, contract_id=event.contract_id,
                             occurred_at=occurred_at, events=learned, context=context)


_SCHEDULE = text("""
    INSERT INTO accepted_hours (contract_id, day, hour, accepted_kwh, application_id, source_event)
    SELECT :c, :d, h.hour - 1, h.kwh, :a, :e
    FROM unnest(CAST(:hours AS numeric[])) WITH ORDINALITY AS h(kwh, hour)
    ON CONFLICT (contract_id, day, hour) DO UPDATE SET accepted_kwh = excluded.accepted_kwh,
        application_id = excluded.application_id, source_event = excluded.source_event
""")


async def on_schedule(service, uow, event: ApplicationAccepted | ApplicationCorrected | ApplicationReduced
                      | ApplicationReinstated | ApplicationRejected, envelope, context) -> None:
    """The day's accepted schedule as it stands after this event (every such event carries the whole day,
    so the newest replaces what was there; per-contract order holds on the topic). A rejected
    application leaves nothing accepted that day (§4.6: the day counts as "no purchase")."""
    hours = [Decimal(0)] * HOURS_IN_DAY if isinstance(event, ApplicationRejected) else list(event.hours)
    if len(hours) != HOURS_IN_DAY or any(h < 0 for h in hours):
        raise ValidationFailed(f"the schedule of {event.day} needs 24 hours of at least 0 kWh",
                               reason="invalid_schedule")
    await uow.conn.execute(_SCHEDULE, {"c": event.contract_id, "d": event.day, "a": event.application_id,
                                       "e": event.event_type, "hours": hours})


HANDLERS = {
    ContractSigned.event_type: on_contract,
    ContractAmended.event_type: on_contract,
    ApplicationAccepted.event_type: on_schedule,
    ApplicationCorrected.event_type: on_schedule,
    ApplicationReduced.event_type: on_schedule,
    ApplicationReinstated.event_type: on_schedule,
    ApplicationRejected.event_type: on_schedule,
}
