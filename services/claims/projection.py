"""Read models of the claims desk: counterparties, claims by deadline, force-majeure notices.

A counterparty's personal fields arrive sealed with the contract's key, and the key arrives on another
topic, in either order. `counterparties.sealed` keeps every sealed blob of it in order (the buyer as
signed, then each contacts correction); the name, identifiers and contacts are those blobs opened and
merged, filled as soon as a key that opens them is here and blanked to "[shredded]" on the key's
tombstone: NULL meanwhile. The same `refresh_counterparties` runs on both sides, each under the
contract's lock, and once at the end of a rebuild, so the live table and a rebuilt one agree. The free
texts of claims and requests follow the same rule (`sealed_texts.py`).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.claims.events import (
    ClaimOverdue,
    ConsentRecorded,
    ContractEnded,
    ContractTermsNoted,
    CounterpartyContactsCorrected,
    CounterpartyRecorded,
    CounterpartyRegistered,
    ForceMajeureEnded,
    ForceMajeureNotified,
    PersonalDataDeletionApproved,
    PersonalDataDeletionDeclined,
    PersonalDataDeletionRefused,
    PersonalDataExportPartReceived,
    PersonalDataRequestAnswered,
    PersonalDataRequested,
    PersonalDataRequestOverdue,
    SurveyAnswered,
)
from services.claims.sealed_texts import refresh_texts, sealed_columns
from shared import personal_keys
from shared.events import registry
from shared.events.claims import (
    ClaimAccepted,
    ClaimReferredToCourt,
    ClaimRegistered,
    ClaimRejected,
    PersonalDataExportRequested,
    PersonalDataShredded,
)
from shared.events.sealing import SHREDDED, Sealed
from shared.eventstore import StoredEvent
from shared.projector import Projector


async def on_counterparty_registered(conn: AsyncConnection, event: CounterpartyRegistered,
                                     stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO counterparties (contract_id, contract_number, name, bin, foreign_registration, email,
                address, registered_at)
            VALUES (:id, :number, :name, :bin, :foreign, :email, :address, :at)
        """),
        {"id": event.contract_id, "number": event.contract_number, "name": event.name, "bin": event.bin,
         "foreign": event.foreign_registration, "email": event.email, "address": event.address,
         "at": stored.envelope.occurred_at},
    )


_REBUILDING = contextvars.ContextVar("claims_rebuilding", default=False)
_PERSONAL_COLUMNS = ("name", "bin", "foreign_registration", "email", "address")


def opened_fields(keys: Sequence[bytes], contract_id: str, sealed: Sequence[dict]) -> dict:
    """The counterparty's fields from its sealed blobs in order: the buyer as signed, then each correction
    of its contacts over it (name and identifiers stay as signed). A blob no key opens adds nothing."""
    fields: dict = {}
    for blob in sealed:
        fields.update(personal_keys.unseal_any(keys, contract_id, personal_keys.sealed_of(blob)) or {})
    return fields


async def refresh_counterparties(conn: AsyncConnection, contract_ids: Sequence[str] | None, *, lock: bool) -> None:
    """Open the sealed blobs of these counterparties (all, for None) with the keys held now. A counterparty
    the desk shredded itself keeps what `on_shredded` wrote; one whose key's tombstone came is blanked the
    same way; one without a key yet is NULL."""
    if _REBUILDING.get():
        return   # the rebuild refreshes every row once, at its end
    if lock and contract_ids:
        await personal_keys.lock(conn, contract_ids)
    rows = (await conn.execute(text(
        "SELECT c.contract_id, c.sealed, k.key, k.own_key, k.shredded_at FROM counterparties c"
        " LEFT JOIN personal_data_keys k USING (contract_id)"
        " WHERE c.shredded_on IS NULL AND (CAST(:ids AS text[]) IS NULL OR c.contract_id = ANY(:ids))"),
        {"ids": list(contract_ids) if contract_ids is not None else None})).all()
    if not rows:
        return
    columns: dict[str, list] = {"id": [], **{column: [] for column in _PERSONAL_COLUMNS}}
    for row in rows:
        keys = [bytes(k) for k in (row.key, row.own_key) if k is not None]
        fields: dict = {}
        if row.shredded_at is not None:
            fields = {"name": SHREDDED, "address": SHREDDED}
        elif keys:
            fields = opened_fields(keys, row.contract_id, row.sealed)
        columns["id"].append(row.contract_id)
        for column in _PERSONAL_COLUMNS:
            columns[column].append(fields.get(column))
    await conn.execute(text(f"""
        UPDATE counterparties c SET {", ".join(f"{column} = t.{column}" for column in _PERSONAL_COLUMNS)}
        FROM unnest(CAST(:id AS text[]), {", ".join(f"CAST(:{column} AS text[])" for column in _PERSONAL_COLUMNS)})
            AS t(contract_id, {", ".join(_PERSONAL_COLUMNS)})
        WHERE c.contract_id = t.contract_id
    """), columns)


