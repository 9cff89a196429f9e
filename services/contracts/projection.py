"""Read models of the contracts service, rebuilt from its events: contracts with their lifecycle and
amendments, the day-by-day application schedule, and what the ledger last said of each contract.

The events carry the buyer sealed; the `contracts` row holds it opened with the contract's key (the key
is always here before the first event: it is created in the registration's transaction). Once the key is
deleted, `BuyerPersonalDataShredded` blanks the row, and a rebuild, finding no key, writes the same
placeholder from the start, so the live table and a rebuilt one agree (`ledger verify`)."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.events import (
    BuyerPersonalDataShredded,
    ContractRegistered,
    FreeVolumeDeclared,
    SupplyConditionsNoted,
    TerminationNoticed,
    TerminationNoticeLifted,
)
from shared import personal_keys
from shared.events import registry
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationReduced,
    ApplicationReinstated,
    ApplicationRejected,
    ContractAmended,
    ContractSettled,
    ContractSigned,
    ContractTerminated,
    NoApplicationRecorded,
    PartyContactsCorrected,
    SealedContractTerms,
)
from shared.events.sealing import SHREDDED, shredded_party
from shared.eventstore import StoredEvent
from shared.projector import Projector


async def _opened_terms(conn: AsyncConnection, contract_id: str, terms: SealedContractTerms) -> dict:
    """The terms as JSON with the buyer opened, or the shredded placeholder once its key is gone."""
    buyer = personal_keys.unseal(await personal_keys.key_of(conn, contract_id), contract_id, terms.buyer)
    return {**terms.model_dump(mode="json"), "buyer": buyer if buyer is not None else shredded_party()}


async def on_registered(conn: AsyncConnection, event: ContractRegistered, stored: StoredEvent) -> None:
    terms = event.terms
    opened = await _opened_terms(conn, event.contract_id, terms)
    await conn.execute(
        text("""
            INSERT INTO contracts (contract_id, number, status, seller_name, buyer_name, service_type,
                counterparty_category, currency, delivery_start, delivery_end, terms, version, registered_at)
            VALUES (:id, :number, 'draft', :seller, :buyer, :service_type, :category, :currency, :start, :end,
                CAST(:terms AS jsonb), :version, :at)
        """),
        {"id": event.contract_id, "number": terms.number, "seller": terms.seller.name,
         "buyer": opened["buyer"]["name"], "service_type": terms.service_type, "category": terms.counterparty_category,
         "currency": terms.currency, "start": terms.delivery_start, "end": terms.delivery_end,
         "terms": json.dumps(opened), "version": stored.envelope.stream_version,
         "at": stored.envelope.recorded_at},
    )


async def _update_contract(conn: AsyncConnection, stored: StoredEvent, assignments: str, values: dict) -> None:
    result = await conn.execute(
        text(f"UPDATE contracts SET {assignments}{', ' if assignments else ''}version = :v WHERE contract_id = :id"),
        {**values, "v": stored.envelope.stream_version, "id": stored.envelope.contract_id})
    assert result.rowcount == 1, "every contract event follows its registration"


async def on_signed(conn: AsyncConnection, event: ContractSigned, stored: StoredEvent) -> None:
    await _update_contract(conn, stored, "status = 'signed', signed_at = :at", {"at": event.signed_at})
    # the row exists before the ledger says anything (as_of NULL: nothing said yet), so an application
    # always has a row to lock against a concurrent restriction (`queries.supply_conditions_for_application`)
    await conn.execute(text("INSERT INTO supply_conditions (contract_id) VALUES (:id) ON CONFLICT DO NOTHING"),
                       {"id": event.contract_id})


async def on_amended(conn: AsyncConnection, event: ContractAmended, stored: StoredEvent) -> None:
    opened = await _opened_terms(conn, event.contract_id, event.terms)
    await _update_contract(conn, stored, "terms = CAST(:terms AS jsonb), buyer_name = :buyer, delivery_end = :end, "
                                         "amendments = amendments + 1",
                           {"terms": json.dumps(opened), "buyer": opened["buyer"]["name"],
                            "end": event.terms.delivery_end})
    await conn.execute(
        text("INSERT INTO amendments VALUES (:id, :doc, :kind, :date, :from, :summary)"),
        {"id": event.contract_id, "doc": event.document_number, "kind": event.kind, "date": event.document_date,
         "from": event.effective_from, "summary": event.summary})


async def on_contacts_corrected(conn: AsyncConnection, event: PartyContactsCorrected, stored: StoredEvent) -> None:
    contacts = personal_keys.unseal(await personal_keys.key_of(conn, event.contract_id), event.contract_id,
                                    event.contacts)
    if contacts is None:
        # the key is gone: the row already holds the placeholder; only the version moves
        await _update_contract(conn, stored, "", {})
        return
    await _update_contract(conn, stored, "terms = jsonb_set(jsonb_set(terms, '{buyer,email}',"
                                         " COALESCE(to_jsonb(CAST(:email AS text)), 'null'::jsonb)),"
                                         " '{buyer,address}', to_jsonb(CAST(:address AS text)))",
                           {"email": contacts["email"], "address": contacts["address"]})


async def on_buyer_shredded(conn: AsyncConnection, event: BuyerPersonalDataShredded, stored: StoredEvent) -> None:
    await _update_contract(conn, stored, "buyer_name = :name, terms = jsonb_set(terms, '{buyer}', CAST(:buyer AS jsonb))",
                           {"name": SHREDDED, "buyer": json.dumps(shredded_party())})


async def on_noticed(conn: AsyncConnection, event: TerminationNoticed, stored: StoredEvent) -> None:
    await _update_contract(conn, stored, "notice_kind = :kind, notice_document = :doc, notice_effective_on = :on",
                           {"kind": event.kind, "doc": event.notice_document, "on": event.effective_on})


async def on_notice_lifted(conn: AsyncConnection, event: TerminationNoticeLifted, stored: StoredEvent) -> None:
    await _update_contract(conn, stored, "notice_kind = NULL, notice_document = NULL, notice_effective_on = NULL", {})


async def on_terminated(conn: AsyncConnection, event: ContractTerminated, stored: StoredEvent) -> None:
    await _update_contract(conn, stored, "status = 'terminated', ended_on = :on", {"on": event.terminated_on})


async def on_settled(conn: AsyncConnection, event: ContractSettled, stored: StoredEvent) -> None:
    await _update_contract(conn, stored, "status = 'settled', ended_on = :on", {"on": event.settled_on})


# held_kwh: what the day was agreed for out of the month's plan (§4.1); a restriction's cut leaves it (§7.1.1:
# volumes not delivered because of a restriction are not under-delivery, so the month does not give them again)
UPSERT_DAY = """
    INSERT INTO applications (contract_id, day, application_id, status, submitted_at, requested_kwh, accepted_kwh,
                              hours, reasons, held_kwh)
    VALUES (:contract_id, :day, :application_id, :status, :submitted_at, :requested, :accepted,
            CAST(:hours AS numeric[]), CAST(:reasons AS text[]), :accepted)
    ON CONFLICT (contract_id, day) DO UPDATE SET
        application_id = EXCLUDED.application_id, status = EXCLUDED.status, submitted_at = EXCLUDED.submitted_at,
        requested_kwh = EXCLUDED.requested_kwh, accepted_kwh = EXCLUDED.accepted_kwh, hours = EXCLUDED.hours,
        reasons = EXCLUDED.reasons, held_kwh = EXCLUDED.held_kwh, corrections = 0
