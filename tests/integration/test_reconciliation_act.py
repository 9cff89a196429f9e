"""Proves on the real services the §5.5/§5.6 reconciliation act as the buyer books it: January's invoice, issued
on 1 February, is dated by its ESF date 31 January (its issue date beside it), so January's act and February's
agree with the buyer's books; and a discrepancy the buyer's books still show is recorded against the act by the
billing desk with its cause and the corrections that settle it, read back with the act, refused with its reason
(month not over, figures that agree or do not add up, another desk) and then recording nothing. Figures by hand."""

from __future__ import annotations

from tests.integration.test_ledger_api import event_count, publish_act, signed_contract, wait_for_debt
from tests.support import auth, kzt, unique


def figures(opening: str, charged: str, paid: str, closing: str) -> dict:
    return {"opening_balance": kzt(opening), "charged": kzt(charged), "paid_or_credited": kzt(paid),
            "closing_balance": kzt(closing)}


async def test_the_act_dates_invoices_by_turnover_and_records_the_buyers_discrepancy(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    paid = await client.post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": unique("RA"), "received_on": "2022-01-28",
        "amount": kzt("400000.00"), "purpose": "за январь"})
    assert paid.status_code == 201, paid.text
    # January's invoice, issued 2022-02-01: 470,456.00, the 400,000.00 held pays part of it
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "70456.00")

    async def act(month: str) -> dict:
        answer = await client.get(f"/accounts/{contract_id}/reconciliation", params={"month": month}, headers=auth())
        assert answer.status_code == 200, answer.text
        return answer.json()

    january = await act("2022-01")
    # 0 + 470,456.00 (the invoice on its ESF date 31 Jan) − 400,000.00 (28 Jan) = 70,456.00
    assert {k: january[k]["amount"] for k in ("opening_balance", "charged", "paid_or_credited", "closing_balance")} \
        == {"opening_balance": "0.00", "charged": "470456.00", "paid_or_credited": "400000.00",
            "closing_balance": "70456.00"}
    assert [(d["date"], d["issued_on"], d["kind"], d["amount"]["amount"]) for d in january["documents"]] == [
        ("2022-01-28", None, "payment", "-400000.00"), ("2022-01-31", "2022-02-01", "invoice", "470456.00")]
    assert january["discrepancies"] == []
    # February opens where January closed and moves no money: 70,456.00 throughout
    february = await act("2022-02")
    assert (february["opening_balance"]["amount"], february["charged"]["amount"],
            february["closing_balance"]["amount"], february["documents"]) == ("70456.00", "0.00", "70456.00", [])

    # the buyer booked its payment order on 1 Feb: 0 + 470,456.00 − 0 = 470,456.00
    buyer = figures("0.00", "470456.00", "0.00", "470456.00")
    before = await event_count(system)
    refusals = [
        ({"month": "2022-01", "buyer": figures("0.00", "470456.00", "400000.00", "70456.00")}, 409, "no_discrepancy"),
        # 0 + 470,456.00 − 0 is not 470,000.00
        ({"month": "2022-01", "buyer": figures("0.00", "470456.00", "0.00", "470000.00")}, 422,
         "figures_do_not_add_up"),
        ({"month": "2099-01", "buyer": buyer}, 409, "month_not_over"),
    ]
    for body, status, reason in refusals:
        refused = await client.post(f"/accounts/{contract_id}/reconciliation/discrepancies", headers=auth("billing"),
                                    json={"cause": "traced", **body})
        assert (refused.status_code, refused.json()["reason"]) == (status, reason), refused.text
    other_desk = await client.post(f"/accounts/{contract_id}/reconciliation/discrepancies", headers=auth("treasury"),
                                   json={"month": "2022-01", "buyer": buyer, "cause": "traced"})
    assert other_desk.status_code == 403
    assert await event_count(system) == before

    recorded = await client.post(f"/accounts/{contract_id}/reconciliation/discrepancies", headers=auth("billing"),
                                 json={"month": "2022-01", "buyer": buyer,
                                       "cause": "the buyer booked payment order 123 on 1 Feb, its value date 28 Jan",
                                       "corrections": [{"side": "buyer", "document": "п/п 123 от 28.01.2022",
                                                        "amount": kzt("-400000.00"),
                                                        "description": "booked on its value date"}]})
    assert recorded.status_code == 201, recorded.text
    # 70,456.00 − 470,456.00 = −400,000.00; the buyer's correction −400,000.00 leaves nothing open
    assert (recorded.json()["difference"], recorded.json()["open_difference"], recorded.json()["settled"]) == (
        kzt("-400000.00"), kzt("0.00"), True)
    [read] = (await act("2022-01"))["discrepancies"]
    assert read == recorded.json()
    assert (read["seller"]["closing_balance"], read["buyer"]["closing_balance"]) == (kzt("70456.00"),
                                                                                      kzt("470456.00"))
    # the act's own figures are unchanged: a discrepancy moves no money
    assert (await act("2022-01"))["closing_balance"] == kzt("70456.00")
