"""The contracts service's read models as the routes and commands read them: the view models and every
query of the read models (`projection.py` writes them).

Besides the routes' reads, the few reads a command makes inside its own transaction live here too
(a number already taken, the days a restriction or a termination cuts, the supply conditions an
application is decided on), so that all SQL reading the read models is in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.domain import applications as rules
from services.contracts.domain.contract import ContractStatus
from services.contracts.reference import catalogue
from shared.calendar import day_start
from shared.errors import NotFound
from shared.events.contracts import ContractTerms
from shared.paging import Keyset, PageRequest, count_rows, read_page


# ---- contracts -------------------------------------------------------------------------------------------------
class ContractView(BaseModel):
    contract_id: str
    number: str
    status: str
    version: int
    signed_at: datetime | None
    notice_kind: str | None = None
    notice_effective_on: date | None = None
    ended_on: date | None = None
    amendments: int = 0
    lifecycle: str | None = Field(None, description="draft, signed, in_force, delivery_ended, terminated or "
                                                    "settled on `lifecycle_on` (single-contract reads only)")
    lifecycle_on: date | None = None
    terms: ContractTerms = Field(description="the terms in force, the buyer opened (the shredded placeholder once "
                                             "its personal data are deleted)")


_CONTRACT_FIELDS = ("contract_id", "number", "status", "version", "signed_at", "notice_kind", "notice_effective_on",
                    "ended_on", "amendments", "terms")
BY_NUMBER = Keyset((("number", "text"),), ("number",))   # numbers are unique


def _contract(row) -> ContractView:
    return ContractView(**{k: row[k] for k in _CONTRACT_FIELDS})


async def contract(conn: AsyncConnection, contract_id: str) -> ContractView:
    row = (await conn.execute(text("SELECT * FROM contracts WHERE contract_id = :id"),
                              {"id": contract_id})).mappings().first()
    if row is None:
        raise NotFound(f"contract {contract_id} is not registered", reason="contract_not_found")
    return _contract(row)


class ContractSort(StrEnum):
    NUMBER = "number"
    BUYER_NAME = "buyer_name"
    STATUS = "status"
    SIGNED_AT = "signed_at"


# lower-cased by Unicode's rules whatever the database's locale (a C locale folds ASCII only); the migration's
# indexes (0010) hold these very expressions, so a search and each sort read an index
_FOLDED_NAME = "lower(buyer_name COLLATE pg_c_utf8)"
_SIGNED_OR_NOT = "coalesce(signed_at, timestamptz '1900-01-01 00:00:00+00')"   # drafts first, then by signature
_SEARCH_TEXT = "lower((number || ' ' || coalesce(terms #>> '{buyer,bin}', '') || ' ' || buyer_name) COLLATE pg_c_utf8)"
_SORTS = {
    ContractSort.NUMBER: BY_NUMBER,
    ContractSort.BUYER_NAME: Keyset(((_FOLDED_NAME, "text"), ("number", "text")), ("sort_name", "number")),
    ContractSort.STATUS: Keyset((("status", "text"), ("number", "text")), ("status", "number")),
    ContractSort.SIGNED_AT: Keyset(((_SIGNED_OR_NOT, "timestamptz"), ("number", "text")), ("sort_signed_at", "number")),
}
# the contracts list's statement (`read_page` puts the keyset's condition at `{after}`)
SEARCH_SQL = (f"SELECT *, {_FOLDED_NAME} AS sort_name, {_SIGNED_OR_NOT} AS sort_signed_at FROM contracts"
             " WHERE (CAST(:number AS text) IS NULL OR number = :number)"
             " AND (CAST(:status AS text) IS NULL OR status = :status)"
             f" AND (CAST(:pattern AS text) IS NULL OR {_SEARCH_TEXT} LIKE lower(CAST(:pattern AS text) COLLATE pg_c_utf8))"
             " AND {after}")


@dataclass(frozen=True)
class ContractSearch:
    """Which contracts a list holds and in which order: `number` exactly, `text` anywhere in the number, the
    buyer's BIN or the buyer's name (any case), `status`; sorted by `sort`, `descending` or not."""

    number: str | None = None
    text: str | None = None
    status: ContractStatus | None = None
    sort: ContractSort = ContractSort.NUMBER
    descending: bool = False


def _like_pattern(fragment: str) -> str:
    """`fragment` anywhere: LIKE's own characters in it are taken literally."""
    return "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def contracts(conn: AsyncConnection, search: ContractSearch, page: PageRequest
                    ) -> tuple[list[ContractView], str | None, int]:
    """A page of the contracts `search` finds, in its order, the next cursor, and how many it finds in all."""
    keyset = _SORTS[search.sort]
    params = {"number": search.number, "status": search.status and search.status.value,
              "pattern": _like_pattern(search.text) if search.text else None}
    rows, next_cursor = await read_page(conn, SEARCH_SQL, params, keyset.reversed() if search.descending else keyset,
                                        page)
    return [_contract(r) for r in rows], next_cursor, await count_rows(conn, SEARCH_SQL, params)


