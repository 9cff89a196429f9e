"""Proves the ledger's rebuild (whole accounts' histories folded in steps, each row written once by COPY)
writes exactly the rows the commands wrote one at a time, for every event type the ledger projects:
after a history that has them all (five accounts, the base rates' and the unidentified receipts'
pseudo-accounts, a request left awaiting its second person), rebuilding in steps of 1, 2, 5 and 50,000 events (a step ends where an account's
history ends, so a step of 1 is one account), folded in this process or in two worker processes that
take the accounts apart, gives the live tables' row counts and digests, table by table; so does a
rebuild into tables without their keys and indexes, as `ledger replay` loads them as the owner, which
has every key and index back (same names, same definitions) before it commits."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import text

from ledger_cli.tables import bare_for_loading
from services.invoicing import projection, request_projection
from shared import rebuild
from shared.digest import digests
from shared.migrate import alembic_config
from tests.conftest import SUPERUSER, owner_engine
from tests.integration.test_deposits_api import deposit_received
from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.support import approved, auth, collection_run, eventually, executed, kzt, unique

PROJECTED = {
    "invoicing.AccountOpened", "invoicing.AccountTermsAmended", "invoicing.PrepaymentRequested",
    "invoicing.RestrictionNoticeIssued", "invoicing.SupplyRestricted", "invoicing.SupplyRestored",
    "invoicing.InvoiceIssued", "invoicing.PaymentReceived", "invoicing.PaymentAllocated",
    "invoicing.PenaltyAccrued", "invoicing.PenaltyWaived", "invoicing.PaymentReversed", "invoicing.BaseRateSet",
    "invoicing.UnidentifiedReceiptRecorded", "invoicing.ReceiptAssigned", "invoicing.RefundIssued",
    "invoicing.TerminationNoticeIssued", "invoicing.PenaltyRecalculated", "invoicing.RefundPaidOut",
    "invoicing.ReconciliationDiscrepancyRecorded", "invoicing.RestrictionNoticeWithdrawn",
    "invoicing.TerminationNoticeWithdrawn", "invoicing.PenaltyReversed", "invoicing.InstallmentAgreementConcluded",
    "invoicing.InstallmentAgreementBroken", "invoicing.DebtWrittenOff", "invoicing.DebtRecovered",
    # security: the deposit (`deposit.held`) and bank guarantees
    "invoicing.DepositRequested", "invoicing.DepositReceived", "invoicing.DepositApplied", "invoicing.DepositReturned",
    "invoicing.BankGuaranteeRecorded", "invoicing.BankGuaranteeCalled",
    # collection runs (`collection_projection.py`)
    "invoicing.CollectionRunProposed", "invoicing.CollectionLinesProposed", "invoicing.CollectionRunApproved",
    "invoicing.CollectionRunDeclined", "invoicing.CollectionLineExecuted", "invoicing.CollectionReversalRequested",
    "invoicing.CollectionLineReversed", "invoicing.RequestDeclined",
    # requests awaiting a second person (`request_projection.py`)
    "invoicing.PaymentReversalRequested", "invoicing.PenaltyWaiverRequested", "invoicing.RefundRequested",
    "invoicing.InstallmentAgreementProposed", "invoicing.WriteOffRequested", "invoicing.DepositApplicationRequested",
    "invoicing.DepositReturnRequested",
    # the ESF register (§5.5)
    "invoicing.EsfRegistered",
}


async def pay(client, contract_id: str, reference: str, amount: str, on: str) -> None:
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": reference, "received_on": on,
        "amount": {"amount": amount, "currency": "KZT"}, "purpose": "replay \"test\"\tline"})
    assert paid.status_code == 201, paid.text


async def accrue(client, contract_id: str, as_of: str) -> list[dict]:
    """Penalties charged up to `as_of` (`POST …/penalties/accrue`): the events recorded."""
    accrued = await client.post(f"/accounts/{contract_id}/penalties/accrue", json={"as_of": as_of}, headers=auth())
    assert accrued.status_code == 201, accrued.text
    return accrued.json()


async def reverse(client, run: dict, action: str, reversed_on: str, *, decline: bool = False) -> None:
    """The executed line of `action` reversed by its counter-event: asked by one person of collections, approved
    (or declined) by another."""
    [line] = [line for line in run["lines"] if line["action"] == action and line["status"] == "executed"]
    asked = await client.post(f"/collection-runs/{run['run']['run_id']}/lines/{line['line_id']}/reverse",
                              headers=auth("collections"), json={"reason": "taken back", "reversed_on": reversed_on})
    assert asked.status_code == 202, asked.text
    [request] = asked.json()
    verb = "decline" if decline else "approve"
    answered = await client.post(f"/approvals/{request['request_id']}/{verb}", headers=auth("collections-2"),
                                 json={"reason": "the notice stands"} if decline else None)
    assert answered.status_code == 201, answered.text


async def a_history_of_every_kind(system) -> None:
    client = system.clients["invoicing"]
    contract_id = await signed_contract(system)
    # §5.3 prepayments for January, none paid: a notice, then the restriction, then a payment lifts it
    requested = await client.post(f"/accounts/{contract_id}/prepayments",
                                  json={"period": "2022-01", "requested_on": "2021-12-20"}, headers=auth())
    assert requested.status_code == 201, requested.text
    assert executed(await collection_run(client, "2021-12-29", [contract_id])) == ["restriction_notice"]
    restricted = await collection_run(client, "2022-01-05", [contract_id])
    assert executed(restricted) == ["restriction"]
    # the restriction taken back (its notice withdrawn, supply restored): asked once and declined, then approved
    await reverse(client, restricted, "restriction", "2022-01-06", decline=True)
    await reverse(client, restricted, "restriction", "2022-01-06")
    restoring = unique("RP")
    await pay(client, contract_id, restoring, "151760.00", "2022-01-14")
    # January's act: 470,456.00 invoiced, the 151,760.00 advance applied at once, the rest paid late
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "318696.00")
    await pay(client, contract_id, unique("LATE"), "318696.00", "2022-03-01")
    penalty = next(e for e in await accrue(client, contract_id, "2022-03-31") if "late_item_id" in e)
    waived = await client.post(f"/accounts/{contract_id}/penalties/{penalty['document_number']}/waive",
                               headers=auth(), json={"reason": "goodwill", "waived_on": "2022-04-01",
                                                     "amount": {"amount": "100.00", "currency": "KZT"}})
    await approved(client, waived)
    # a second waiver of it asked and left awaiting its second person (`pending_requests` holds it)
    asked = await client.post(f"/accounts/{contract_id}/penalties/{penalty['document_number']}/waive",
                              headers=auth(), json={"reason": "goodwill again", "waived_on": "2022-04-01",
                                                    "amount": {"amount": "50.00", "currency": "KZT"}})
    assert asked.status_code == 202, asked.text
    rate = await client.post("/base-rates", headers=auth("admin"), json={
        "effective_from": "2031-01-01", "rate_percent": "11.5", "source": "NBK\\decision\n2031"})
    assert rate.status_code == 201, rate.text
    # a receipt nobody could be matched to, then assigned by an operator: it pays the open penalty
    stranger = unique("UNK")
    csv = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
           f"{stranger},2022-04-05,5000.00,KZT,990740003844,,no contract \\named,\n")
    imported = await client.post("/payments/import", params={"format": "csv"}, content=csv.encode(), headers=auth())
    assert imported.json()["totals"] == {"unidentified": 1}, imported.text
    assigned = await client.post(f"/receipts/{stranger}/assign", json={"contract_id": contract_id}, headers=auth())
    assert assigned.status_code == 201, assigned.text
    async with system["invoicing"].engine.connect() as conn:
        owner = await conn.scalar(text("SELECT assigned_to FROM unidentified_receipts WHERE bank_reference = :r"),
                                  {"r": stranger})
    assert owner == contract_id
    # the payment that lifted the restriction was a mistake: reversed, the debts it paid reopen
    await approved(client, await client.post(f"/payments/{restoring}/reverse", headers=auth(), json={
        "contract_id": contract_id, "reason": "posted twice", "reversed_on": "2022-04-10"}))
    # January's invoice (due 2022-02-08) is open again, more than 30 days late: a run proposes its penalty, a §7.1.1
    # notice and (a restriction notice and the late January: two breaches) a §11.2 withdrawal; the withdrawal is
    # left out, the rest sent once a second person of collections approves; then the notice and the penalty are
    # taken back
    proposed = await client.post("/collection-runs", headers=auth("collections"),
                                 json={"business_date": "2022-04-11", "contract_ids": [contract_id]})
    lines = (await client.get(f"/collection-runs/{proposed.json()['run_id']}/lines", headers=auth())).json()["items"]
    assert [line["action"] for line in lines] == ["penalty", "termination_notice", "withdrawal_notice"]
    # a run numbers its lines in order: the same account on the same day gives the withdrawal the same line id
    ending = await collection_run(client, "2022-04-11", [contract_id], excluded=[
        {"line_id": lines[2]["line_id"], "reason": "30 days' notice is enough"}])
    assert [line["status"] for line in ending["lines"]] == ["executed", "executed", "excluded"]
    await reverse(client, ending, "termination_notice", "2022-04-12")
    await reverse(client, ending, "penalty", "2022-04-12")
    declined = await client.post(f"/collection-runs/{proposed.json()['run_id']}/decline", headers=auth("collections"),
                                 json={"reason": "proposed twice"})
    assert declined.status_code == 201, declined.text
    # a price notice in the contracts service becomes the ledger's AccountTermsAmended
    noticed = await system.clients["contracts"].post(
        f"/contracts/{contract_id}/amendments/price-notice", headers=auth(), json={
            "notice_number": "PN-R", "notice_date": "2022-06-01", "effective_from": "2022-07-01",
            "components": [{"code": "cap_tariff", "rate_per_kwh": "12.50"},
                           {"code": "res_surcharge", "rate_per_kwh": "1.58"}]})
    assert noticed.status_code == 200, noticed.text

    async def amended():
        async with system["invoicing"].engine.connect() as conn:
            return await conn.scalar(text("SELECT count(*) FROM event_store WHERE event_type = "
                                          "'invoicing.AccountTermsAmended' AND contract_id = :c"), {"c": contract_id})

    await eventually(amended)

    # a second account: invoiced, overpaid, refunded after the term
    other = await signed_contract(system)
    await publish_act(system, other, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, other, "470456.00")
    # §5.5 its ESF registered in IS ESF, late (due by 20 February)
    number = (await client.get(f"/accounts/{other}", headers=auth())).json()["contract_number"]
    esf = await client.post(f"/invoices/INV-{number}-2022-01/esf", headers=auth(),
                            json={"registration_number": "ESF\\R-1", "issued_on": "2022-02-21"})
    assert esf.status_code == 201, esf.text
    await pay(client, other, unique("OVER"), "500000.00", "2022-02-07")
    # the last month is invoiced before the refund (§5.8): December 1,000 kWh = 15,176.00, paid from the advance
    await publish_act(system, other, "act-2022-12", "2022-12", "1000", "2023-01-05")
    await wait_for_debt(system, other, "0.00")

    async def december_invoiced():
        async with system["invoicing"].engine.connect() as conn:
            return await conn.scalar(text("SELECT count(*) FROM debts WHERE contract_id = :c AND period = '2022-12'"),
                                     {"c": other})

    await eventually(december_invoiced)
    refunded = await client.post(f"/accounts/{other}/refund", json={"refund_on": "2023-01-10"}, headers=auth())
    refund = (await approved(client, refunded)).json()[-1]
    paid_out = await client.post(f"/refunds/{refund['document_number']}/payout", headers=auth(),
                                 json={"payment_order_number": "PP-1", "payment_order_date": "2023-01-11"})
    assert paid_out.status_code == 201, paid_out.text

    # a third: January charged with penalties through February, then a bank statement that came late says
    # the money moved on 2022-02-20: the penalty of Feb 21–28 is taken back by a recalculation
    late = await signed_contract(system)
    await publish_act(system, late, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, late, "470456.00")
    accrued = await client.post(f"/accounts/{late}/penalties/accrue", json={"as_of": "2022-02-28"}, headers=auth())
    assert accrued.status_code == 201, accrued.text
    # the buyer promised to pay January by 10 March: a run of 1 March holds the invoice out, and proposes nothing
    invoice = accrued.json()[0]["late_item_id"]
    promised = await client.post(f"/accounts/{late}/promises", headers=auth("collections"), json={
        "documents": [invoice], "promised_on": "2022-02-25", "pay_by": "2022-03-10"})
    assert promised.status_code == 201, promised.text
    held = await collection_run(client, "2022-03-01", [late])
    assert (held["lines"], held["run"]["held"]) == ([], 1)
    # §5.6 the buyer's books give January 470,000.00 charged where the act says 470,456.00 (0 + 470,456.00 − 0):
    # a discrepancy of 456.00, its cause recorded against the act
    discrepancy = await client.post(f"/accounts/{late}/reconciliation/discrepancies", headers=auth(), json={
        "month": "2022-01", "cause": "the buyer booked the invoice without its VAT rounding",
        "buyer": {"opening_balance": kzt("0.00"), "charged": kzt("470000.00"), "paid_or_credited": kzt("0.00"),
                  "closing_balance": kzt("470000.00")}})
    assert discrepancy.status_code == 201, discrepancy.text
    assert discrepancy.json()["difference"] == kzt("456.00")
    await pay(client, late, unique("VALUED"), "470456.00", "2022-02-20")

    # a fourth: January in an installment agreement (two installments from 15 April), the first missed: the day
    # close of 16 April breaks it and cancels the second's interest
    scheduled = await signed_contract(system)
    await publish_act(system, scheduled, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, scheduled, "470456.00")
    statement = (await client.get(f"/accounts/{scheduled}/statement", headers=auth())).json()
    invoice = next(line["document"] for line in statement["lines"] if line["kind"] == "invoice")
    asked = await client.post(f"/accounts/{scheduled}/agreements", headers=auth("collections"), json={
        "document_number": "AG-R", "documents": [invoice], "concluded_on": "2022-03-15", "first_due": "2022-04-15",
        "installments": 2, "rate_percent": "10.5"})
    await approved(client, asked, by="collections-2")
    closed = await client.post("/day-close", headers=auth("collections"), json={"day": "2022-04-16"})
    assert "invoicing.InstallmentAgreementBroken" in closed.json()["events"][scheduled], closed.text
    # then everything it owes (January, the first installment's interest; the second's was cancelled) written off
    # as uncollectable (four eyes), and a late payment recovers part of it
    written = await client.post(f"/accounts/{scheduled}/write-offs", headers=auth("collections"), json={
        "documents": [invoice, "AG-R-1"], "reason": "the buyer is in bankruptcy", "written_off_on": "2022-04-20"})
    await approved(client, written, by="collections-2")
    await wait_for_debt(system, scheduled, "0.00")
    await pay(client, scheduled, unique("REC"), "1000.00", "2022-05-02")

    # a fifth, secured: a deposit of 500,000.00 held; the guarantor bank pays 300,000.00 of January past due (a call
    # of 1 March); after the term, with December invoiced (1,000 kWh = 15,176.00), the deposit pays what is open
    # (170,456.00 + 15,176.00 and the penalties to the day) and the rest is returned by two people of the treasury
    secured = await signed_contract(system)
    await deposit_received(system, secured, "500000.00")
    await publish_act(system, secured, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, secured, "470456.00")
    guarantee = await client.post(f"/accounts/{secured}/guarantees", headers=auth("collections"), json={
        "guarantee_number": "BG-R", "bank_name": "Halyk Bank", "bank_bic": "HSBKKZKX", "amount": kzt("300000.00"),
        "valid_from": "2022-01-01", "valid_until": "2022-12-31", "recorded_on": "2022-01-05"})
    assert guarantee.status_code == 201, guarantee.text
    called = await client.post(f"/accounts/{secured}/guarantees/BG-R/calls", headers=auth("collections"), json={
        "bank_reference": unique("BG"), "amount": kzt("300000.00"), "called_on": "2022-03-01"})
    assert called.status_code == 201, called.text
    # collections asks to apply 100,000.00 of the deposit early; the second person declines: nothing moves
    asked = await client.post(f"/accounts/{secured}/deposits/applications", headers=auth("collections"), json={
        "amount": kzt("100000.00"), "reason": "January unpaid a month", "applied_on": "2022-03-10"})
    assert asked.status_code == 202, asked.text
    declined = await client.post(f"/approvals/{asked.json()[0]['request_id']}/decline", headers=auth("collections-2"),
                                 json={"reason": "the guarantee covers it"})
    assert declined.status_code == 201, declined.text
    await publish_act(system, secured, "act-2022-12", "2022-12", "1000", "2023-01-05")
    await wait_for_debt(system, secured, "185632.00")
    returned = await approved(client, await client.post(f"/accounts/{secured}/deposits/return", headers=auth(
        "treasury"), json={"returned_on": "2023-01-10", "payment_order_number": "PP-R"}), by="treasury-2")
    assert returned.json()[-1]["payment_order_number"] == "PP-R", returned.text


@pytest.fixture(scope="module")
async def history(system):
    await a_history_of_every_kind(system)
    return system


@pytest.mark.parametrize(("step", "workers"), [(1, 1), (2, 1), (5, 1), (50_000, 1), (1, 2), (50_000, 2)])
async def test_a_rebuild_in_steps_equals_what_the_commands_wrote(history, monkeypatch, step, workers):
    service = history["invoicing"]
    monkeypatch.setattr(projection, "REBUILD_STEP", step)
    monkeypatch.setattr(rebuild, "worker_count", lambda events: workers)
    in_workers, fold_in_workers = [], rebuild._fold_in_workers

    async def spied(url, snapshot, parts, *rest):
        in_workers.append(len(parts))
        await fold_in_workers(url, snapshot, parts, *rest)

    monkeypatch.setattr(rebuild, "_fold_in_workers", spied)
    async with service.engine.connect() as conn:
        types = set((await conn.execute(text("SELECT DISTINCT event_type FROM event_store"))).scalars())
        assert PROJECTED <= types, PROJECTED - types
        assert set(projection._FOLDS) <= PROJECTED, set(projection._FOLDS) - PROJECTED   # every projected type
        # a termination notice proposed is a request only older histories hold (collection runs propose now)
        requests = set(request_projection.DESK_OF) - {"invoicing.TerminationNoticeProposed"}
        assert requests <= PROJECTED, requests - PROJECTED
        live = await digests(conn, service.projector.tables)
        events = await service.store.count(conn)
        replayed = await service.projector.rebuild(conn, service.store)
        rebuilt = await digests(conn, service.projector.tables)
        await conn.rollback()   # the proof must not disturb the running service
    assert replayed == events
    assert in_workers == ([2] if workers == 2 else [])   # two processes, one range of accounts each
    assert rebuilt == live
    assert all(count for count, _ in live.values()), live


async def test_a_rebuild_into_bare_tables_equals_what_the_commands_wrote(history):
    """As `ledger replay` runs as the owner: the tables emptied and without keys and indexes while the rows
    go in, then keyed again; the same rows, and every key and index back."""
    service = history["invoicing"]
    tables = service.projector.tables
    indexes = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:t) ORDER BY indexname"
    async with owner_engine(service.engine) as owner, owner.connect() as conn:
        live = await digests(conn, tables)
        before = (await conn.execute(text(indexes), {"t": tables})).all()
        await conn.execute(text(f"TRUNCATE {', '.join(tables)}"))
        finish = await bare_for_loading(conn, "public", tables)
        assert (await conn.execute(text(indexes), {"t": tables})).all() == []
        await service.projector.rebuild(conn, service.store)
        for statement in finish:
            await conn.execute(text(statement))
        assert await digests(conn, tables) == live
        assert (await conn.execute(text(indexes), {"t": tables})).all() == before
        await conn.rollback()   # the proof must not disturb the running service


async def test_the_migration_fills_the_pending_requests_the_commands_left(history):
    """`0016` builds `pending_requests` from the events of a store that had none: taken back to `0015` and
    migrated again, the table holds exactly the rows the commands wrote (the waiver left awaiting approval; the
    requests approved or declined in the history not)."""
    service = history["invoicing"]
    read = text("SELECT request_id, contract_id, position, action, desk, requested_by, requested_at"
                " FROM pending_requests ORDER BY position")
    async with service.engine.connect() as conn:
        live = (await conn.execute(read)).all()
    assert [row.action for row in live] == ["invoicing.PenaltyWaiverRequested"]
    url = service.engine.url.set(username=SUPERUSER).render_as_string(hide_password=False)
    config = alembic_config("invoicing", url)
    await asyncio.to_thread(command.downgrade, config, "0015")
    await asyncio.to_thread(command.upgrade, config, "0016")
    async with service.engine.connect() as conn:
        assert (await conn.execute(read)).all() == live