"""


async def on_accepted(conn: AsyncConnection, event: ApplicationAccepted, stored: StoredEvent) -> None:
    await conn.execute(text(UPSERT_DAY), {
        "contract_id": event.contract_id, "day": event.day, "application_id": event.application_id,
        "status": "accepted", "submitted_at": event.submitted_at, "requested": event.requested_kwh,
        "accepted": event.accepted_kwh, "hours": [str(h) for h in event.hours], "reasons": event.reasons})


async def on_rejected(conn: AsyncConnection, event: ApplicationRejected, stored: StoredEvent) -> None:
    await conn.execute(text(UPSERT_DAY), {
        "contract_id": event.contract_id, "day": event.day, "application_id": event.application_id,
        "status": "rejected", "submitted_at": event.submitted_at, "requested": event.requested_kwh,
        "accepted": 0, "hours": [], "reasons": event.reasons})


async def _change_hours(conn: AsyncConnection, event: ApplicationCorrected | ApplicationReduced | ApplicationReinstated,
                        extra: str,
                        values: dict) -> None:
    result = await conn.execute(
        text(f"UPDATE applications SET hours = CAST(:hours AS numeric[]), accepted_kwh = :accepted, {extra} "
             "WHERE contract_id = :contract_id AND day = :day AND application_id = :application_id"),
        {"hours": [str(h) for h in event.hours], "accepted": event.accepted_kwh, "contract_id": event.contract_id,
         "day": event.day, "application_id": event.application_id, **values})
    assert result.rowcount == 1, "a correction or reduction follows an accepted application"


async def on_no_application(conn: AsyncConnection, event: NoApplicationRecorded, stored: StoredEvent) -> None:
    await conn.execute(text(UPSERT_DAY), {
        "contract_id": event.contract_id, "day": event.day, "application_id": None, "status": "no_application",
        "submitted_at": None, "requested": 0, "accepted": 0, "hours": [], "reasons": ["no_application"]})


async def on_corrected(conn: AsyncConnection, event: ApplicationCorrected, stored: StoredEvent) -> None:
    await _change_hours(conn, event, "corrections = corrections + 1, held_kwh = :accepted", {})


async def on_reduced(conn: AsyncConnection, event: ApplicationReduced, stored: StoredEvent) -> None:
    await _change_hours(conn, event, "reasons = array_append(reasons, :reason)", {"reason": event.reason})


async def on_reinstated(conn: AsyncConnection, event: ApplicationReinstated, stored: StoredEvent) -> None:
    await _change_hours(conn, event, "reasons = array_remove(reasons, :lifts), held_kwh = :accepted",
                        {"lifts": event.lifts})


async def on_free_volume(conn: AsyncConnection, event: FreeVolumeDeclared, stored: StoredEvent) -> None:
    await conn.execute(
        text("""INSERT INTO applications (contract_id, day, status, free_volume_kwh) VALUES (:id, :day, 'none', :v)
                ON CONFLICT (contract_id, day) DO UPDATE SET free_volume_kwh = EXCLUDED.free_volume_kwh"""),
        {"id": event.contract_id, "day": event.day, "v": event.volume_kwh})


async def on_supply_conditions(conn: AsyncConnection, event: SupplyConditionsNoted, stored: StoredEvent) -> None:
    await conn.execute(
        text("""INSERT INTO supply_conditions (contract_id, as_of, covered, restricted_from, notice_document,
                                               covered_share)
                VALUES (:id, :as_of, :covered, :restricted_from, :notice, :share)
                ON CONFLICT (contract_id) DO UPDATE SET as_of = EXCLUDED.as_of, covered = EXCLUDED.covered,
                    restricted_from = EXCLUDED.restricted_from, notice_document = EXCLUDED.notice_document,
                    covered_share = EXCLUDED.covered_share"""),
        {"id": event.contract_id, "as_of": event.as_of, "covered": event.covered,
         "restricted_from": event.restricted_from, "notice": event.notice_document, "share": event.covered_share})


# personal_data_keys is not a read model: a rebuild must never empty it
projector = Projector(
    registry,
    tables=["contracts", "amendments", "applications", "supply_conditions"],
    handlers={
        ContractRegistered.event_type: on_registered,
        ContractSigned.event_type: on_signed,
        ContractAmended.event_type: on_amended,
        TerminationNoticed.event_type: on_noticed,
        TerminationNoticeLifted.event_type: on_notice_lifted,
        PartyContactsCorrected.event_type: on_contacts_corrected,
        BuyerPersonalDataShredded.event_type: on_buyer_shredded,
        ContractTerminated.event_type: on_terminated,
        ContractSettled.event_type: on_settled,
        ApplicationAccepted.event_type: on_accepted,
        ApplicationRejected.event_type: on_rejected,
        NoApplicationRecorded.event_type: on_no_application,
        ApplicationCorrected.event_type: on_corrected,
        ApplicationReduced.event_type: on_reduced,
        ApplicationReinstated.event_type: on_reinstated,
        FreeVolumeDeclared.event_type: on_free_volume,
        SupplyConditionsNoted.event_type: on_supply_conditions,
    },
)