async def refresh(conn: AsyncConnection, contract_id: str) -> None:
    """A key arrived or was shredded (the caller holds the contract's lock)."""
    await refresh_counterparties(conn, [contract_id], lock=False)
    await refresh_texts(conn, [contract_id], lock=False)


async def _texts_recorded(conn: AsyncConnection, contract_id: str) -> None:
    """A row took in a sealed text: opened now if the key is here (locked against the key's arrival or
    shredding, so one of the two sees the other); a rebuild opens every row once, at its end."""
    if not _REBUILDING.get():
        await refresh_texts(conn, [contract_id], lock=True)


async def on_counterparty_recorded(conn: AsyncConnection, event: CounterpartyRecorded, stored: StoredEvent) -> None:
    """Kept sealed; opened once a key that fits is here (and, after shredding, never again)."""
    await conn.execute(
        text("INSERT INTO counterparties (contract_id, contract_number, sealed, registered_at)"
             " VALUES (:id, :number, jsonb_build_array(CAST(:sealed AS jsonb)), :at)"),
        {"id": event.contract_id, "number": event.contract_number, "sealed": event.personal.model_dump_json(),
         "at": stored.envelope.occurred_at})
    await refresh_counterparties(conn, [event.contract_id], lock=True)


async def on_contacts_corrected(conn: AsyncConnection, event: CounterpartyContactsCorrected,
                                stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE counterparties SET sealed = sealed || jsonb_build_array(CAST(:sealed AS jsonb))"
                            " WHERE contract_id = :id"),
                       {"id": event.contract_id, "sealed": event.personal.model_dump_json()})
    await refresh_counterparties(conn, [event.contract_id], lock=True)


async def on_contract_ended(conn: AsyncConnection, event: ContractEnded, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE counterparties SET ended_on = :on WHERE contract_id = :id"),
                       {"id": event.contract_id, "on": event.ended_on})


async def on_consent(conn: AsyncConnection, event: ConsentRecorded, stored: StoredEvent) -> None:
    await conn.execute(text("""
        INSERT INTO consents (contract_id, purpose, given, recorded_on) VALUES (:id, :purpose, :given, :on)
        ON CONFLICT (contract_id, purpose) DO UPDATE SET given = excluded.given, recorded_on = excluded.recorded_on
    """), {"id": event.contract_id, "purpose": event.purpose, "given": event.given, "on": event.recorded_on})


async def on_request(conn: AsyncConnection, event: PersonalDataRequested, stored: StoredEvent) -> None:
    await conn.execute(text("""
        INSERT INTO personal_data_requests (request_id, contract_id, kind, received_on, answer_due, sealed)
        VALUES (:id, :contract, :kind, :received, :due, CAST(:sealed AS jsonb))
    """), {"id": event.request_id, "contract": event.contract_id, "kind": event.kind, "received": event.received_on,
           "due": event.answer_due, "sealed": sealed_columns(details=event.details)})
    await _texts_recorded(conn, event.contract_id)


async def on_deletion_refused(conn: AsyncConnection, event: PersonalDataDeletionRefused, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET outcome = :reason, earliest_on = :on"
                            " WHERE request_id = :id"),
                       {"id": event.request_id, "reason": f"refused: {event.reason}", "on": event.earliest_on})


async def on_deletion_decided(conn: AsyncConnection, event: PersonalDataDeletionApproved | PersonalDataDeletionDeclined,
                              stored: StoredEvent) -> None:
    outcome = "approved" if isinstance(event, PersonalDataDeletionApproved) else "declined"
    await conn.execute(text("UPDATE personal_data_requests SET outcome = :o WHERE request_id = :id"),
                       {"id": event.request_id, "o": outcome})


