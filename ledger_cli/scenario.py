"""The seed contract's 2022, played through the four services' APIs (issue: audit replay and the
operator CLI). `ledger demo` loads it into a running system; the year test runs it against the
services in process and checks the figures derived by hand in its comments.

The story, in business order:
- the contract (Appendix 1: 304,000 kWh planned) is signed on 2021-12-07;
- every day of 2022 has an on-time application for ⌊month's plan / days⌋ kWh (Appendix 1's plan);
- both meters read at every Astana midnight: 01214368 rises 0.0200 a day (× 44,000 = 880 kWh),
  01214371 0.0050 (× 21,000 = 105 kWh), 985 kWh a day;
- each month's actual balance is published on the 1st of the next month and equals the meters, except
  March (31,000 against 30,535) and October (30,000 against 30,535); acts are signed two days later,
  except May's, which is deemed accepted 15 days after receipt;
- every invoice is paid on its day, except January's: paid on 2022-03-01, across the 2022-02-24 base
  rate change, its penalty accrued that day and paid with February's invoice on 2022-03-02;
- June is prepaid in three blocks: the first on time, the second a day after its due date (a notice,
  then restoration), the third missing until after the restriction (notice, restriction from 21 June
  that cuts the accepted days, restoration on 22 June); each notice and the restriction are the lines of a
  collection run of that day, proposed by collections and approved by a second person (`approvers`);
- August's invoice is left unpaid: the collection run of 15 September over the contract (proposed by
  collections, approved by a second person who leaves out the §11.2 withdrawal June's notices allow, executed)
  charges its penalty, and an installment agreement on it
  (proposed on 16 September, concluded by a second person of collections) defers it to 30 September at 12% a
  year; on that day the buyer pays the installment with its interest and the penalty;
- November's payment is 100,000.00 larger than the invoice (an advance);
- a claim on October's invoice is accepted as a credit note of 10,000.00;
- the term ends; the advance is refunded on 2023-01-10 (asked for by billing, approved by a second person
  of billing: `approvers`), the treasury pays it out the same day and the ledger settles the account.
"""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

YEAR = 2022
DAILY_M1 = Decimal("0.0200")      # register rise a day, meter 01214368 (× 44,000 = 880 kWh)
DAILY_M2 = Decimal("0.0050")      # register rise a day, meter 01214371 (× 21,000 = 105 kWh)
BALANCE_DIFFERS = {"2022-03": Decimal("31000"), "2022-10": Decimal("30000")}
EXTRA_IN_NOVEMBER = Decimal("100000.00")
CREDIT_NOTE = Decimal("10000.00")
DEEMED_MONTH = "2022-05"
PREPAID_MONTH = "2022-06"
DEFERRED_MONTH = "2022-08"
COLLECTED_ON = date(YEAR, 9, 15)              # the collection run that charges the unpaid August's penalty
AGREEMENT = {"document_number": "РС-2022/08-1", "concluded_on": f"{YEAR}-09-16", "first_due": f"{YEAR}-09-30",
             "installments": 1, "rate_percent": "12"}


class ScenarioError(Exception):
    pass


def month_days(month: int) -> int:
    return calendar.monthrange(YEAR, month)[1]


def daily_application_kwh(plan_kwh: Decimal, month: int) -> int:
    """⌊plan / days⌋: never above the day's share, so every application is accepted whole."""
    return int(plan_kwh) // month_days(month)


def hours_for(daily_kwh: int) -> list[str]:
    base, rest = divmod(daily_kwh, 24)
    return [str(base + 1 if hour < rest else base) for hour in range(24)]


def readings_csv() -> bytes:
    lines = ["meter_serial,read_at,register_kwh"]
    first = date(YEAR, 1, 1)
    for n in range(366):   # the midnights from 2022-01-01 to 2023-01-01, Astana (UTC+6 in 2022)
        day = first + timedelta(days=n)
        lines.append(f"01214368,{day.isoformat()}T00:00:00+06:00,{Decimal('1000.0000') + DAILY_M1 * n}")
        lines.append(f"01214371,{day.isoformat()}T00:00:00+06:00,{Decimal('500.0000') + DAILY_M2 * n}")
    return ("\n".join(lines) + "\n").encode()


