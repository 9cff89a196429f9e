"""Proves, on the real services and database, that one bad line never aborts the other lines of a bank
statement (an unknown currency "398", an amount of 10^15: `rejected` with the reason, the others
posted, matched or in suspense alike), and that a file no parser can read as its format (not 1C, no
CSV header, a 1C statement in an encoding not recognised (KOI8-R, CP866 without its header), a field over
128 KiB, a NaN in an 80020 value, an encoding no reader knows, bytes that are not UTF-8) is refused whole with a 422 and its reason, recording nothing — never a 500."""

from __future__ import annotations

import pytest

from shared.text import MAX_FIELD_CHARS
from tests.integration.test_ledger_api import account, signed_contract
from tests.security.support import CSV_HEADER, events_in, import_statement
from tests.support import auth, incoming_1c, statement_1c, unique

TOO_LONG = "x" * (MAX_FIELD_CHARS + 1)
BIG = "1000000000000000.00"  # 10^15: the ledger's bound on one amount (shared/money.py)

DAY_80020 = """<?xml version="1.0" encoding="{encoding}"?>
<message class="80020" version="2" number="5">
  <datetime><day>20220202</day></datetime>
  <sender><inn>090840008604</inn><name>TEK</name></sender>
  <area><inn>110740003844</inn><name>T</name>
    <measuringpoint code="01214368" name="VL-110">
      <measuringchannel code="01" desc="A+">
        <period start="0000" end="0030"><value>412</value></period>
        <period start="0030" end="0100"><value>{value}</value></period>
      </measuringchannel>
    </measuringpoint>
  </area>
</message>"""


async def test_a_bad_currency_and_an_amount_out_of_range_do_not_stop_the_other_lines(system):
    contract_id = await signed_contract(system)
    number = (await account(system, contract_id))["contract_number"]
    purpose = f"Оплата по договору {number}"
    raw = statement_1c(incoming_1c("100.00", purpose, number=unique("A")),
                       incoming_1c("200.00", purpose, number=unique("B"), currency="398"),
                       incoming_1c(BIG, purpose, number=unique("C")),
                       incoming_1c("300.00", "Предоплата", payer_bin="090840008604", number=unique("D"),
                                   currency="398"),
                       incoming_1c("400.00", purpose, number=unique("E")))
    response = await import_statement(system, raw)
    assert response.status_code == 200, response.text
    report = response.json()
    assert [(line["outcome"], line.get("reason")) for line in report["lines"]] == [
        ("posted", None), ("rejected", "unknown_currency"), ("rejected", "amount_out_of_range"),
        ("rejected", "unknown_currency"), ("posted", None)]
    # 100.00 + 400.00 = 500.00: the two good lines, nothing of the others
    assert (await account(system, contract_id))["advance"]["amount"] == "500.00"

    csv = (CSV_HEADER + f"{unique('R')},2022-02-07,10.00,KZT,,,x,{number}\n"
                        f"{unique('R')},2022-02-07,10.00,398,,,x,{number}\n"
                        f"{unique('R')},2022-02-07,{BIG},KZT,,,x,{number}\n"
                        f"{unique('R')},2022-02-07,20.00,KZT,,,x,{number}\n").encode()
    lines = (await import_statement(system, csv, "csv")).json()["lines"]
    assert [(line["line"], line["outcome"], line.get("reason")) for line in lines] == [
        (2, "posted", None), (3, "rejected", "unknown_currency"), (4, "rejected", "amount_out_of_range"),
        (5, "posted", None)]
    # 500.00 + 10.00 + 20.00 = 530.00
    assert (await account(system, contract_id))["advance"]["amount"] == "530.00"


# a statement as its bank wrote it, then in encodings the reader does not recognise: KOI8-R, and CP866 without
# the `Кодировка=DOS` header that names it
WRITTEN = statement_1c(incoming_1c("10.00", "Оплата по договору")).decode("cp1251")
STATEMENTS = [
    ("1c", b"hello, not a statement", "not_1c_exchange"),
    ("1c", WRITTEN.encode("koi8-r"), "unrecognised_statement"),
    ("1c", WRITTEN.replace("Кодировка=Windows\n", "").encode("cp866"), "unrecognised_statement"),
    ("1c", statement_1c(incoming_1c("10.00", TOO_LONG)), "field_too_large"),
    ("csv", b"reference,amount\nR1,10\n", "missing_columns"),
    ("csv", (CSV_HEADER + f"R1,2022-02-07,10.00,KZT,,,{TOO_LONG},\n").encode(), "field_too_large"),
    ("csv", (TOO_LONG + "\n").encode(), "field_too_large"),
]


@pytest.mark.parametrize(("format", "raw", "reason"), STATEMENTS,
                         ids=[f"{f}-{reason}-{n}" for n, (f, _, reason) in enumerate(STATEMENTS)])
async def test_a_statement_unreadable_as_its_format_is_refused_whole(system, format, raw, reason):
    before = await events_in(system, "invoicing")
    refused = await import_statement(system, raw, format)
    assert (refused.status_code, refused.json()["reason"]) == (422, reason), refused.text
    assert set(refused.json()) == {"reason", "message", "details"}
    assert await events_in(system, "invoicing") == before


READINGS = [
    ("80020", DAY_80020.format(encoding="utf-8", value="NaN").encode(), "non_finite_value"),
    ("80020", DAY_80020.format(encoding="utf-8", value="-Infinity").encode(), "non_finite_value"),
    ("80020", DAY_80020.format(encoding="x-unknown-1", value="1").encode(), "unreadable_encoding"),
    ("80020", b"<not-closed", "not_xml"),
    ("csv", f"meter_serial,read_at,register_kwh,{TOO_LONG}\n".encode(), "field_too_large"),
    ("csv", f"meter_serial,read_at,register_kwh\n01214368,2022-01-01T00:00:00+06:00,{TOO_LONG}\n".encode(),
     "field_too_large"),
    ("csv", "meter_serial,start,end,value_kwh\n01214368,2022-01-01T00:00:00+06:00,2022-01-01T00:30:00+06:00,1,"
            "one more\n".encode(), "malformed_csv"),
    ("csv", "meter_serial,read_at,register_kwh\n0121436\xe9,2022-01-01T00:00:00+06:00,1\n".encode("latin-1"),
     "unreadable_encoding"),
]


@pytest.mark.parametrize(("format", "raw", "reason"), READINGS,
                         ids=[f"{f}-{reason}-{n}" for n, (f, _, reason) in enumerate(READINGS)])
async def test_a_readings_file_unreadable_as_its_format_is_refused_whole(system, format, raw, reason):
    before = await events_in(system, "metering")
    refused = await system.clients["metering"].post("/readings/import", params={"format": format, "side": "primary"},
                                                    content=raw, headers=auth())
    assert (refused.status_code, refused.json()["reason"]) == (422, reason), refused.text
    assert await events_in(system, "metering") == before
    if format == "80020":  # the sender still gets its 80021 receipt: 3 (format error) or 4 (not XML)
        status = 4 if reason in ("not_xml", "unreadable_encoding") else 3
        assert f'<reply status="{status}"/>' in refused.json()["details"]["receipt_80021"]