async def is_known(conn: AsyncConnection, contract_id: str) -> bool:
    """True for a contract this service registered (a ledger's event may name another seller's)."""
    return bool(await conn.scalar(text("SELECT 1 FROM contracts WHERE contract_id = :id"), {"id": contract_id}))


async def registered_numbers(conn: AsyncConnection, numbers: list[str]) -> dict[str, str]:
    """number → contract id, of the numbers given that are registered already."""
    return dict((await conn.execute(text("SELECT number, contract_id FROM contracts WHERE number = ANY(:n)"),
                                    {"n": numbers})).all())


async def notices_run_out(conn: AsyncConnection, day: date) -> list[str]:
    """Signed contracts whose termination notice takes effect by `day`: the ones a day close ends."""
    return list((await conn.execute(text(
        "SELECT contract_id FROM contracts WHERE status = 'signed' AND notice_effective_on <= :day "
        "ORDER BY contract_id"), {"day": day})).scalars().all())


# ---- amendments ------------------------------------------------------------------------------------------------
class AmendmentView(BaseModel):
    document_number: str
    kind: str
    document_date: date
    effective_from: date
    summary: str


BY_EFFECT = Keyset((("effective_from", "date"), ("document_number", "text")), ("effective_from", "document_number"))


async def amendments(conn: AsyncConnection, contract_id: str, page: PageRequest
                     ) -> tuple[list[AmendmentView], str | None]:
    """A page of a registered contract's amendments by effective date (404 for an unknown contract)."""
    await contract(conn, contract_id)
    rows, next_cursor = await read_page(conn, "SELECT * FROM amendments WHERE contract_id = :id AND {after}",
                                        {"id": contract_id}, BY_EFFECT, page)
    return [AmendmentView(**{k: r[k] for k in AmendmentView.model_fields}) for r in rows], next_cursor


# ---- daily applications and the schedule -----------------------------------------------------------------------
class DayView(BaseModel):
    contract_id: str
    day: date
    application_id: str | None
    status: str
    submitted_at: datetime | None
    requested_kwh: Decimal
    accepted_kwh: Decimal
    hours: list[Decimal]
    reasons: list[str]
    free_volume_kwh: Decimal
    corrections: int


def day_view(day: rules.ApplicationDay) -> DayView:
    """A day as a command answers it, from its folded state: the read model says the same (the rebuild
    tests prove the projection), and a query would hold the event store's append lock longer."""
    kwh = rules.KWH
    return DayView(contract_id=day.contract_id, day=day.day, application_id=day.application_id, status=day.status,
                   submitted_at=day.submitted_at, requested_kwh=day.requested_kwh.quantize(kwh),
                   accepted_kwh=day.scheduled_kwh.quantize(kwh), hours=[h.quantize(kwh) for h in day.hours],
                   reasons=list(day.reasons), free_volume_kwh=day.free_volume_kwh.quantize(kwh),
                   corrections=day.corrections)


