"""The claims desk's read models as its routes and its application read them: the view models its API
answers with, and every query of its tables (the projection writes them, `projection.py`).

The counterparties' fields, the claims' texts and the requests' details are opened in their columns
(`projection.refresh_counterparties`, `sealed_texts.py`): read with plain SQL, never their sealed blobs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.claims.domain import personal_data, surveys
from services.claims.events import ForceMajeureNotified, PersonalDataRequestKind
from services.claims.settings import desk_settings
from shared.calendar import day_start, to_zone
from shared.errors import NotFound
from shared.events.claims import ClaimSubject, GrantedCorrection
from shared.events.sealing import SealedFields
from shared.money import Money
from shared.paging import Keyset, PageRequest, read_page

# ---- counterparties ------------------------------------------------------------------------------------


class CounterpartyView(BaseModel):
    """The counterparty opened with the contract's key: "[shredded]" once its personal data are deleted, and
    null while the key has not reached the desk."""

    contract_id: str
    contract_number: str
    name: str | None
    bin: str | None
    foreign_registration: str | None
    email: str | None
    address: str | None
    registered_at: datetime


COUNTERPARTY_COLUMNS = "contract_id, contract_number, name, bin, foreign_registration, email, address, registered_at"
BY_NUMBER = Keyset((("contract_number", "text"), ("contract_id", "text")), ("contract_number", "contract_id"))


async def counterparties(conn: AsyncConnection, page: PageRequest) -> tuple[list[CounterpartyView], str | None]:
    """A page of the counterparties by contract number."""
    rows, next_cursor = await read_page(conn, f"SELECT {COUNTERPARTY_COLUMNS} FROM counterparties WHERE {{after}}",
                                        {}, BY_NUMBER, page)
    return [CounterpartyView(**row) for row in rows], next_cursor


async def counterparty(conn: AsyncConnection, contract_id: str) -> CounterpartyView | None:
    row = (await conn.execute(text(f"SELECT {COUNTERPARTY_COLUMNS} FROM counterparties WHERE contract_id = :id"),
                              {"id": contract_id})).mappings().first()
    return CounterpartyView(**row) if row is not None else None


@dataclass(frozen=True)
class DeskContract:
    """A signed contract as the desk knows it from `ContractSigned`: what its commands decide by."""

    contract_id: str
    contract_number: str
    zone: str                    # the zone its deadlines are counted in
    currency: str
    service_type: str
    ended_on: date | None


async def contract_of(conn: AsyncConnection, contract_id: str) -> DeskContract:
    """The contract a command names; an unknown one is bad input (422)."""
    row = (await conn.execute(text(
        "SELECT contract_id, contract_number, deadline_time_zone, currency, service_type, ended_on"
        " FROM counterparties WHERE contract_id = :id"), {"id": contract_id})).first()
    if row is None or row.deadline_time_zone is None:
        raise NotFound(f"no signed contract {contract_id} is known here", reason="unknown_contract",
                               details={"contract_id": contract_id})
    return DeskContract(row.contract_id, row.contract_number, row.deadline_time_zone, row.currency,
                        row.service_type, row.ended_on)


@dataclass(frozen=True)
class HeldCounterparty:
    """What a correction of contacts finds of its counterparty (None: the desk never knew the contract)."""

    zone: str | None
    shredded: bool               # by the desk's own decision or by the key's tombstone


async def held_counterparty(conn: AsyncConnection, contract_id: str) -> HeldCounterparty | None:
    row = (await conn.execute(text("SELECT c.deadline_time_zone, c.shredded_on, k.shredded_at"
                                   " FROM counterparties c LEFT JOIN personal_data_keys k USING (contract_id)"
                                   " WHERE c.contract_id = :id"), {"id": contract_id})).first()
    if row is None:
        return None
    return HeldCounterparty(row.deadline_time_zone, row.shredded_on is not None or row.shredded_at is not None)


async def contracts_of_counterparty(conn: AsyncConnection, contract_id: str) -> list[str]:
    """Every contract of the requester: one counterparty may hold several (same BIN or registration)."""
    rows = await conn.execute(text("""
        SELECT other.contract_id FROM counterparties own JOIN counterparties other
            ON other.contract_id = own.contract_id OR other.bin = own.bin
            OR other.foreign_registration = own.foreign_registration
        WHERE own.contract_id = :id ORDER BY other.contract_id
    """), {"id": contract_id})
    return list(rows.scalars())


async def held_contracts(conn: AsyncConnection, contract_id: str) -> list[personal_data.HeldContract]:
    """Every contract of the counterparty, as a deletion is judged over them."""
    held = (await conn.execute(text(
        "SELECT contract_id, ended_on, delivery_end, deadline_time_zone FROM counterparties"
        " WHERE contract_id = ANY(:ids)"), {"ids": await contracts_of_counterparty(conn, contract_id)})
    ).mappings().all()
    return [personal_data.HeldContract(
        contract_id=row["contract_id"], ended=row["ended_on"] is not None,
        ends_on=row["ended_on"] or to_zone(row["delivery_end"], row["deadline_time_zone"]).date()) for row in held]


# ---- claims --------------------------------------------------------------------------------------------


class ClaimView(BaseModel):
    """A claim in the desk's queue; its texts opened (null while no key has reached the desk, "[shredded]"
    once the counterparty's data are deleted)."""

    claim_id: str
    contract_id: str
    contract_number: str
    subject: ClaimSubject
    description: str | None
    received_at: datetime
    received_on: date
    zone: str
    answer_due: date
    disputed_amount: Money | None
    disputed_volume_kwh: Decimal | None
    disputed_event_id: uuid.UUID | None
    disputed_document: str | None
    status: Literal["open", "accepted", "rejected", "referred_to_court"]
    overdue: bool
    answered_on: date | None
    answered_in_time: bool | None
    fully: bool | None
    correction: GrantedCorrection | None
    reasons: list[str] | None
    comment: str | None
    referred_on: date | None
    court: str | None
    case_number: str | None


