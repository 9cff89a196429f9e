"""Accepted claims metering owns (§9): a volume act reduced by the granted kWh becomes a corrected act
(§4.13), which the ledger then charges by difference (a credit when the volume drops)."""

from __future__ import annotations

from services.metering.domain import acts
from shared.errors import NotFound
from shared.events.claims import ClaimAccepted


def reduce_act(state: acts.ContractActs | None, *, act_id: str, by_kwh, on) -> list:
    act = state.acts.get(act_id) if state is not None else None
    if act is None:
        raise NotFound(f"no act {act_id}", reason="act_not_found")
    return acts.correct_act(state, act_id=act_id, volume_kwh=act.volume_kwh - by_kwh, issued_on=on, delivered_on=on)


async def on_claim_accepted(service, uow, event: ClaimAccepted, envelope, context) -> None:
    correction = event.correction
    if correction is None or correction.owner != "metering":
        return
    stream = acts.stream_id(event.contract_id)
    state = acts.fold(service.store.registry.decode(s.envelope) for s in await service.store.read_stream(uow.conn, stream))
    events = reduce_act(state, act_id=correction.document_number, by_kwh=correction.volume_kwh, on=event.answered_on)
    await service.record(uow, stream_id=stream, expected_version=state.version, contract_id=event.contract_id,
                         occurred_at=envelope.occurred_at, events=events, context=context)


HANDLERS = {ClaimAccepted.event_type: on_claim_accepted}
