"""Proves the bank statement reader on a CP1251 1C file in the Kazakh variant (upper-case keys,
quoted section names, no КонецФайла, an impossible date, an outgoing payment) and on CSV (a line with a
NUL is a problem, not a receipt); that receipts are matched to contracts by payer and contract number;
that references are digests free of BIN and IBAN, unique per bank, distinct for number-less twin
documents and stable across re-reads; that a bad line (unknown currency, amount out of range) is a
problem of that line only, and that a file unreadable as its format is refused whole with its reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.invoicing.bank.references import DocumentFields, document_reference
from services.invoicing.bank.statement import Candidate, decode, match_contract, parse_1c, parse_csv
from shared.errors import MalformedFile
from shared.text import MAX_FIELD_CHARS
from tests.support import incoming_1c, statement_1c

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "statement_1c_kz.txt"


def test_reads_the_kazakh_1c_statement():
    parsed = parse_1c(FIXTURE.read_bytes().replace(b"{NUMBER}", "01/2021-85".encode("cp1251")))
    assert parsed.encoding == "cp1251"
    assert parsed.account == "KZ508562203110368585"
    assert [(r.line, r.amount, r.received_on, r.payer_bin) for r in parsed.receipts] == [
        (15, Decimal("470456.00"), date(2022, 2, 7), "110740003844"),
        (29, Decimal("150000.00"), date(2022, 2, 8), "090840008604"),
    ]
    first = parsed.receipts[0]
    # a digest of the document's identifying fields, the statement's account (the bank) among them
    assert first.bank_reference == document_reference(DocumentFields(
        account="KZ508562203110368585", payer_bin="110740003844", payer_iban="KZ244322203398M00165",
        number="NT-475719", received_on=date(2022, 2, 7), amount=Decimal("470456.00"), currency="KZT",
        purpose=first.purpose), 1)
    assert first.bank_reference.startswith("1c:") and len(first.bank_reference) == 3 + 32
    assert "110740003844" not in first.bank_reference and "KZ244322203398M00165" not in first.bank_reference
    # what the same document was recorded under before references were digests
    assert first.legacy_reference == "1c:110740003844:NT-475719:2022-02-07:470456.00"
    assert parsed.receipts[0].payer_name == 'ТОО "Т-Транзит"'
    assert [(p.line, p.reason) for p in parsed.problems] == [(38, "invalid_date")]  # 31.02.2022
    assert parsed.skipped_outgoing == 1


def test_encodings_are_detected():
    assert decode("Кодировка=Windows".encode("utf-8")) == ("Кодировка=Windows", "utf-8")
    assert decode(b"\xef\xbb\xbf" + "ВерсияФормата=2.00".encode("utf-8"))[1] == "utf-8"
    assert decode("1CClientBankExchange\nКодировка=DOS\n".encode("cp866"))[1] == "cp866"


def test_not_a_1c_file_is_refused_whole():
    with pytest.raises(MalformedFile) as refused:
        parse_1c(b"hello")
    assert refused.value.reason == "not_1c_exchange"


NUMBERLESS = incoming_1c("1000.00", "аванс")


def test_numberless_twins_are_two_operations_and_a_reread_gives_the_same_references():
    raw = statement_1c(NUMBERLESS, NUMBERLESS)
    parsed = parse_1c(raw)
    references = [r.bank_reference for r in parsed.receipts]
    assert len(references) == 2 and len(set(references)) == 2
    assert [r.bank_reference for r in parse_1c(raw).receipts] == references
    # only the first twin can be the one recorded under the old reference (it named neither twin apart)
    assert [r.legacy_reference is not None for r in parsed.receipts] == [True, False]


def test_the_same_document_at_another_bank_is_another_operation():
    here = parse_1c(statement_1c("НомерДокумента=7\n" + NUMBERLESS)).receipts[0]
    elsewhere = parse_1c(statement_1c("НомерДокумента=7\n" + NUMBERLESS, account="KZ11111111111111111")).receipts[0]
    assert here.bank_reference != elsewhere.bank_reference


def test_an_unknown_currency_or_an_amount_out_of_range_is_a_problem_of_its_line_only():
    raw = statement_1c(NUMBERLESS + "Валюта=398\n",
                    NUMBERLESS.replace("1000.00", "1000000000000000.00"),   # 10^15: the ledger's bound
                    NUMBERLESS)
    parsed = parse_1c(raw)
    assert [p.reason for p in parsed.problems] == ["unknown_currency", "amount_out_of_range"]
    assert [r.amount for r in parsed.receipts] == [Decimal("1000.00")]


def test_a_field_beyond_the_bound_refuses_the_file():
    with pytest.raises(MalformedFile) as refused:
        parse_1c(statement_1c(NUMBERLESS + "НазначениеПлатежа=" + "x" * MAX_FIELD_CHARS + "\n"))
    assert refused.value.reason == "field_too_large"
    header = "bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose\n"
    with pytest.raises(MalformedFile) as refused:
        parse_csv((header + "R1,2022-02-07,10,KZT,110740003844,," + "x" * (MAX_FIELD_CHARS + 1) + "\n").encode())
    assert (refused.value.reason, refused.value.details["line"]) == ("field_too_large", 2)


def test_a_csv_without_its_columns_is_refused():
    with pytest.raises(MalformedFile) as refused:
        parse_csv(b"reference,amount\nR1,10\n")
    assert refused.value.reason == "missing_columns"


def test_a_named_bank_qualifies_the_csv_references():
    raw = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose\n"
           "R1,2022-02-07,10,KZT,110740003844,,x\n").encode()
    assert parse_csv(raw).receipts[0].bank_reference == "R1"
    assert parse_csv(raw, "HSBKKZKX").receipts[0].bank_reference == "HSBKKZKX:R1"


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


def test_a_contract_number_is_matched_whole_never_as_a_substring():
    parsed = parse_1c(FIXTURE.read_bytes().replace(b"{NUMBER}", "01/2021-85".encode("cp1251")))
    receipt = parsed.receipts[0]
    short = Candidate("c-85", "01/2021-85", "110740003844", None)
    long = Candidate("c-851", "01/2021-851", "110740003844", None)

    def paying(purpose: str):
        return match_contract(receipt.__class__(**{**receipt.__dict__, "purpose": purpose}), [short, long])

    # "01/2021-85" is inside "01/2021-851": only the whole number counts
    assert paying("Оплата по дог. №01/2021-851 за январь") == ("c-851", "payer_and_number_in_purpose")
    assert paying("по дог. №01/2021-851") == ("c-851", "payer_and_number_in_purpose")
    assert paying("по дог.01/2021-85. Без НДС") == ("c-85", "payer_and_number_in_purpose")
    assert paying("по договору 01/2021-85, январь") == ("c-85", "payer_and_number_in_purpose")
    # a number that goes on ("-852", "-85-1", "-85А") is another number: neither contract, so no guess
    assert paying("по дог. №01/2021-852") == (None, "ambiguous")
    assert paying("по дог. №01/2021-85-1") == (None, "ambiguous")
    assert paying("по дог. №01/2021-85А") == (None, "ambiguous")
    # both cited whole: ambiguous, left unidentified for an operator
    assert paying("по дог. 01/2021-85 и 01/2021-851") == (None, "ambiguous")


def test_a_statement_in_an_encoding_not_recognised_is_refused_with_its_reason():
    written = statement_1c(incoming_1c("100.00", "Оплата по договору 01/2021-85")).decode("cp1251")
    without_header = written.replace("Кодировка=Windows\n", "")
    for raw in (written.encode("koi8-r"), without_header.encode("cp866")):
        with pytest.raises(MalformedFile) as refused:
            parse_1c(raw)
        assert refused.value.reason == "unrecognised_statement"
        assert refused.value.details == {"encoding_tried": "cp1251"}
    # CP866 with its header is read, and says so
    parsed = parse_1c(written.replace("Кодировка=Windows", "Кодировка=DOS").encode("cp866"))
    assert (parsed.encoding, [r.amount for r in parsed.receipts]) == ("cp866", [Decimal("100.00")])