def _claim_view(row: dict[str, Any]) -> ClaimView:
    view = dict(row)
    view.pop("sealed")   # the texts are shown opened (`sealed_texts.py`), never as ciphertext
    amount, currency = view.pop("disputed_amount"), view.pop("currency")
    view["disputed_amount"] = Money(amount, currency) if amount is not None else None
    for name in ("correction", "reasons"):
        if isinstance(view[name], str):
            view[name] = json.loads(view[name])
    return ClaimView(**view)


CLAIM_QUEUE = Keyset((("answer_due", "date"), ("received_at", "timestamptz"), ("claim_id", "text")),
                     ("answer_due", "received_at", "claim_id"))


async def claim_queue(conn: AsyncConnection, page: PageRequest, *, status: str | None, contract_id: str | None
                      ) -> tuple[list[ClaimView], str | None]:
    """By answer deadline, the oldest receipt first on the same day."""
    rows, next_cursor = await read_page(conn, (
        "SELECT * FROM claims WHERE (CAST(:s AS text) IS NULL OR status = :s)"
        " AND (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}"),
        {"s": status, "c": contract_id}, CLAIM_QUEUE, page)
    return [_claim_view(row) for row in rows], next_cursor


async def claim(conn: AsyncConnection, claim_id: str) -> ClaimView | None:
    row = (await conn.execute(text("SELECT * FROM claims WHERE claim_id = :id"), {"id": claim_id})).mappings().first()
    return _claim_view(dict(row)) if row is not None else None


@dataclass(frozen=True)
class Due:
    """A claim or request still unanswered after its last day, and the zone its day ends in."""

    key: str                     # the claim's or the request's id
    contract_id: str
    zone: str


async def claims_due(conn: AsyncConnection, day: date) -> list[Due]:
    rows = await conn.execute(text(
        "SELECT claim_id, contract_id, zone FROM claims WHERE status = 'open' AND NOT overdue"
        " AND answer_due <= :day ORDER BY answer_due, received_at"), {"day": day})
    return [Due(*row) for row in rows]


async def requests_due(conn: AsyncConnection, day: date) -> list[Due]:
    rows = await conn.execute(text(
        "SELECT r.request_id, r.contract_id, c.deadline_time_zone FROM personal_data_requests r"
        " JOIN counterparties c USING (contract_id)"
        " WHERE r.outcome IS NULL AND NOT r.overdue AND r.answer_due <= :day"
        " ORDER BY r.answer_due, r.request_id"), {"day": day})
    return [Due(*row) for row in rows]


# ---- force majeure -------------------------------------------------------------------------------------


BY_REVIEW = Keyset((("review_on", "date"), ("notice_id", "text")), ("review_on", "notice_id"))


async def force_majeure_notices(conn: AsyncConnection, page: PageRequest, *, contract_id: str | None
                                ) -> tuple[list[ForceMajeureNotified], str | None]:
    """The notices by review date, each as it was notified (with its §8.2 deadline and §8.5 review date)."""
    rows, next_cursor = await read_page(conn, (
        f"SELECT {', '.join(ForceMajeureNotified.model_fields)} FROM force_majeure_notices"
        " WHERE (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}"), {"c": contract_id}, BY_REVIEW, page)
    return [ForceMajeureNotified(**row) for row in rows], next_cursor