async def application_day(conn: AsyncConnection, contract_id: str, day: date) -> DayView:
    row = (await conn.execute(text("SELECT * FROM applications WHERE contract_id = :id AND day = :day"),
                              {"id": contract_id, "day": day})).mappings().first()
    if row is None:
        raise NotFound(f"no application of contract {contract_id} for {day}", reason="application_not_found")
    return DayView(**{k: row[k] for k in DayView.model_fields})


class ScheduleLine(BaseModel):
    contract_id: str
    number: str
    buyer: str
    status: str
    hours: list[Decimal]
    total_kwh: Decimal
    reasons: list[str]
    corrections: int = Field(description="operative corrections the day has had (§4.4); which hours they changed: "
                                         "the day's `ApplicationCorrected` events")


class Schedule(BaseModel):
    day: date
    contracts: list[ScheduleLine]
    not_scheduled: list[ScheduleLine]
    hours_total_kwh: list[Decimal]
    total_kwh: Decimal


async def schedule(conn: AsyncConnection, day: date) -> Schedule:
    """The seller's daily schedule (§5.3): every accepted hour with the totals; the days rejected, reduced to
    nothing or recorded as "no purchase" (§4.6) apart, with their reasons."""
    rows = (await conn.execute(text("""
        SELECT a.contract_id, c.number, c.buyer_name, a.status, a.hours, a.accepted_kwh, a.reasons, a.corrections
        FROM applications a JOIN contracts c USING (contract_id)
        WHERE a.day = :day AND a.status IN ('accepted', 'rejected', 'no_application') ORDER BY c.number
    """), {"day": day})).all()
    scheduled, apart = [], []
    hours_total = [Decimal(0)] * rules.HOURS
    for r in rows:
        line = ScheduleLine(contract_id=r.contract_id, number=r.number, buyer=r.buyer_name, status=r.status,
                            hours=list(r.hours), total_kwh=r.accepted_kwh, reasons=list(r.reasons),
                            corrections=r.corrections)
        if r.status == "accepted" and r.accepted_kwh > 0:
            scheduled.append(line)
            hours_total = [a + b for a, b in zip(hours_total, r.hours, strict=True)]
        else:
            apart.append(line)
    total = sum(hours_total, Decimal(0))
    assert total == sum((line.total_kwh for line in scheduled), Decimal(0)), "hour totals and line totals agree"
    return Schedule(day=day, contracts=scheduled, not_scheduled=apart, hours_total_kwh=hours_total, total_kwh=total)


async def days_accepted_from(conn: AsyncConnection, contract_id: str, first_day: date) -> list[date]:
    """Days from `first_day` on with supply scheduled: what a restriction cuts."""
    return list((await conn.execute(text(
        "SELECT day FROM applications WHERE contract_id = :id AND day >= :from AND status = 'accepted' "
        "AND accepted_kwh > 0 ORDER BY day"), {"id": contract_id, "from": first_day})).scalars().all())


async def days_restricted_after(conn: AsyncConnection, contract_id: str, day: date) -> list[date]:
    """Days after `day` that a restriction cut: what a restoration on `day` brings back."""
    return list((await conn.execute(text(
        "SELECT day FROM applications WHERE contract_id = :id AND day > :on AND 'supply_restricted' = ANY(reasons) "
        "ORDER BY day"), {"id": contract_id, "on": day})).scalars().all())


async def days_terminated(conn: AsyncConnection, contract_id: str) -> list[date]:
    """Days a notice to end the contract cut: what its withdrawal may bring back."""
    return list((await conn.execute(text(
        "SELECT day FROM applications WHERE contract_id = :id AND 'contract_terminated' = ANY(reasons) ORDER BY day"),
        {"id": contract_id})).scalars().all())


async def days_not_yet_terminated(conn: AsyncConnection, contract_id: str, first_day: date) -> list[date]:
    """Days from `first_day` on, accepted and not yet cut by a termination: what a termination cuts."""
    return list((await conn.execute(text(
        "SELECT day FROM applications WHERE contract_id = :id AND day >= :from AND status = 'accepted' "
        "AND NOT 'contract_terminated' = ANY(reasons) ORDER BY day"),
        {"id": contract_id, "from": first_day})).scalars().all())


