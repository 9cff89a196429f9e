"""Proves on the real services, database and broker that the documents a clerk sends or signs print the figures
their events recorded — the prepayment invoice of a §5.3 block and a month's invoice (§5.4), with both parties'
requisites, and metering's volume act for signature (§4.13) with its points and meters — read back from the PDF's
text (figures derived by hand beside) — and that the ESF register (§5.5) records an invoice's
ESF once (a repeat records nothing, another number is refused, so are an unknown invoice, a day in the future and a
day before the ESF's date) and lists a month's invoices as registered, late, due or overdue on a day."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader

from tests.integration.test_ledger_api import event_count, publish_act, signed_contract, wait_for_debt
from tests.support import auth, unique_meters


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


async def number_of(system, contract_id: str) -> str:
    return (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).json()[
        "contract_number"]


async def test_the_prepayment_invoice_prints_the_blocks_figures_and_both_parties(system):
    client = system.clients["invoicing"]
    contract_id = await signed_contract(system)
    requested = await client.post(f"/accounts/{contract_id}/prepayments",
                                  json={"period": "2022-01", "requested_on": "2021-12-20"}, headers=auth())
    assert requested.status_code == 201, requested.text
    block = next(d for d in requested.json() if d["first_day"] == "2022-01-01")

    response = await client.get(f"/accounts/{contract_id}/prepayment.pdf", params={"document": block["document_number"]},
                                headers=auth())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Счёт на предоплату" in text and block["document_number"] in text
    # 1–10 January of a 31,000 kWh January: 10 days × 1,000 kWh = 10,000 kWh;
    # cap_tariff 10,000 × 11.97 = 119,700.00, VAT 12% 14,364.00; res_surcharge 10,000 × 1.58 = 15,800.00, VAT 1,896.00
    # net 135,500.00 + VAT 16,260.00 = 151,760.00, due 3 banking days before Sat 1 January: Fri 31, Thu 30, Wed 29
    assert "2022-01-01" in text and "2022-01-10" in text and "10 дн." in text
    for figure in ("10 000.000", "11.97", "1.58", "119 700.00 KZT", "14 364.00 KZT", "15 800.00 KZT", "1 896.00 KZT",
                   "135 500.00 KZT", "16 260.00 KZT", "151 760.00 KZT", "2021-12-29"):
        assert figure in text, figure
    # the seller's and the buyer's requisites (the seed contract's)
    for requisite in ("Текелийский энергокомплекс", "090840008604", "KZ508562203110368585", "Т-Транзит"):
        assert requisite in text, requisite

    missing = await client.get(f"/accounts/{contract_id}/prepayment.pdf", params={"document": "PRE-none"},
                               headers=auth())
    assert (missing.status_code, missing.json()["reason"]) == (404, "prepayment_not_found")


async def test_the_invoice_prints_the_acts_charge_due_date_and_esf_deadline(system):
    client = system.clients["invoicing"]
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    document = f"INV-{await number_of(system, contract_id)}-2022-01"

    response = await client.get(f"/accounts/{contract_id}/invoice.pdf", params={"document": document},
                                headers=auth())
    assert response.status_code == 200, response.text
    text = pdf_text(response.content)
    assert "Счёт-фактура" in text and document in text and "act-2022-01" in text
    # 31,000 kWh as the act gave it: cap_tariff × 11.97 = 371,070.00 (VAT 44,528.40), res_surcharge × 1.58 = 48,980.00 (VAT 5,877.60);
    # net 420,050.00, VAT 50,406.00, total 470,456.00; due 5 banking days after Tue 1 February: 2, 3, 4, 7, 8;
    # the ESF dated 31 January, due by 20 February
    for figure in ("31000 кВт·ч", "31 000 11.97", "371 070.00 KZT", "44 528.40 KZT", "48 980.00 KZT", "5 877.60 KZT",
                   "420 050.00 KZT", "50 406.00 KZT", "470 456.00 KZT", "2022-02-08", "2022-01-31", "2022-02-20"):
        assert figure in text, figure
    assert "Т-Транзит" in text

    missing = await client.get(f"/accounts/{contract_id}/invoice.pdf", params={"document": "INV-none"},
                               headers=auth())
    assert (missing.status_code, missing.json()["reason"]) == (404, "invoice_not_found")


async def register(client, document: str, number: str, issued_on: str, who: str = "billing"):
    return await client.post(f"/invoices/{document}/esf", json={"registration_number": number,
                                                                 "issued_on": issued_on}, headers=auth(who))


async def register_of(client, contract_id: str, month: str, on: str) -> dict:
    found = await client.get("/esf-register", params={"month": month, "on": on, "contract_id": contract_id},
                             headers=auth())
    assert found.status_code == 200, found.text
    return found.json()


async def test_the_esf_register_records_each_invoices_esf_once_and_says_which_are_overdue(system):
    client = system.clients["invoicing"]
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    await publish_act(system, contract_id, "act-2022-02", "2022-02", "25000", "2022-03-01")
    # February: 25,000 kWh × 13.55 = 338,750.00 + VAT 12% 40,650.00 = 379,400.00, on top of January's
    await wait_for_debt(system, contract_id, "849856.00")
    number = await number_of(system, contract_id)
    january, february = f"INV-{number}-2022-01", f"INV-{number}-2022-02"

    # January's ESF (dated 31 January, due by 20 February) issued on 15 February: on time
    registered = await register(client, january, "ESF-KZ-0001", "2022-02-15")
    assert registered.status_code == 201, registered.text
    assert {k: registered.json()[k] for k in ("contract_id", "registration_number", "issued_on", "esf_deadline",
                                              "late", "repeated")} == {
        "contract_id": contract_id, "registration_number": "ESF-KZ-0001", "issued_on": "2022-02-15",
        "esf_deadline": "2022-02-20", "late": False, "repeated": False}
    recorded = await event_count(system)
    again = await register(client, january, "ESF-KZ-0001", "2022-02-15")
    assert (again.status_code, again.json()["repeated"]) == (201, True)
    assert await event_count(system) == recorded   # a repeat records nothing
    for refused, status, reason in [
            (await register(client, january, "ESF-KZ-0002", "2022-02-15"), 409, "esf_already_registered"),
            (await register(client, "INV-none-2022-01", "ESF-KZ-0003", "2022-02-15"), 404, "invoice_not_found"),
            (await register(client, february, "ESF-KZ-0004", "2099-01-01"), 409, "business_date_in_future"),
            # February's ESF is dated 28 February: it cannot be issued on the 27th
            (await register(client, february, "ESF-KZ-0005", "2022-02-27"), 409, "esf_before_its_date"),
            (await register(client, february, "ESF-KZ-0006", "2022-03-10", who="treasury"), 403, "role_not_allowed")]:
        assert (refused.status_code, refused.json()["reason"]) == (status, reason), refused.text
    assert await event_count(system) == recorded   # a refusal records nothing
    assert (await register(client, january, "ESF-KZ-0002", "2022-02-15")).json()["details"] == {
        "registration_number": "ESF-KZ-0001", "issued_on": "2022-02-15"}

    # February's ESF is due by 20 March: still due on the 20th, overdue from the 21st
    on_the_20th = await register_of(client, contract_id, "2022-02", "2022-03-20")
    assert [(i["invoice_document"], i["status"], i["overdue"]) for i in on_the_20th["items"]] == [
        (february, "due", False)]
    on_the_21st = await register_of(client, contract_id, "2022-02", "2022-03-21")
    assert [(i["invoice_document"], i["esf_deadline"], i["status"], i["overdue"], i["total"]["amount"])
            for i in on_the_21st["items"]] == [(february, "2022-03-20", "overdue", True, "379400.00")]
    assert on_the_21st["counts"] == {"invoices": 1, "registered": 0, "late": 0, "due": 0, "overdue": 1}
    # issued at last on 25 March: registered late, and no longer among the ESFs waiting for billing
    waiting = await client.get("/reports/work-waiting", params={"on": "2022-03-01"}, headers=auth())
    late = await register(client, february, "ESF-KZ-0007", "2022-03-25")
    assert (late.status_code, late.json()["late"]) == (201, True)
    still = await client.get("/reports/work-waiting", params={"on": "2022-03-01"}, headers=auth())
    assert still.json()["invoices_esf_due"] == waiting.json()["invoices_esf_due"] - 1
    february_register = await register_of(client, contract_id, "2022-02", "2022-03-31")
    assert [(i["status"], i["registration_number"], i["issued_on"]) for i in february_register["items"]] == [
        ("late", "ESF-KZ-0007", "2022-03-25")]
    january_register = await register_of(client, contract_id, "2022-01", "2022-03-31")
    assert january_register["counts"] == {"invoices": 1, "registered": 1, "late": 0, "due": 0, "overdue": 0}
    assert january_register["items"][0]["registration_number"] == "ESF-KZ-0001"


async def test_the_volume_act_prints_the_months_volume_its_meters_and_the_day_it_is_deemed_signed(system):
    metering = system.clients["metering"]
    meters = unique_meters()
    contract_id = await signed_contract(system, meter_serials=meters)
    recorded = await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04", "issued_on": "2022-02-07",
        "meter_volume_kwh": "30880"})
    assert recorded.status_code == 201, recorded.text
    act_id = recorded.json()[1]["act_id"]

    response = await metering.get(f"/acts/{act_id}/act.pdf", headers=auth())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "электроэнергии" in text and act_id in text and contract_id in text and "2022-01" in text
    # the balance's 31,000 kWh against the meters' 30,880: a difference of 120; issued (and received) 7 February,
    # deemed signed 15 calendar days later, on 22 February (§4.14)
    for figure in ("31 000.000 кВт·ч", "30 880.000 кВт·ч", "120.000 кВт·ч", "2022-02-04", "2022-02-07",
                   "2022-02-22"):
        assert figure in text, figure
    # the seed contract's two points, each with its meter and multiplier
    for point in ("VL110-154", "ВЛ-110кВ № 154 ТТЭЦ", meters[0], "44000", "VL35-4", meters[1], "21000"):
        assert point in text, point

    missing = await metering.get("/acts/act-none/act.pdf", headers=auth())
    assert (missing.status_code, missing.json()["reason"]) == (404, "act_not_found")
