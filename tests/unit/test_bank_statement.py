"""Proves the bank statement reader on a CP1251 1C file in the Kazakh variant (upper-case keys,
quoted section names, no КонецФайла, an impossible date, an outgoing payment) and on CSV (a line with a NUL is a problem, not a receipt), and that
receipts are matched to contracts by payer and contract number."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from services.invoicing.bank.statement import Candidate, decode, match_contract, parse_1c, parse_csv

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "statement_1c_kz.txt"


def test_reads_the_kazakh_1c_statement():
    parsed = parse_1c(FIXTURE.read_bytes().replace(b"{NUMBER}", "01/2021-85".encode("cp1251")))
    assert parsed.encoding == "cp1251"
    assert parsed.account == "KZ508562203110368585"
    assert [(r.line, r.amount, r.received_on, r.payer_bin) for r in parsed.receipts] == [
        (15, Decimal("470456.00"), date(2022, 2, 7), "110740003844"),
        (29, Decimal("150000.00"), date(2022, 2, 8), "090840008604"),
    ]
    assert parsed.receipts[0].bank_reference == "1c:110740003844:NT-475719:2022-02-07:470456.00"
    assert parsed.receipts[0].payer_name == 'ТОО "Т-Транзит"'
    assert [(p.line, p.reason) for p in parsed.problems] == [(38, "invalid_date")]  # 31.02.2022
    assert parsed.skipped_outgoing == 1


def test_encodings_are_detected():
    assert decode("Кодировка=Windows".encode("utf-8")) == ("Кодировка=Windows", "utf-8")
    assert decode(b"\xef\xbb\xbf" + "ВерсияФормата=2.00".encode("utf-8"))[1] == "utf-8"
    assert decode("1CClientBankExchange\nКодировка=DOS\n".encode("cp866"))[1] == "cp866"


def test_not_a_1c_file_is_one_clear_problem():
    parsed = parse_1c(b"hello")
    assert [(p.reason, p.line) for p in parsed.problems] == [("not_1c_exchange", 1)]
    assert parsed.receipts == []


def test_csv_lines_and_their_problems():
    raw = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
           "R1,2022-02-07,470456.00,KZT,110740003844,,январь,01/2021-85\n"
           "R2,2022-02-30,10,KZT,110740003844,,bad date,\n"
           "R3,2022-02-08,-5,KZT,110740003844,,negative,\n"
           ",2022-02-08,5,KZT,110740003844,,no reference,\n"
           "R6,2022-02-08,5,KZT,110740003844,,damaged\x00purpose,\n").encode()
    parsed = parse_csv(raw)
    assert [(r.bank_reference, r.amount, r.contract_number) for r in parsed.receipts] == [
        ("R1", Decimal("470456.00"), "01/2021-85")]
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (3, "invalid_line"), (4, "non_positive_amount"), (5, "missing_bank_reference"), (6, "control_character")]


def test_matching_by_payer_and_number_in_purpose():
    parsed = parse_1c(FIXTURE.read_bytes().replace(b"{NUMBER}", "01/2021-85".encode("cp1251")))
    receipt = parsed.receipts[0]
    one = Candidate("c-85", "01/2021-85", "110740003844", None)
    other = Candidate("c-86", "01/2021-86", "110740003844", None)
    assert match_contract(receipt, [one, other]) == ("c-85", "payer_and_number_in_purpose")
    assert match_contract(receipt, [one]) == ("c-85", "payer_and_number_in_purpose")
    stranger = parsed.receipts[1]
    assert match_contract(stranger, [one, other]) == (None, "unknown_payer")
    vague = parsed.receipts[0].__class__(**{**receipt.__dict__, "purpose": "оплата"})
    assert match_contract(vague, [one, other]) == (None, "ambiguous")
    assert match_contract(vague, [one]) == ("c-85", "payer_only")