class ForceMajeureReview(BaseModel):
    """§8.5 a force-majeure event lasting over 3 months: the parties are to decide what follows."""

    notice_id: str
    contract_id: str
    party: Literal["seller", "buyer"]
    started_on: date
    review_on: date
    notified_in_time: bool = Field(description="§8.3 false: the party may not rely on force majeure")
    ended_on: date | None = Field(description="when the circumstances ended, after the review date; null: lasting")


async def force_majeure_reviews_due(conn: AsyncConnection, page: PageRequest, *, on: date
                                    ) -> tuple[list[ForceMajeureReview], str | None]:
    """The notices whose §8.5 review is due on `on`, by review date (the rule: `force_majeure.review_due`,
    here as the SQL that pages it)."""
    rows, next_cursor = await read_page(conn, (
        f"SELECT {', '.join(ForceMajeureReview.model_fields)} FROM force_majeure_notices"
        " WHERE review_on <= :on AND (ended_on IS NULL OR ended_on > review_on) AND {after}"), {"on": on},
        BY_REVIEW, page)
    return [ForceMajeureReview(**row) for row in rows], next_cursor


# ---- surveys -------------------------------------------------------------------------------------------

# one customer may hold several contracts: it is known by its BIN, else its foreign registration; a
# shredded counterparty has neither left, and each of its contracts counts apart (never all shredded
# customers as one)
CUSTOMER = "coalesce(bin, foreign_registration, 'contract ' || contract_id)"


async def opted_out_of_surveys(conn: AsyncConnection, contract_id: str) -> bool:
    """An opt-out recorded on any contract of the customer stands for the customer (the refusal is the
    person's, not the contract's), until withdrawn on that contract."""
    ids = await contracts_of_counterparty(conn, contract_id)
    return bool(await conn.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM consents WHERE contract_id = ANY(:ids) AND purpose = :purpose AND NOT given)"),
        {"ids": ids, "purpose": surveys.SURVEY_PURPOSE}))


async def _customers_in_force(conn: AsyncConnection, half: str) -> list[Row[Any]]:
    """(customer, contract_id) of the system-service contracts in force on any day of the half."""
    first, last = surveys.half_bounds(half)
    return list((await conn.execute(text(
        f"SELECT {CUSTOMER} AS customer, contract_id FROM counterparties WHERE service_type = ANY(:services)"
        " AND delivery_start < :after AND delivery_end > :first ORDER BY contract_id"),
        {"services": sorted(surveys.system_services()), "first": day_start(first, "UTC"),
         "after": day_start(last + timedelta(days=1), "UTC")})).all())


async def _answers(conn: AsyncConnection, halves: list[str]) -> list[surveys.Response]:
    # the answer names only its contract: the customer is the contract's counterparty
    rows = (await conn.execute(text(
        f"SELECT {CUSTOMER} AS customer, answered_on, scores FROM survey_answers JOIN counterparties"
        " USING (contract_id) WHERE half = ANY(:halves)"), {"halves": halves})).all()
    return [surveys.Response(r.customer, r.answered_on, json.loads(r.scores) if isinstance(r.scores, str)
                             else r.scores) for r in rows]


async def _opted_out_of_surveys(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(text(
        f"SELECT DISTINCT {CUSTOMER} FROM counterparties JOIN consents USING (contract_id)"
        " WHERE purpose = :purpose AND NOT given"), {"purpose": surveys.SURVEY_PURPOSE})).scalars())


async def satisfaction(conn: AsyncConnection, half: str) -> tuple[surveys.SatisfactionReport, list[str]]:
    """The half's report and the contracts of the customers it names as due (what a read of it logs)."""
    in_force = await _customers_in_force(conn, half)
    report = surveys.satisfaction_report(half=half, customers={r.customer for r in in_force},
                                         responses=await _answers(conn, [half]),
                                         opted_out=await _opted_out_of_surveys(conn),
                                         satisfied_from=desk_settings().survey_satisfied_from)
    due = set(report.customers_due)
    return report, [r.contract_id for r in in_force if r.customer in due]


async def annual_satisfaction(conn: AsyncConnection, year: int
                              ) -> tuple[surveys.AnnualSatisfactionReport, list[str]]:
    """The year's report and the contracts of the customers it, or one of its halves, names as due."""
    surveys.year_bounds(year)
    halves = [f"{year}H1", f"{year}H2"]
    in_force = {half: await _customers_in_force(conn, half) for half in halves}
    report = surveys.annual_satisfaction_report(
        year=year, customers_by_half={h: {r.customer for r in rows} for h, rows in in_force.items()},
        responses=await _answers(conn, halves), opted_out=await _opted_out_of_surveys(conn),
        satisfied_from=desk_settings().survey_satisfied_from)
    due = set(report.customers_due).union(*(half.customers_due for half in report.halves))
    return report, sorted({r.contract_id for rows in in_force.values() for r in rows if r.customer in due})