# ---- what the ledger last said of a contract -------------------------------------------------------------------
class SupplyConditions(BaseModel):
    covered: bool | None = None
    restricted_from: date | None = None
    notice_document: str | None = None
    covered_share: Decimal | None = None


class ConditionsOfDay(NamedTuple):
    """What an application is decided on (§5.3): the ledger's coverage, a restriction in force on the day,
    and the share of the prepayment due that was paid."""

    covered: bool | None
    restricted: bool
    paid_share: Decimal | None


async def supply_conditions_for_application(conn: AsyncConnection, contract_id: str, day: date
                                            ) -> ConditionsOfDay:
    """(covered, restricted on `day`, paid share) as an application is decided on them, the row held FOR SHARE.

    FOR SHARE, in the command's transaction and before its append: a SupplyRestricted handled meanwhile
    takes this row FOR UPDATE before it appends and then cuts the accepted days it can see, so it either
    waits for this application to commit (and then cuts it too) or commits first (and this read sees the
    restriction). A plain read could see "not restricted" while the handler's cut misses the application
    not yet committed. The row exists from the signing on (the projection inserts it), so there is always
    something to lock; both lock the row before the event store, so no deadlock."""
    row = (await conn.execute(text("SELECT covered, restricted_from, covered_share FROM supply_conditions "
                                   "WHERE contract_id = :id FOR SHARE"), {"id": contract_id})).first()
    if row is None:
        # no row (only before migration 0003 backfilled it): the ledger has said nothing
        return ConditionsOfDay(None, False, None)
    return ConditionsOfDay(row.covered, row.restricted_from is not None and row.restricted_from <= day,
                           row.covered_share)


async def month_taken(conn: AsyncConnection, contract_id: str, day: date) -> Decimal:
    """§4.1 what the other days of `day`'s month were agreed for out of the month's plan: each day's agreed
    volume (`held_kwh`, kept through a restriction's cut: §7.1.1) less the free volume it had (§4.5, the
    seller's on top of the plan). Held under a transaction lock on the contract's month first, so two days
    of one month decided at once cannot both take what is left."""
    first = day.replace(day=1)
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('contracts.month-plan'), "
                            "hashtext(:id || :month))"), {"id": contract_id, "month": first.isoformat()})
    taken = await conn.scalar(text(
        "SELECT COALESCE(sum(GREATEST(held_kwh - free_volume_kwh, 0)), 0) FROM applications "
        "WHERE contract_id = :id AND day >= :first AND day < :next AND day <> :day"),
        {"id": contract_id, "first": first, "next": (first + timedelta(days=32)).replace(day=1), "day": day})
    return Decimal(taken)


async def days_without_application(conn: AsyncConnection, day: date) -> list[str]:
    """Signed contracts whose delivery term may hold `day` and whose `day` has no application decided (nor a
    "no purchase" recorded): the ones a day close may record as "no purchase" (§4.6). The term is matched
    a day wide on each side; the rule judges the day in the contract's own zone."""
    return list((await conn.execute(text("""
        SELECT c.contract_id FROM contracts c
        WHERE c.status = 'signed' AND c.delivery_start < :after AND c.delivery_end > :before
          AND (c.notice_effective_on IS NULL OR c.notice_effective_on > :day)
          AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.contract_id = c.contract_id AND a.day = :day
                          AND a.status <> 'none')
        ORDER BY c.contract_id
    """), {"day": day, "before": day_start(day - timedelta(days=1)), "after": day_start(day + timedelta(days=2))}
    )).scalars().all())


async def supply_conditions_for_update(conn: AsyncConnection, contract_id: str) -> SupplyConditions:
    """What the ledger last said, the row held FOR UPDATE before a new note is appended: an application being
    decided holds it FOR SHARE until it commits, so the days cut after the note include it
    (`supply_conditions_for_application`)."""
    row = (await conn.execute(
        text("SELECT covered, restricted_from, notice_document, covered_share FROM supply_conditions "
             "WHERE contract_id = :id FOR UPDATE"), {"id": contract_id})).mappings().first()
    return SupplyConditions(**row) if row else SupplyConditions()


