"""Proves the whole system on the seed contract's 2022 (ledger_cli/scenario.py tells the story): the
four services, the real database and broker, 365 applications, a year of meter readings, twelve acts
(two months off the meters, one deemed accepted), invoices with VAT, a late payment across a base-rate
change and its penalty, a June prepayment with a notice, a restriction and two restorations, August's
invoice unpaid until a collection run (proposed, approved by a second person, executed) charges its penalty
and an installment agreement (concluded by a second person) defers it, an overpayment, a claim credited, the
refund and the settlement; the yearly totals are derived by hand
below, then every service's chain verifies, every read model rebuilds to the live digests, and a replay
gives them again."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from ledger_cli import audit
from ledger_cli.scenario import YearScenario
from shared.digest import digests
from tests.support import auth, seed_contract

# ---- the figures, by hand ------------------------------------------------------------------------
# Volumes (kWh): meters 985 a day (0.0200 × 44,000 = 880 and 0.0050 × 21,000 = 105), so a 31-day month
# 30,535, a 30-day month 29,550, February 27,580; the actual balance says March 31,000 and October 30,000.
# Year: the seven 31-day months less March and October (balance-set) are 5 × 30,535 (Jan May Jul Aug
# Dec), + 4 × 29,550 (Apr Jun Sep Nov) + 27,580 + 31,000 + 30,000 — month by month:
#   Jan 30,535  Feb 27,580  Mar 31,000  Apr 29,550  May 30,535  Jun 29,550
#   Jul 30,535  Aug 30,535  Sep 29,550  Oct 30,000  Nov 29,550  Dec 30,535   → 359,455 kWh
# Each month: energy = V × 11.97, RES = V × 1.58, VAT 12% on each line, half-up to the tiyn:
#   30,535: 365,503.95 + 48,245.30 + 43,860.47 (43,860.474) + 5,789.44 (5,789.436) = 463,399.16  (× 5 months)
#   29,550: 353,713.50 + 46,689.00 + 42,445.62 + 5,602.68                          = 448,450.80  (× 4 months)
#   27,580: 330,132.60 + 43,576.40 + 39,615.91 (39,615.912) + 5,229.17 (5,229.168) = 418,554.08
#   31,000: 371,070.00 + 48,980.00 + 44,528.40 + 5,877.60                          = 470,456.00
#   30,000: 359,100.00 + 47,400.00 + 43,092.00 + 5,688.00                          = 455,280.00
# Energy 359,455 × 11.97 = 4,302,676.35; RES 359,455 × 1.58 = 567,938.90;
# VAT = 5 × 49,649.91 + 4 × 48,048.30 + 44,845.08 + 50,406.00 + 48,780.00 = 584,473.83;
# invoices = 5 × 463,399.16 + 4 × 448,450.80 + 418,554.08 + 470,456.00 + 455,280.00 = 5,455,089.08.
ENERGY, RES, VAT, INVOICED = (Decimal("4302676.35"), Decimal("567938.90"), Decimal("584473.83"),
                              Decimal("5455089.08"))
# Penalty: January's 463,399.16, due 2022-02-08 (5 banking days after 1 February), paid 2022-03-01:
#   9–23 Feb, 15 days at 10.25%: 463,399.16 × 1.5 × 10.25% × 15/365 = 2,927.98 (2,927.984…)
#   24 Feb–1 Mar, 6 days at 13.50%: 463,399.16 × 1.5 × 13.50% × 6/365 = 1,542.55 (1,542.547…)
JANUARY_PENALTY = Decimal("2927.98") + Decimal("1542.55")   # 4,470.53
# August's 463,399.16 (30,535 kWh), issued 1 September, due 5 banking days later: Fri 2, Mon 5, 6, 7, Thu 8
# September. The advance held since June's three blocks (151,608.24, below) pays part of it at its issue (§5.8: the
# advance pays the next charge, here the one left unpaid): 463,399.16 − 151,608.24 = 311,790.92 open. The
# collection run of 15 September charges 9–15 September, 7 days at 14.50% (from 25 July):
#   311,790.92 × 1.5 × 14.50% × 7/365 = 1,300.55 (1,300.552…)
AUGUST_OPEN, AUGUST_PENALTY = Decimal("311790.92"), Decimal("1300.55")
PENALTY = JANUARY_PENALTY + AUGUST_PENALTY               # 5,771.08
# The agreement concluded 16 September defers what is open of August to one installment on 30 September at 12% a
# year: 311,790.92 × 12% × 14/365 (16 → 30 September) = 1,435.09 (1,435.092…). Paid on 30 September with the
# penalty: 311,790.92 + 1,435.09 + 1,300.55 = 314,526.56
INTEREST = Decimal("1435.09")
# June's prepayment: applications of ⌊10,000 / 30⌋ = 333 kWh a day, 3,330 kWh a block:
#   3,330 × 11.97 = 39,860.10 + 3,330 × 1.58 = 5,261.40 + VAT 4,783.21 + 631.37 = 50,536.08 a block
PREPAYMENTS = 3 * Decimal("50536.08")                   # 151,608.24
EXTRA, CREDIT = Decimal("100000.00"), Decimal("10000.00")
# Paid: every invoice in full (August's less the blocks' 151,608.24 the advance paid of it), the penalties, the
# agreement's interest, the three blocks and November's extra: the blocks count once, in the advance that paid
# August: INVOICED + PENALTY + INTEREST + EXTRA = 5,455,089.08 + 5,771.08 + 1,435.09 + 100,000.00
PAID = INVOICED - PREPAYMENTS + PENALTY + INTEREST + PREPAYMENTS + EXTRA   # 5,562,295.25
# Refund = paid − (invoiced + penalties + interest − credit) = the extra + the credit = 110,000.00 (the blocks
# paid August)
REFUND = PAID - (INVOICED + PENALTY + INTEREST - CREDIT)
# Applications: ⌊plan / days⌋ a day — 1,000×31 + 892×28 + 1,129×31 + 666×30 + 322×31 + 333×30 + 645×31
#   + 483×31 + 1,100×30 + 1,129×31 + 1,166×30 + 1,129×31 = 303,873 kWh. The restriction from 21 June
#   reduces every accepted day from then on to the share the prepayment held pays (§5.3): blocks 1 and 2 held,
#   101,072.16 of the 151,608.24 due = 2/3, so 333 → 222 kWh; the restoration on 22 June brings back the days
#   whose schedule is formed after it (23 June on): 21 and 22 June stay reduced, 2 × (333 − 222) = 222 kWh
#   less → 303,873 − 222 = 303,651 kWh scheduled.
PLANNED, SCHEDULED = Decimal("304000"), Decimal("303651")
# The meters alone: 985 kWh a day × 365 days = 359,525 kWh (the midnights from 1 Jan 2022 to 1 Jan 2023);
# the acts' 359,455 is 70 less: March +465, October −535.
METERED = Decimal("359525")
# The credit note of 10,000.00 gross on October (30,000 kWh) is split over its lines by gross weight
# (largest remainder, in tiyn): energy 359,100.00 + 43,092.00 = 402,192.00, RES 47,400.00 + 5,688.00 = 53,088.00
# of 455,280.00: energy 1,000,000 × 402,192 / 455,280 = 883,394.83 tiyn → 883,394 and the leftover tiyn
# (its remainder .83 beats RES's .17) → 8,833.95; RES 1,166.05. Inside each, net = share / 1.12 half-up:
#   energy 8,833.95 / 1.12 = 7,887.455… → 7,887.46, VAT 946.49; RES 1,166.05 / 1.12 = 1,041.116… → 1,041.12, VAT 124.93
CREDIT_ENERGY, CREDIT_RES, CREDIT_VAT = Decimal("7887.46"), Decimal("1041.12"), Decimal("946.49") + Decimal("124.93")
# June's prepayment blocks start 1, 11 and 21 June and are due 3 banking days before (ledger/prepayment.py):
#   Wed 1 Jun → Fri 27 May; Sat 11 Jun → Fri 10, Thu 9, Wed 8 Jun; Tue 21 Jun → Mon 20, Fri 17, Thu 16 Jun.
# Block 2 unpaid at the close of 8 June: a notice for 50,536.08 (two blocks due, one held), restriction from
#   3 working days later (9, 10, 13 June) = 13 June; paid on 9 June → restored that day.
# Block 3 missing at the close of 16 June: a notice for 50,536.08, restriction from 17, 20, 21 June = 21 June;
#   still missing at the close of 21 June → restricted from 21 June; paid on 22 June → restored that day.
BLOCK = "50536.08"
NOTICES = [("2022-06-08", "2022-06-13", BLOCK), ("2022-06-16", "2022-06-21", BLOCK)]
RESTRICTIONS = [("2022-06-21", BLOCK)]
RESTORATIONS = ["2022-06-09", "2022-06-22"]


@pytest.fixture(scope="module")
async def year(system):
    def clients_of(person: str) -> dict[str, httpx.AsyncClient]:
        return {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url=f"http://{name}",
                                        headers=auth(person), timeout=60) for name, service in system.services.items()}

    clients, approvers = clients_of("operator"), clients_of("approver")
    try:
        scenario = await YearScenario(clients, number="01/2021-85-Y", approvers=approvers, log=lambda _: None,
                                      timeout_s=60).run(seed_contract())
        yield scenario
    finally:
        for client in (*clients.values(), *approvers.values()):
            await client.aclose()


async def sums(system, sql: str, **params):
    async with system["invoicing"].engine.connect() as conn:
        return (await conn.execute(text(sql), params)).one()


async def test_the_yearly_totals(system, year):
    c = year.contract_id
    energy, res, vat = await sums(system, """
        SELECT coalesce(sum(-amount) FILTER (WHERE account = 'revenue.energy'), 0),
               coalesce(sum(-amount) FILTER (WHERE account = 'revenue.res_surcharge'), 0),
               coalesce(sum(-amount) FILTER (WHERE account = 'vat.output'), 0)
        FROM postings WHERE contract_id = :c""", c=c)
    # the credit note of 10,000.00 gross takes back net and VAT from the October lines (split above):
    # energy 4,302,676.35 − 7,887.46 = 4,294,788.89; RES 567,938.90 − 1,041.12 = 566,897.78;
    # VAT 584,473.83 − 1,071.42 = 583,402.41; together 5,445,089.08 = 5,455,089.08 − 10,000.00
    assert (energy, res, vat) == (ENERGY - CREDIT_ENERGY, RES - CREDIT_RES, VAT - CREDIT_VAT)
    assert (energy, res, vat) == (Decimal("4294788.89"), Decimal("566897.78"), Decimal("583402.41"))
    assert energy + res + vat == INVOICED - CREDIT
    invoices = [Decimal(i["amount"]["amount"]) for i in year.invoices.values()]
    assert sum(invoices) == INVOICED
    assert (Decimal(year.invoices["2022-01"]["amount"]["amount"]), Decimal(year.invoices["2022-03"]["amount"]["amount"]),
            Decimal(year.invoices["2022-10"]["amount"]["amount"])) == (
        Decimal("463399.16"), Decimal("470456.00"), Decimal("455280.00"))
    (penalties,) = await sums(system, "SELECT coalesce(sum(-amount), 0) FROM postings WHERE contract_id = :c "
                                      "AND account = 'income.penalty'", c=c)
    assert penalties == PENALTY == Decimal("5771.08")
    (interest,) = await sums(system, "SELECT coalesce(sum(-amount), 0) FROM postings WHERE contract_id = :c "
                                     "AND account = 'income.interest'", c=c)
    assert interest == INTEREST
    assert sum(year.payments) == PAID == Decimal("5562295.25")
    (refunded,) = await sums(system, "SELECT coalesce(sum(amount), 0) FROM statement_lines WHERE contract_id = :c "
                                     "AND kind = 'refund'", c=c)
    # the statement counts + for what the buyer owes: paying the credit back is +110,000.00, to zero.
    # No debt is open at the refund here, so nothing is netted from it; the netting (refund = advance left
    # after the last invoice took its share) is proven in tests/unit/test_account_lifecycle.py
    # test_the_refund_is_what_is_left_of_the_advance_after_the_last_invoice.
    assert refunded == REFUND == Decimal("110000.00")
    account = (await system.clients["invoicing"].get(f"/accounts/{c}", headers=auth())).json()
    assert (account["debt"]["amount"], account["advance"]["amount"]) == ("0.00", "0.00")
    (cash, payable, postings_total) = await sums(system, """
        SELECT coalesce(sum(amount) FILTER (WHERE account = 'cash'), 0),
               coalesce(sum(amount) FILTER (WHERE account = 'refund.payable'), 0), sum(amount)
        FROM postings WHERE contract_id = :c""", c=c)
    # cash holds what came in less the refund the treasury paid out (PP-1), which cleared refund.payable
    assert (cash, payable, postings_total) == (PAID - REFUND, 0, 0)   # double entry: every movement balanced


async def test_the_june_restriction_in_the_ledgers_events(system, year):
    async with system["invoicing"].engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT event_type, convert_from(body, 'UTF8')::jsonb -> 'payload' FROM event_store "
            "WHERE contract_id = :c AND event_type IN ('invoicing.RestrictionNoticeIssued', "
            "'invoicing.SupplyRestricted', 'invoicing.SupplyRestored') ORDER BY position"), {"c": year.contract_id})).all()
    of = {kind: [payload for event_type, payload in rows if event_type == f"invoicing.{kind}"]
          for kind in ("RestrictionNoticeIssued", "SupplyRestricted", "SupplyRestored")}
    notices = of["RestrictionNoticeIssued"]
    assert [(n["issued_on"], n["restrict_from"], n["amount_due"]["amount"]) for n in notices] == NOTICES
    assert [(r["restricted_from"], r["amount_due"]["amount"]) for r in of["SupplyRestricted"]] == RESTRICTIONS
    # held at the restriction: blocks 1 and 2, 2 × 50,536.08
    assert [r["held"]["amount"] for r in of["SupplyRestricted"]] == ["101072.16"]
    assert [r["restored_on"] for r in of["SupplyRestored"]] == RESTORATIONS
    # each restriction and restoration lifts the notice open at the time: the first notice, then the second
    first, second = (n["document_number"] for n in notices)
    assert [r["notice_document"] for r in of["SupplyRestored"]] == [first, second]
    assert of["SupplyRestricted"][0]["notice_document"] == second


async def test_the_collection_run_and_the_installment_agreement(system, year):
    c, invoicing = year.contract_id, system.clients["invoicing"]
    runs = (await invoicing.get("/collection-runs", params={"business_date": "2022-09-15"}, headers=auth())).json()
    [run] = [r for r in runs["items"] if r["accounts"] == [c]]
    # proposed by one person of collections, approved by another: the penalty executed; the §11.2 withdrawal that
    # June's two notices and the invoice past due allow (7 days' notice) left out with the approver's reason
    assert (run["status"], run["lines"], run["line_status"]) == ("approved", 2, {"executed": 1, "excluded": 1})
    assert run["decided_by"] != run["proposed_by"]
    lines = (await invoicing.get(f"/collection-runs/{run['run_id']}/lines", headers=auth())).json()["items"]
    assert [(x["action"], x["status"]) for x in lines] == [("penalty", "executed"), ("withdrawal_notice", "excluded")]
    line = lines[0]
    august = year.invoices["2022-08"]["document"]
    assert (line["action"], line["documents"], line["amount"]["amount"], line["effective_on"]) == (
        "penalty", [august], str(AUGUST_PENALTY), "2022-09-15")
    async with system["invoicing"].engine.connect() as conn:
        [(concluded,)] = (await conn.execute(text(
            "SELECT convert_from(body, 'UTF8')::jsonb -> 'payload' FROM event_store WHERE contract_id = :c "
            "AND event_type = 'invoicing.InstallmentAgreementConcluded'"), {"c": c})).all()
        broken = await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = :c "
                                        "AND event_type = 'invoicing.InstallmentAgreementBroken'"), {"c": c})
    assert (concluded["documents"], concluded["principal"]["amount"], concluded["interest"]["amount"]) == (
        [august], str(AUGUST_OPEN), str(INTEREST))
    # one installment: 311,790.92 + 1,435.09 = 313,226.01
    assert [(i["due_date"], i["principal"]["amount"], i["interest"]["amount"], i["amount"]["amount"])
            for i in concluded["installments"]] == [("2022-09-30", "311790.92", "1435.09", "313226.01")]
    assert concluded["approval"]["approved_by"] != concluded["approval"]["requested_by"]
    assert broken == 0   # paid on its date: 313,226.01 + the penalty 1,300.55 = 314,526.56
    assert Decimal("314526.56") in year.payments


async def test_the_year_in_the_other_services(system, year):
    c = year.contract_id
    contract = (await system.clients["contracts"].get(f"/contracts/{c}", headers=auth())).json()
    assert sum(Decimal(p["volume_kwh"]) for p in contract["terms"]["planned_volumes"]) == PLANNED
    assert contract["status"] == "settled"
    async with system["contracts"].engine.connect() as conn:
        scheduled = await conn.scalar(text("SELECT sum(accepted_kwh) FROM applications WHERE contract_id = :c"),
                                      {"c": c})
        cut = await conn.scalar(text("SELECT count(*) FROM applications WHERE contract_id = :c "
                                     "AND 'supply_restricted' = ANY(reasons)"), {"c": c})
        june_21 = await conn.scalar(text("SELECT accepted_kwh FROM applications WHERE contract_id = :c "
                                         "AND day = '2022-06-21'"), {"c": c})
    assert (scheduled, cut) == (SCHEDULED, 2)
    assert june_21 == Decimal("222")   # 333 × 2/3, the share paid (above)
    acts = (await system.clients["metering"].get("/acts", params={"contract_id": c}, headers=auth())).json()["items"]
    differences = {a["period"]: a.get("difference_kwh") for a in acts}
    # March 31,000 − 30,535 = +465; October 30,000 − 30,535 = −535; the others agree with the meters
    assert Decimal(differences["2022-03"]) == Decimal("465") and Decimal(differences["2022-10"]) == Decimal("-535")
    assert all(Decimal(d) == 0 for p, d in differences.items() if p not in ("2022-03", "2022-10"))
    deemed = [a["period"] for a in acts if a.get("deemed")]
    assert deemed == ["2022-05"]
    async with system["metering"].engine.connect() as conn:
        days, metered = (await conn.execute(text(
            "SELECT count(*), sum(volume_kwh) FROM daily_volumes WHERE contract_id = :c AND complete"), {"c": c})).one()
    assert (days, metered) == (365, METERED)


async def test_verify_and_replay_agree_on_every_service(system, year):
    for name, service in system.services.items():
        report = await audit.verify_service(name, system.urls[name])
        assert report.chain.ok, (name, report.chain)
        assert [t.table for t in report.tables if not t.ok] == [], name
        async with service.engine.connect() as conn:
            before = await digests(conn, service.projector.tables)
        replayed = await audit.replay_service(name, system.urls[name])
        assert replayed.events == report.events
        async with service.engine.connect() as conn:
            assert await digests(conn, service.projector.tables) == before, name