# ---- personal-data requests ----------------------------------------------------------------------------


class PersonalDataRequestView(BaseModel):
    """A personal-data request with its details (the requester's own words, opened) and where it stands."""

    request_id: str
    contract_id: str
    kind: PersonalDataRequestKind
    received_on: date
    answer_due: date
    details: str | None
    outcome: str | None
    earliest_on: date | None
    contract_ids: list[str] | None
    answered_on: date | None
    answered_in_time: bool | None
    overdue: bool


BY_ANSWER_DUE = Keyset((("answer_due", "date"), ("request_id", "text")), ("answer_due", "request_id"))


async def personal_data_requests(conn: AsyncConnection, page: PageRequest
                                 ) -> tuple[list[PersonalDataRequestView], str | None]:
    rows, next_cursor = await read_page(conn, "SELECT * FROM personal_data_requests WHERE {after}", {},
                                        BY_ANSWER_DUE, page)
    # the details opened (`sealed_texts.py`), not their sealed blob
    return [PersonalDataRequestView(**{name: value for name, value in row.items() if name != "sealed"})
            for row in rows], next_cursor


@dataclass(frozen=True)
class RequestState:
    kind: str
    outcome: str | None


async def request_state(conn: AsyncConnection, request_id: str, *, lock: bool = False) -> RequestState | None:
    """A request's kind and outcome; `lock`: its row held until the transaction ends."""
    row = (await conn.execute(text("SELECT kind, outcome FROM personal_data_requests WHERE request_id = :r"
                                   + (" FOR UPDATE" if lock else "")), {"r": request_id})).first()
    return RequestState(row.kind, row.outcome) if row is not None else None


# the request's own event: its envelope names the officer who recorded it (requests are few: the type's index)
_REQUEST_ENVELOPE = text("""
    SELECT envelope FROM (SELECT convert_from(body, 'UTF8')::jsonb AS envelope FROM event_store
                          WHERE event_type = :type) requests
    WHERE envelope #>> '{payload,request_id}' = :r
""")


async def request_envelope(conn: AsyncConnection, event_type: str, request_id: str) -> dict[str, Any]:
    """The stored envelope (as JSON) of the request's event of `event_type`."""
    return await conn.scalar(_REQUEST_ENVELOPE, {"type": event_type, "r": request_id})


# ---- access and portability ----------------------------------------------------------------------------

# the desk's own part of an export: every table of it, by the counterparty's contracts
OWN_PART = {
    "counterparties": "SELECT contract_id, contract_number, name, bin, foreign_registration, email, address,"
                      " registered_at, ended_on, shredded_on FROM counterparties WHERE contract_id = ANY(:ids)"
                      " ORDER BY contract_number",
    "consents": "SELECT * FROM consents WHERE contract_id = ANY(:ids) ORDER BY contract_id, purpose",
    "personal_data_requests": "SELECT request_id, contract_id, kind, received_on, answer_due, details, outcome,"
                              " earliest_on, answered_on FROM personal_data_requests WHERE contract_id = ANY(:ids)"
                              " ORDER BY received_on, request_id",
    # the texts as the desk reads them (opened), not their sealed blobs
    "claims": "SELECT claim_id, contract_id, contract_number, subject, description, received_at, received_on, zone,"
              " answer_due, disputed_amount, currency, disputed_volume_kwh, disputed_event_id, disputed_document,"
              " status, overdue, answered_on, answered_in_time, fully, correction, reasons, comment, referred_on,"
              " court, case_number FROM claims WHERE contract_id = ANY(:ids) ORDER BY received_at, claim_id",
    "force_majeure_notices": "SELECT * FROM force_majeure_notices WHERE contract_id = ANY(:ids)"
                             " ORDER BY notified_on, notice_id",
    "survey_answers": "SELECT * FROM survey_answers WHERE contract_id = ANY(:ids) ORDER BY answered_on, survey_id",
}


async def export_parts(conn: AsyncConnection, request_id: str) -> dict[str, SealedFields]:
    """The parts of an export by service, as the desk keeps them: sealed with the counterparty's key."""
    rows = await conn.execute(text("SELECT service, nonce, ciphertext FROM personal_data_export_parts"
                                   " WHERE request_id = :id"), {"id": request_id})
    return {service: SealedFields(nonce=nonce, ciphertext=ciphertext) for service, nonce, ciphertext in rows}