# ---- reports and reference data --------------------------------------------------------------------------------
class PortfolioRow(BaseModel):
    code: str
    name: str
    contracts: int
    by_service_type: dict[str, int]


class Portfolio(BaseModel):
    year: int
    by_service: list[PortfolioRow]
    by_category: list[PortfolioRow]
    total: int


async def portfolio(conn: AsyncConnection, year: int) -> Portfolio:
    """Contracts in force at any time of `year` (an Astana calendar year): signed, delivery term overlapping
    the year, not ended before it began. The total is counted separately, so a row lost or counted twice
    shows as a difference."""
    in_force = """status <> 'draft' AND delivery_start < :end AND delivery_end > :start
                  AND (ended_on IS NULL OR ended_on >= CAST(:first AS date))"""
    values = {"start": day_start(date(year, 1, 1)), "end": day_start(date(year + 1, 1, 1)), "first": date(year, 1, 1)}
    counts = (await conn.execute(text(
        f"SELECT service_type, counterparty_category, count(*) AS n FROM contracts WHERE {in_force} "
        "GROUP BY 1, 2"), values)).all()
    total = int(await conn.scalar(text(f"SELECT count(*) FROM contracts WHERE {in_force}"), values))
    ref = catalogue()
    rows = {code: PortfolioRow(code=code, name=name, contracts=0, by_service_type={})
            for code, name in ref.report_rows.items()}
    categories = {code: PortfolioRow(code=code, name=name, contracts=0, by_service_type={})
                  for code, name in ref.categories.items()}
    for service_type, category, n in counts:
        for row in (rows[ref.service_types[service_type]["report_row"]], categories[category]):
            row.contracts += n
            row.by_service_type[service_type] = row.by_service_type.get(service_type, 0) + n
    return Portfolio(year=year, by_service=[r for r in rows.values() if r.contracts],
                     by_category=list(categories.values()), total=total)


class StatusCount(BaseModel):
    status: ContractStatus
    contracts: int


class ContractsByStatus(BaseModel):
    """Every contract registered, by its stored status (every status listed, zero included)."""

    by_status: list[StatusCount]
    total: int = Field(description="counted separately: a row lost or counted twice shows as a difference")


async def contracts_by_status(conn: AsyncConnection) -> ContractsByStatus:
    counted = dict((await conn.execute(text("SELECT status, count(*) FROM contracts GROUP BY status"))).all())
    total = int(await conn.scalar(text("SELECT count(*) FROM contracts")))
    return ContractsByStatus(by_status=[StatusCount(status=s, contracts=counted.get(s.value, 0)) for s in ContractStatus],
                             total=total)


class ServiceTypeView(BaseModel):
    name: str
    report_row: str = Field(description="the code of the portfolio report's row it counts in")


class ServiceTypes(BaseModel):
    service_types: dict[str, ServiceTypeView]
    report_rows: dict[str, str] = Field(description="code → name, in the report's order")
    counterparty_categories: dict[str, str]


def service_types() -> ServiceTypes:
    ref = catalogue()
    return ServiceTypes(service_types={code: ServiceTypeView(**fields) for code, fields in ref.service_types.items()},
                        report_rows=ref.report_rows, counterparty_categories=ref.categories)


# ---- a counterparty's export (law 94-V): what this service holds of its contracts ------------------------------
PERSONAL_DATA_EXPORT = {
    "contracts": "SELECT * FROM contracts WHERE contract_id = ANY(:ids) ORDER BY number",
    "amendments": "SELECT * FROM amendments WHERE contract_id = ANY(:ids) ORDER BY contract_id, effective_from,"
                  " document_number",
    # the day's totals and the reasons; the hour-by-hour schedule stays with `GET /schedule`
    "applications": "SELECT contract_id, day, status, submitted_at, requested_kwh, accepted_kwh, reasons,"
                    " free_volume_kwh, corrections FROM applications WHERE contract_id = ANY(:ids)"
                    " ORDER BY contract_id, day",
    "supply_conditions": "SELECT * FROM supply_conditions WHERE contract_id = ANY(:ids) ORDER BY contract_id",
}