def next_month_first(period: str) -> date:
    year, month = int(period[:4]), int(period[5:])
    return date(year + month // 12, month % 12 + 1, 1)


@dataclass
class YearScenario:
    clients: dict[str, httpx.AsyncClient]
    number: str
    # the same services as a second person, who approves what the first asks for (four eyes)
    approvers: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    log: Callable[[str], None] = print
    timeout_s: float = 60.0
    contract_id: str = ""
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[Decimal] = field(default_factory=list)

    # ---- plumbing ------------------------------------------------------------------------------
    async def call(self, service: str, method: str, path: str, **kwargs) -> Any:
        response = await self.clients[service].request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ScenarioError(f"{service} {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def until(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.1)
        raise ScenarioError(f"timed out waiting for {what}")

    async def account(self) -> dict[str, Any]:
        return await self.call("invoicing", "GET", f"/accounts/{self.contract_id}")

    async def pay(self, reference: str, amount: Decimal, on: date, purpose: str) -> None:
        await self.call("invoicing", "POST", "/payments", json={
            "contract_id": self.contract_id, "bank_reference": f"{self.number}-{reference}",
            "received_on": on.isoformat(), "amount": {"amount": str(amount), "currency": "KZT"}, "purpose": purpose})
        self.payments.append(amount)

    async def invoice_of(self, period: str) -> dict[str, Any]:
        async def issued():
            statement = await self.call("invoicing", "GET", f"/accounts/{self.contract_id}/statement")
            lines = [line for line in statement["lines"] if line["kind"] == "invoice"
                     and line["description"].startswith(f"invoice {period}:")]
            return lines[0] if lines else None

        return await self.until(f"the invoice for {period}", issued)

    # ---- the story -----------------------------------------------------------------------------
    async def run(self, terms: dict[str, Any]) -> "YearScenario":
        await self.sign(terms)
        await self.apply_for_every_day(terms)
        await self.read_meters()
        for month in range(1, 13):
            period = f"{YEAR}-{month:02d}"
            if period == PREPAID_MONTH:
                await self.prepay_june()
            await self.settle_month(period)
        await self.claim_on_october()
        await self.end_and_refund()
        return self

    async def sign(self, terms: dict[str, Any]) -> None:
        found = (await self.call("contracts", "GET", "/contracts", params={"number": self.number}))["items"]
        if found:
            raise ScenarioError(f"contract {self.number} is already loaded ({found[0]['contract_id']})")
        created = await self.call("contracts", "POST", "/contracts", json={**terms, "number": self.number})
        self.contract_id = created["contract_id"]
        await self.call("contracts", "POST", f"/contracts/{self.contract_id}/sign",
                        json={"signed_at": "2021-12-07T12:00:00+06:00"})

        async def everywhere():
            meters = await self.clients["metering"].get("/meters", params={"contract_id": self.contract_id})
            account = await self.clients["invoicing"].get(f"/accounts/{self.contract_id}")
            return meters.status_code == 200 and len(meters.json()["items"]) == 2 and account.status_code == 200

        await self.until("the account and the meters", everywhere)
        self.log(f"contract {self.number} signed ({self.contract_id})")

    async def apply_for_every_day(self, terms: dict[str, Any]) -> None:
        plan = {p["month"]: Decimal(p["volume_kwh"]) for p in terms["planned_volumes"]}
        day = date(YEAR, 1, 1)
        while day.year == YEAR:
            kwh = daily_application_kwh(plan[f"{YEAR}-{day.month:02d}"], day.month)
            before = day - timedelta(days=1)
            await self.call("contracts", "POST", f"/contracts/{self.contract_id}/applications", json={
                "day": day.isoformat(), "hours_kwh": hours_for(kwh),
                "submitted_at": f"{before.isoformat()}T09:00:00+06:00"})
            day += timedelta(days=1)
        self.log("365 daily applications accepted")

    async def read_meters(self) -> None:
        report = await self.call("metering", "POST", "/readings/import", content=readings_csv(),
                                 params={"format": "csv", "file_name": f"{self.number}-2022-registers.csv"})
        if report.get("rejected"):
            raise ScenarioError(f"readings refused: {report['rejected'][:3]}")
        await self.call("metering", "POST", "/volumes/measure", json={
            "contract_id": self.contract_id, "first_day": f"{YEAR}-01-01", "last_day": f"{YEAR}-12-31"})
        self.log(f"{report['accepted']} register readings imported, daily volumes measured")

    async def settle_month(self, period: str) -> None:
        month = int(period[5:])
        published = next_month_first(period)
        volume = BALANCE_DIFFERS.get(period, Decimal(985 * month_days(month)))
        [act] = [e for e in await self.call("metering", "POST", f"/contracts/{self.contract_id}/actual-balance",
                                            json={"period": period, "volume_kwh": str(volume),
                                                  "published_on": published.isoformat()})
                 if e.get("act_id")][:1]
        if period != DEEMED_MONTH:
            await self.call("metering", "POST", f"/acts/{act['act_id']}/sign", json={
                "contract_id": self.contract_id, "signed_on": (published + timedelta(days=2)).isoformat()})
        invoice = await self.invoice_of(period)
        self.invoices[period] = invoice
        total = Decimal(invoice["amount"]["amount"])
        if period == "2022-01":
            self.log(f"{period}: {volume} kWh invoiced {total}, left unpaid past its due date")
            return   # paid late, on 2022-03-01, with the February act
        if period == "2022-02":
            await self.pay("JAN", Decimal(self.invoices["2022-01"]["amount"]["amount"]), date(YEAR, 3, 1), "за январь")
            accrued = await self.call("invoicing", "POST", f"/accounts/{self.contract_id}/penalties/accrue",
                                      json={"as_of": f"{YEAR}-03-01"})
            penalty = sum((Decimal(e["amount"]["amount"]) for e in accrued), Decimal(0))
            await self.pay("FEB", total + penalty, date(YEAR, 3, 2), "за февраль и пеню")
            self.log(f"{period}: {volume} kWh invoiced {total}; January paid late on 2022-03-01, penalty {penalty} "
                     f"paid with February on 2022-03-02")
            return
        if period == DEFERRED_MONTH:
            await self.defer(invoice)
            return
        extra = EXTRA_IN_NOVEMBER if period == "2022-11" else Decimal(0)
        await self.pay(period, total + extra, published, f"за {period}")
        if period == DEEMED_MONTH:
            closed = await self.call("metering", "POST", "/day-close",
                                     json={"day": (published + timedelta(days=15)).isoformat()})
            self.log(f"metering day close {published + timedelta(days=15)}: {closed}")
        self.log(f"{period}: {volume} kWh invoiced {total}, paid {total + extra}")

    async def prepay_june(self) -> None:
        demands = await self.call("invoicing", "POST", f"/accounts/{self.contract_id}/prepayments",
                                  json={"period": PREPAID_MONTH, "requested_on": f"{YEAR}-05-20"})
        amounts = [Decimal(d["amount"]["amount"]) for d in demands]
        due = [date.fromisoformat(d["due_date"]) for d in demands]
        await self.pay("PRE-1", amounts[0], due[0] - timedelta(days=2), "предоплата июнь 1")
        await self.collect(due[1])                                  # block 2 unpaid: a notice
        await self.pay("PRE-2", amounts[1], due[1] + timedelta(days=1), "предоплата июнь 2")   # restored
        await self.collect(due[2])                                  # block 3 missing: a notice
        restricted = await self.collect(date(YEAR, 6, 21))          # still missing: restricted
        if restricted != ["restriction"]:
            raise ScenarioError(f"expected a restriction on 2022-06-21, got {restricted}")

        async def cut():
            # §5.3 reduced to the share the prepayment held pays (two blocks of three: 2/3), not to zero
            day = await self.call("contracts", "GET", f"/contracts/{self.contract_id}/applications/{YEAR}-06-21")
            return "supply_restricted" in day["reasons"]

        await self.until("the applications reduced by the restriction", cut)
        await self.pay("PRE-3", amounts[2], date(YEAR, 6, 22), "предоплата июнь 3")
        self.log(f"June prepaid in blocks {amounts}, restricted from 2022-06-21, restored 2022-06-22")

    async def defer(self, invoice: dict[str, Any]) -> None:
        """The unpaid invoice: its penalty charged by a collection run, then an installment agreement on it
        (four eyes), paid on its date with its interest and the penalty (the account's whole debt then)."""
        # §11.2 June's two notices and this invoice past due allow the withdrawal too: the second person leaves it
        # out, the buyer having agreed to the installment agreement
        charged = await self.collect(COLLECTED_ON, leave_out={
            "withdrawal_notice": "the buyer signs an installment agreement for the August invoice"})
        if charged != ["penalty"]:
            raise ScenarioError(f"expected the collection run of {COLLECTED_ON} to charge a penalty, got {charged}")
        [asked] = await self.call("invoicing", "POST", f"/accounts/{self.contract_id}/agreements",
                                  json={**AGREEMENT, "documents": [invoice["document"]]})
        approval = await self.approvers["invoicing"].post(f"/approvals/{asked['request_id']}/approve")
        if approval.status_code != 201:
            raise ScenarioError(f"the agreement's approval: {approval.status_code} {approval.text[:300]}")
        [concluded] = approval.json()
        owed = Decimal((await self.account())["debt"]["amount"])
        await self.pay("AGR", owed, date.fromisoformat(AGREEMENT["first_due"]), f"по соглашению {concluded['document_number']}")
        self.log(f"{DEFERRED_MONTH}: penalty charged by the run of {COLLECTED_ON}, agreement "
                 f"{concluded['document_number']} (interest {concluded['interest']['amount']}) paid {owed}")

    async def close_ledger_day(self, day: date) -> list[str]:
        closed = await self.call("invoicing", "POST", "/day-close", json={"day": day.isoformat()})
        return closed["events"].get(self.contract_id, [])

    async def collect(self, day: date, leave_out: dict[str, str] | None = None) -> list[str]:
        """The day closed, then a collection run of it over the contract: proposed here, approved by the second
        person (four eyes), the lines of the actions in `leave_out` left out with its reason. The actions it
        executed."""
        await self.close_ledger_day(day)
        if "invoicing" not in self.approvers:
            raise ScenarioError("a collection run needs a second person's approval: give an approver's token")
        run = await self.call("invoicing", "POST", "/collection-runs",
                              json={"business_date": day.isoformat(), "contract_ids": [self.contract_id]})
        proposed = (await self.call("invoicing", "GET", f"/collection-runs/{run['run_id']}/lines"))["items"]
        excluded = [{"line_id": line["line_id"], "reason": (leave_out or {})[line["action"]]}
                    for line in proposed if line["action"] in (leave_out or {})]
        approval = await self.approvers["invoicing"].post(f"/collection-runs/{run['run_id']}/approve",
                                                          json={"excluded": excluded})
        if approval.status_code != 201:
            raise ScenarioError(f"the collection run's approval: {approval.status_code} {approval.text[:300]}")
        lines = await self.call("invoicing", "GET", f"/collection-runs/{run['run_id']}/lines")
        done = [line["action"] for line in lines["items"] if line["status"] == "executed"]
        self.log(f"collection run {day}: {done}")
        return done

    async def claim_on_october(self) -> None:
        october = self.invoices["2022-10"]
        claim = await self.call("claims", "POST", "/claims", json={
            "contract_id": self.contract_id, "received_at": f"{YEAR}-11-10T10:00:00+06:00", "subject": "invoice",
            "description": "the October invoice charges hours of an outage", "disputed_document": october["document"],
            "disputed_amount": {"amount": str(CREDIT_NOTE), "currency": "KZT"}})
        await self.call("claims", "POST", f"/claims/{claim['claim_id']}/accept",
                        json={"answered_on": f"{YEAR}-11-20", "comment": "outage confirmed by dispatch"})

        async def credited():
            statement = await self.call("invoicing", "GET", f"/accounts/{self.contract_id}/statement")
            return any(line["kind"] == "invoice" and (line.get("details") or {}).get("corrects") == october["document"]
                       for line in statement["lines"])

        await self.until("the credit note for the accepted claim", credited)
        self.log(f"claim on {october['document']} accepted: credit note {CREDIT_NOTE}")

    async def end_and_refund(self) -> None:
        refund_on = date(YEAR + 1, 1, 10)
        [asked] = await self.call("invoicing", "POST", f"/accounts/{self.contract_id}/refund",
                                  json={"refund_on": refund_on.isoformat()})
        if "invoicing" not in self.approvers:
            raise ScenarioError("the refund needs a second person's approval: give an approver's token")
        approval = await self.approvers["invoicing"].post(f"/approvals/{asked['request_id']}/approve")
        if approval.status_code != 201:
            raise ScenarioError(f"the refund's approval: {approval.status_code} {approval.text[:300]}")
        # §5.8 the treasury pays the refund out by its payment order: only then is nothing owed either way
        refund = approval.json()[-1]
        await self.call("invoicing", "POST", f"/refunds/{refund['document_number']}/payout",
                        json={"payment_order_number": "PP-1", "payment_order_date": refund_on.isoformat()})
        closed = await self.close_ledger_day(refund_on)
        if "invoicing.AccountSettled" not in closed:
            raise ScenarioError(f"expected the account settled on {refund_on}, got {closed}")

        async def settled():
            view = await self.call("contracts", "GET", f"/contracts/{self.contract_id}")
            return view["status"] == "settled"

        await self.until("the contract closed by the ledger", settled)
        self.log(f"term over: advance refunded on {refund_on}, account settled, contract closed")
