"""Read models of the claims desk: counterparties, claims by deadline, force-majeure notices."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.claims import personal_keys
from shared.events import registry
from shared.events.claims import (
    ClaimAccepted,
    ClaimOverdue,
    ClaimReferredToCourt,
    ClaimRegistered,
    ClaimRejected,
    ConsentRecorded,
    ContractEnded,
    ContractTermsNoted,
    CounterpartyContactsCorrected,
    CounterpartyRecorded,
    CounterpartyRegistered,
    ForceMajeureNotified,
    PersonalDataDeletionRefused,
    PersonalDataExportPartReceived,
    PersonalDataExportRequested,
    PersonalDataRequestAnswered,
    PersonalDataRequested,
    PersonalDataRequestOverdue,
    PersonalDataShredded,
    SurveyAnswered,
)
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


async def on_counterparty_recorded(conn: AsyncConnection, event: CounterpartyRecorded, stored: StoredEvent) -> None:
    """Opened with the counterparty's key; once the key is deleted a rebuild finds only the placeholder."""
    key = await personal_keys.key_of(conn, event.contract_id)
    fields = personal_keys.unseal(key, event.contract_id, event.personal) or {
        "name": personal_keys.SHREDDED, "address": personal_keys.SHREDDED}
    await on_counterparty_registered(conn, CounterpartyRegistered(
        contract_id=event.contract_id, contract_number=event.contract_number, name=fields["name"],
        bin=fields.get("bin"), foreign_registration=fields.get("foreign_registration"), email=fields.get("email"),
        address=fields["address"]), stored)


async def on_contacts_corrected(conn: AsyncConnection, event: CounterpartyContactsCorrected,
                                stored: StoredEvent) -> None:
    fields = personal_keys.unseal(await personal_keys.key_of(conn, event.contract_id), event.contract_id,
                                  event.personal)
    if fields is None:
        return   # shredded: the row already says so
    await conn.execute(text("UPDATE counterparties SET email = :email, address = :address WHERE contract_id = :id"),
                       {"id": event.contract_id, "email": fields.get("email"), "address": fields["address"]})


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
        INSERT INTO personal_data_requests (request_id, contract_id, kind, received_on, answer_due, details)
        VALUES (:id, :contract, :kind, :received, :due, :details)
    """), {"id": event.request_id, "contract": event.contract_id, "kind": event.kind, "received": event.received_on,
           "due": event.answer_due, "details": event.details})


async def on_deletion_refused(conn: AsyncConnection, event: PersonalDataDeletionRefused, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET outcome = :reason, earliest_on = :on"
                            " WHERE request_id = :id"),
                       {"id": event.request_id, "reason": f"refused: {event.reason}", "on": event.earliest_on})


async def on_shredded(conn: AsyncConnection, event: PersonalDataShredded, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE personal_data_requests SET outcome = 'shredded' WHERE request_id = :id"),
                       {"id": event.request_id})
    await conn.execute(text("""
        UPDATE counterparties SET name = :mark, address = :mark, bin = NULL, foreign_registration = NULL,
            email = NULL, shredded_on = :on
        WHERE contract_id = :id
    """), {"id": event.contract_id, "mark": personal_keys.SHREDDED, "on": event.shredded_on})


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
            INSERT INTO claims (claim_id, contract_id, contract_number, subject, description, received_at,
                received_on, zone, answer_due, disputed_amount, currency, disputed_volume_kwh, disputed_event_id,
                disputed_document, status)
            VALUES (:id, :contract, :number, :subject, :description, :received_at, :received_on, :zone, :due,
                :amount, :currency, :volume, :event_id, :document, 'open')
        """),
        {"id": event.claim_id, "contract": event.contract_id, "number": event.contract_number,
         "subject": event.subject, "description": event.description, "received_at": event.received_at,
         "received_on": event.received_on, "zone": event.zone, "due": event.answer_due,
         "amount": amount.amount if amount else None, "currency": amount.currency if amount else None,
         "volume": event.disputed_volume_kwh, "event_id": event.disputed_event_id,
         "document": event.disputed_document},
    )


async def _update_claim(conn: AsyncConnection, claim_id: str, **columns) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    await conn.execute(text(f"UPDATE claims SET {assignments} WHERE claim_id = :claim_id"),
                       {"claim_id": claim_id, **columns})


async def on_claim_overdue(conn: AsyncConnection, event: ClaimOverdue, stored: StoredEvent) -> None:
    await _update_claim(conn, event.claim_id, overdue=True)


async def on_claim_accepted(conn: AsyncConnection, event: ClaimAccepted, stored: StoredEvent) -> None:
    correction = json.dumps(event.correction.model_dump(mode="json")) if event.correction else None
    await _update_claim(conn, event.claim_id, status="accepted", answered_on=event.answered_on,
                        answered_in_time=event.answered_in_time, fully=event.fully, correction=correction,
                        comment=event.comment or None)


async def on_claim_rejected(conn: AsyncConnection, event: ClaimRejected, stored: StoredEvent) -> None:
    await _update_claim(conn, event.claim_id, status="rejected", answered_on=event.answered_on,
                        answered_in_time=event.answered_in_time, reasons=json.dumps(event.reasons))


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


async def on_survey_answered(conn: AsyncConnection, event: SurveyAnswered, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO survey_answers (survey_id, contract_id, half, answered_on, scores, comment)
            VALUES (:id, :contract, :half, :on, :scores, :comment)
        """),
        {"id": event.survey_id, "contract": event.contract_id, "half": event.half,
         "on": event.answered_on, "scores": json.dumps(event.scores), "comment": event.comment},
    )


# personal_data_keys is not a read model: a rebuild must never empty it
projector = Projector(registry, tables=["counterparties", "claims", "force_majeure_notices", "survey_answers",
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
    SurveyAnswered.event_type: on_survey_answered,
    CounterpartyRecorded.event_type: on_counterparty_recorded,
    CounterpartyContactsCorrected.event_type: on_contacts_corrected,
    ContractEnded.event_type: on_contract_ended,
    ConsentRecorded.event_type: on_consent,
    PersonalDataRequested.event_type: on_request,
    PersonalDataDeletionRefused.event_type: on_deletion_refused,
    PersonalDataShredded.event_type: on_shredded,
    PersonalDataExportRequested.event_type: on_export_requested,
    PersonalDataExportPartReceived.event_type: on_export_part,
    PersonalDataRequestAnswered.event_type: on_request_answered,
    PersonalDataRequestOverdue.event_type: on_request_overdue,
})