async def on_shredded(conn: AsyncConnection, event: PersonalDataShredded, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET outcome = 'shredded' WHERE request_id = :id"),
                       {"id": event.request_id})
    await conn.execute(text("""
        UPDATE counterparties SET name = :mark, address = :mark, bin = NULL, foreign_registration = NULL,
            email = NULL, shredded_on = :on
        WHERE contract_id = :id
    """), {"id": event.contract_id, "mark": SHREDDED, "on": event.shredded_on})
    # the desk deleted its key in this transaction: its claims' and requests' texts go with it
    await _texts_recorded(conn, event.contract_id)


async def on_export_requested(conn: AsyncConnection, event: PersonalDataExportRequested, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET contract_ids = :ids WHERE request_id = :id"),
                       {"id": event.request_id, "ids": event.contract_ids})


async def on_export_part(conn: AsyncConnection, event: PersonalDataExportPartReceived, stored: StoredEvent) -> None:
    await conn.execute(text("INSERT INTO personal_data_export_parts VALUES (:id, :service, :sha, :nonce, :cipher)"),
                       {"id": event.request_id, "service": event.service, "sha": event.sha256,
                        "nonce": event.part.nonce, "cipher": event.part.ciphertext})


async def on_request_answered(conn: AsyncConnection, event: PersonalDataRequestAnswered, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET outcome = 'answered', answered_on = :on,"
                            " answered_in_time = :in_time WHERE request_id = :id"),
                       {"id": event.request_id, "on": event.answered_on, "in_time": event.answered_in_time})


async def on_request_overdue(conn: AsyncConnection, event: PersonalDataRequestOverdue, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET overdue = true WHERE request_id = :id"),
                       {"id": event.request_id})


async def on_contract_terms_noted(conn: AsyncConnection, event: ContractTermsNoted, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            UPDATE counterparties SET deadline_time_zone = :zone, currency = :currency, service_type = :service,
                delivery_start = :start, delivery_end = :end
            WHERE contract_id = :id
        """),
        {"id": event.contract_id, "zone": event.deadline_time_zone, "currency": event.currency,
         "service": event.service_type, "start": event.delivery_start, "end": event.delivery_end},
    )


async def on_claim_registered(conn: AsyncConnection, event: ClaimRegistered, stored: StoredEvent) -> None:
    amount = event.disputed_amount
    await conn.execute(
        text("""
            INSERT INTO claims (claim_id, contract_id, contract_number, subject, sealed, received_at,
                received_on, zone, answer_due, disputed_amount, currency, disputed_volume_kwh, disputed_event_id,
                disputed_document, status)
            VALUES (:id, :contract, :number, :subject, CAST(:sealed AS jsonb), :received_at, :received_on, :zone,
                :due, :amount, :currency, :volume, :event_id, :document, 'open')
        """),
        {"id": event.claim_id, "contract": event.contract_id, "number": event.contract_number,
         "subject": event.subject, "sealed": sealed_columns(description=event.description), "received_at": event.received_at,
         "received_on": event.received_on, "zone": event.zone, "due": event.answer_due,
         "amount": amount.amount if amount else None, "currency": amount.currency if amount else None,
         "volume": event.disputed_volume_kwh, "event_id": event.disputed_event_id,
         "document": event.disputed_document},
    )
    await _texts_recorded(conn, event.contract_id)


async def _update_claim(conn: AsyncConnection, claim_id: str, **columns) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    await conn.execute(text(f"UPDATE claims SET {assignments} WHERE claim_id = :claim_id"),
                       {"claim_id": claim_id, **columns})


async def _answer_text(conn: AsyncConnection, event: ClaimAccepted | ClaimRejected, **blob: Sealed | None) -> None:
    """The answer's sealed text kept beside the claim's (none: nothing to keep), then opened."""
    if any(sealed is not None for sealed in blob.values()):
        await conn.execute(text("UPDATE claims SET sealed = sealed || CAST(:blob AS jsonb) WHERE claim_id = :id"),
                           {"id": event.claim_id, "blob": sealed_columns(**blob)})
        await _texts_recorded(conn, event.contract_id)


async def on_claim_overdue(conn: AsyncConnection, event: ClaimOverdue, stored: StoredEvent) -> None:
    await _update_claim(conn, event.claim_id, overdue=True)


async def on_claim_accepted(conn: AsyncConnection, event: ClaimAccepted, stored: StoredEvent) -> None:
    correction = json.dumps(event.correction.model_dump(mode="json")) if event.correction else None
    await _update_claim(conn, event.claim_id, status="accepted", answered_on=event.answered_on,
                        answered_in_time=event.answered_in_time, fully=event.fully, correction=correction)
    await _answer_text(conn, event, comment=event.comment)


async def on_claim_rejected(conn: AsyncConnection, event: ClaimRejected, stored: StoredEvent) -> None:
    await _update_claim(conn, event.claim_id, status="rejected", answered_on=event.answered_on,
                        answered_in_time=event.answered_in_time)
    await _answer_text(conn, event, reasons=event.reasons)


async def on_claim_referred(conn: AsyncConnection, event: ClaimReferredToCourt, stored: StoredEvent) -> None:
    await _update_claim(conn, event.claim_id, status="referred_to_court", referred_on=event.referred_on,
                        court=event.court, case_number=event.case_number)


async def on_force_majeure(conn: AsyncConnection, event: ForceMajeureNotified, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO force_majeure_notices (notice_id, contract_id, party, started_on, notified_on,
                notification_deadline, notified_in_time, review_on, description, certificate)
            VALUES (:id, :contract, :party, :started, :notified, :deadline, :in_time, :review, :description,
                :certificate)
        """),
        {"id": event.notice_id, "contract": event.contract_id, "party": event.party, "started": event.started_on,
         "notified": event.notified_on, "deadline": event.notification_deadline, "in_time": event.notified_in_time,
         "review": event.review_on, "description": event.description, "certificate": event.certificate},
    )


async def on_force_majeure_ended(conn: AsyncConnection, event: ForceMajeureEnded, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE force_majeure_notices SET ended_on = :ended WHERE notice_id = :id"),
                       {"id": event.notice_id, "ended": event.ended_on})


async def on_survey_answered(conn: AsyncConnection, event: SurveyAnswered, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO survey_answers (survey_id, contract_id, half, answered_on, scores, comment)
            VALUES (:id, :contract, :half, :on, :scores, :comment)
        """),
        {"id": event.survey_id, "contract": event.contract_id, "half": event.half,
         "on": event.answered_on, "scores": json.dumps(event.scores), "comment": event.comment},
    )


class ClaimsProjector(Projector):
    async def rebuild(self, conn: AsyncConnection, store, progress=None, recorded_until=None) -> int:
        """As every projector, then the counterparties and the free texts opened once with the keys held now
        (no lock: the rebuild holds the tables, and a key arriving meanwhile waits for it and refreshes what it
        finds)."""
        token = _REBUILDING.set(True)
        try:
            applied = await super().rebuild(conn, store, progress, recorded_until)
        finally:
            _REBUILDING.reset(token)
        await refresh_counterparties(conn, None, lock=False)
        await refresh_texts(conn, None, lock=False)
        return applied


# personal_data_keys is not a read model: a rebuild must never empty it
projector = ClaimsProjector(registry, tables=["counterparties", "claims", "force_majeure_notices", "survey_answers",
                                        "consents", "personal_data_requests", "personal_data_export_parts"],
                      handlers={
    CounterpartyRegistered.event_type: on_counterparty_registered,
    ContractTermsNoted.event_type: on_contract_terms_noted,
    ClaimRegistered.event_type: on_claim_registered,
    ClaimOverdue.event_type: on_claim_overdue,
    ClaimAccepted.event_type: on_claim_accepted,
    ClaimRejected.event_type: on_claim_rejected,
    ClaimReferredToCourt.event_type: on_claim_referred,
    ForceMajeureNotified.event_type: on_force_majeure,
    ForceMajeureEnded.event_type: on_force_majeure_ended,
    SurveyAnswered.event_type: on_survey_answered,
    CounterpartyRecorded.event_type: on_counterparty_recorded,
    CounterpartyContactsCorrected.event_type: on_contacts_corrected,
    ContractEnded.event_type: on_contract_ended,
    ConsentRecorded.event_type: on_consent,
    PersonalDataRequested.event_type: on_request,
    PersonalDataDeletionRefused.event_type: on_deletion_refused,
    PersonalDataDeletionApproved.event_type: on_deletion_decided,
    PersonalDataDeletionDeclined.event_type: on_deletion_decided,
    PersonalDataShredded.event_type: on_shredded,
    PersonalDataExportRequested.event_type: on_export_requested,
    PersonalDataExportPartReceived.event_type: on_export_part,
    PersonalDataRequestAnswered.event_type: on_request_answered,
    PersonalDataRequestOverdue.event_type: on_request_overdue,
})
