"""Proves invoicing's in-memory fold of its read models (`AccountRows`) without a database: the rows of a hand-computed
invoice and payment, that a history cut into runs anywhere (a command at a time, a rebuild step at a
time) leaves the same tables as one run (hypothesis, with histories decided by the ledger's own rules),
that a rebuild's fold of the stored bytes (`rows_of_contracts`: payloads decoded into Structs, an older schema
upcast) writes what the fold of a command's payloads writes, that a payment's purpose stays sealed in its
statement line, and that COPY's text takes a row's fields in its table's column order (a debt's and a payment's
texts made in one step, a posting row joined already) and escapes tabs, newlines, backslashes and NULLs (a posting
value's tab, which a joined row cannot tell from a separator, refused)."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import vat_rates
from services.invoicing.projection import AccountRows, rows_of_contracts
from services.invoicing.projection_sql import (
    DEBTS,
    LINES,
    PAYMENTS,
    POSTINGS,
    DebtRow,
    LineRow,
    PaymentRow,
    Table,
    _text,
    copy_text,
    posting_values,
    written_whole,
)
from shared import personal_keys
from shared.calendar import WorkingCalendar
from shared.envelope import canonical_json
from shared.events import registry
from shared.events.contracts import ContractSigned
from shared.money import Money
from shared.projector import Fact
from shared.rebuild import RawEvent
from tests.support import sealed_terms, seed_contract

CALENDAR, VAT, KEY = WorkingCalendar(), vat_rates(), personal_keys.new_key()
PURPOSE = "Оплата по договору N-1, Ахметов А."
AT = "2026-01-01T00:00:00+00:00"


def opened() -> tuple[acc.Account, list]:
    terms = sealed_terms(seed_contract("N-1"), "C1")
    events = acc.open_account(ContractSigned(contract_id="C1", signed_at=datetime(2021, 12, 7, tzinfo=UTC),
                                             terms=terms))
    return acc.fold(events), events


def invoice(state, month: int, volume: int) -> list:
    return acc.issue_invoice(state, act_id=f"act-{month}", period=f"2022-{month:02d}", volume_kwh=Decimal(volume),
                             issued_on=date(2022, month, 28), corrects_act_id=None, vat=VAT, calendar=CALENDAR)


def payment(state, n: int, tiyn: int, month: int) -> list:
    return acc.receive_payment(state, payment_id=f"P{n}", bank_reference=f"R{n}",
                               amount=Money.from_minor_units(tiyn, "KZT"), received_on=date(2022, month, 28),
                               payer=None, purpose=personal_keys.seal_text(KEY, "C1", PURPOSE))


def facts_of(events: list) -> list[Fact]:
    return [Fact(n, e.event_type, "C1", n, AT, AT, e.model_dump(mode="json")) for n, e in enumerate(events, start=1)]


class Tables:
    """What `projection_sql.write` does to the tables, in memory: new rows inserted, debts upserted,
    changes added to the rows of earlier runs."""

    def __init__(self) -> None:
        self.accounts, self.debts, self.payments, self.lines, self.postings = {}, {}, {}, [], []

    def write(self, rows: AccountRows) -> None:
        for key, row in rows.accounts.items():
            assert key not in self.accounts
            self.accounts[key] = copy.copy(row)
        for key, change in rows.account_changes.items():
            row = self.accounts[key]
            row.balance, row.advance = row.balance + change.balance, row.advance + change.advance
            row.debt += change.balance + change.advance
            for name in ("version", "contract_number", "buyer_name", "time_zone", "terms"):
                if getattr(change, name) is not None:
                    setattr(row, name, getattr(change, name))
        for key, row in rows.debts.items():
            if key in self.debts:
                self.debts[key].charged += row.charged
                self.debts[key].outstanding += row.outstanding
            else:
                self.debts[key] = copy.copy(row)
        for key, change in rows.debt_changes.items():
            self.debts[key].charged += change.charged
            self.debts[key].outstanding += change.outstanding
        for key, row in rows.payments.items():
            self.payments[key] = copy.deepcopy(row)
        for key, change in rows.payment_changes.items():
            if key in self.payments:
                self.payments[key].allocations += change.allocations
                if change.advance_left is not None:
                    self.payments[key].advance_left = change.advance_left
        self.lines += rows.lines
        self.postings += map(posting_values, rows.postings)   # as `projection_sql.write` sends them

    def state(self) -> tuple:
        return self.accounts, self.debts, self.payments, self.lines, self.postings


def replay(facts: list[Fact], cuts: set[int]) -> Tables:
    tables, rows = Tables(), AccountRows()
    for n, fact in enumerate(facts):
        if n in cuts:
            tables.write(rows)
            rows = AccountRows(rows.currencies)
        rows.fold(fact)
    tables.write(rows)
    return tables


def test_an_invoice_and_its_payment_in_one_run():
    state, events = opened()
    events += invoice(state, 1, 31000)
    state = acc.fold(events)
    # 31,000 kWh × (11.97 + 1.58) = 420,050.00 net; VAT 12% = 50,406.00; total 470,456.00
    events += payment(state, 1, 47045600, 1)
    tables = replay(facts_of(events), cuts=set())
    accounts, debts, payments, lines, postings = tables.state()
    energy, vat = debts[("C1", "INV-N-1-2022-01:energy")], debts[("C1", "INV-N-1-2022-01:vat")]
    assert (energy.charged, energy.outstanding, vat.charged, vat.outstanding) == (Decimal("420050.00"), 0,
                                                                                  Decimal("50406.00"), 0)
    # the buyer owed 470,456.00, paid it: balance and advance back at zero, version of the last event (4)
    assert accounts["C1"].balance == 0 and accounts["C1"].advance == 0 and accounts["C1"].version == 4
    assert [line.kind for line in lines] == ["invoice", "payment", "allocation"]
    # buyer's side: the invoice +470,456.00 owed; the payment −470,456.00 to the advance; the allocation
    # moves it from the advance to the receivables: +470,456.00 − 420,050.00 − 50,406.00 = 0.00
    assert [line.amount for line in lines] == ["470456.00", "-470456.00", "0.00"]
    # the payment's line: its purpose sealed in the details, no text of it in the description
    payment_line = lines[1]
    assert payment_line.description == "payment" and "Ахметов" not in str(payment_line)
    sealed = personal_keys.sealed_of(json.loads(payment_line.details)["purpose"])
    assert personal_keys.open_text([KEY], "C1", sealed) == PURPOSE
    assert payments["P1"].allocations == [
        {"item_id": "INV-N-1-2022-01:energy", "document": "INV-N-1-2022-01", "kind": "energy",
         "period": "2022-01", "amount": "420050.00"},
        {"item_id": "INV-N-1-2022-01:vat", "document": "INV-N-1-2022-01", "kind": "vat", "period": "2022-01",
         "amount": "50406.00"}]
    assert payments["P1"].advance_left == "0.00"
    assert sum(Decimal(amount) for _, _, _, _, _, amount, *_ in postings) == 0
    # the invoice's first posting, its values in the columns' order: position 2 (the account opened at 1), line 0
    assert postings[0] == ["2", "0", "C1", "invoicing.InvoiceIssued", "receivable.energy", "420050.00", "KZT",
                           "2022-01-28", AT]


@st.composite
def histories(draw):
    """Invoices and payments as the ledger decides them: any volumes, payments short, exact or over."""
    state, events = opened()
    for month in range(1, draw(st.integers(min_value=1, max_value=5)) + 1):
        events += invoice(state, month, draw(st.integers(min_value=1, max_value=60_000)))
        state = acc.fold(events)
        for n in range(draw(st.integers(min_value=0, max_value=2))):
            events += payment(state, month * 10 + n, draw(st.integers(min_value=1, max_value=10**8)), month)
            state = acc.fold(events)
    return state, events


@settings(max_examples=40, deadline=None)
@given(history=histories(), data=st.data())
def test_a_history_cut_anywhere_leaves_the_tables_of_one_run(history, data):
    state, events = history
    facts = facts_of(events)
    cuts = data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(facts) - 1))))
    whole = replay(facts, set()).state()
    assert replay(facts, cuts).state() == whole
    assert replay(facts, set(range(1, len(facts)))).state() == whole
    accounts, debts, *_ = whole
    # what the rows say the buyer owes is what the ledger's own state says
    assert sum((d.outstanding for d in debts.values()), Decimal(0)) == state.debt_total().amount
    assert accounts["C1"].advance == state.advance.amount


def stored(fact: Fact, schema_version: int | None = None) -> RawEvent:
    """The fact as the store keeps it: its columns and its envelope's bytes (the fields the fold reads)."""
    envelope = {"event_type": fact.event_type, "contract_id": fact.contract_id, "stream_version": fact.stream_version,
                "schema_version": schema_version or registry.type_of(fact.event_type).schema_version,
                "occurred_at": fact.occurred_at, "recorded_at": fact.recorded_at, "payload": fact.payload,
                "actor": "test"}
    return RawEvent(fact.position, fact.event_type, fact.contract_id, canonical_json(envelope))


def test_a_rebuild_s_fold_of_stored_bytes_writes_what_a_command_s_fold_writes():
    state, events = opened()
    events += invoice(state, 1, 31000)
    events += payment(acc.fold(events), 1, 30000000, 1)
    events += invoice(acc.fold(events), 2, 25000)
    events += payment(acc.fold(events), 2, 47045600, 2)
    # the payloads' keys in the stored order (canonical JSON sorts them; jsonb keeps no order, the texts would differ)
    facts = [dataclasses.replace(fact, payload=json.loads(canonical_json(fact.payload))) for fact in facts_of(events)]
    raw = [stored(fact) for fact in facts]
    # the last payment as an older schema stored it (v2: the purpose in clear, the fold reads it upcast, sealed as
    # "recorded in clear"): the command's fold reads the payload its `Fact` upcast, the rebuild upcasts the bytes
    last = max(n for n, fact in enumerate(facts) if fact.event_type == "invoicing.PaymentReceived")
    v2 = {**facts[last].payload, "purpose": "paid in clear"}
    facts[last] = dataclasses.replace(facts[last], payload=registry.upcast(facts[last].event_type, 2, copy.deepcopy(v2)))
    raw[last] = stored(dataclasses.replace(facts[last], payload=v2), schema_version=2)
    commanded = written_whole(AccountRows().fold_all(facts))
    assert rows_of_contracts(raw) == commanded
    tables = {written.table: written.text.decode() for written in commanded}
    # 2 invoices × (energy, vat) = 4 debts; 2 payments; the upcast purpose reached its line's details
    assert tables["debts"].count("\n") == 4 and tables["payments"].count("\n") == 2
    assert "paid in clear" in tables["statement_lines"]


def test_a_debt_s_and_a_payment_s_texts_are_their_fields_in_column_order():
    debt = DebtRow("INV-1:vat", "C1", "INV-1", "vat", "2022-01", "2022-02-04", Decimal("48780.00"), Decimal("0.00"),
                   "KZT")
    assert DEBTS.texts(debt) == tuple(_text(value) for value in DEBTS.values(debt))
    assert copy_text([debt], DEBTS) == b"INV-1:vat\tC1\tINV-1\tvat\t2022-01\t2022-02-04\t48780.00\t0.00\tKZT\n"
    allocated = PaymentRow("R1", "P1", "C1", "10.00", "KZT", "2022-01-28", [{"item_id": "INV-1:vat", "amount": "10.00"}],
                           "0.00")
    assert PAYMENTS.texts(allocated) == tuple(_text(value) for value in PAYMENTS.values(allocated))
    # a payment never allocated: its advance left is NULL
    unallocated = PaymentRow("R2", "P2", "C1", "5.00", "KZT", "2022-01-28", [], None)
    assert copy_text([unallocated], PAYMENTS) == b"R2\tP2\tC1\t5.00\tKZT\t2022-01-28\t[]\t\\N\n"
    # a value that would end one is escaped, the NULL still written as one
    tabbed = PaymentRow("R\t3", "P3", "C1", "5.00", "KZT", "2022-01-28", [], None)
    assert copy_text([tabbed], PAYMENTS) == b"R\\t3\tP3\tC1\t5.00\tKZT\t2022-01-28\t[]\t\\N\n"


def columns(width: int) -> Table:
    return Table("t", [(f"c{n}", "text") for n in range(width)], None)


def test_copy_text_escapes_what_would_end_a_value():
    rows = [["a\tb", "line\nbreak", "back\\slash", None, 5], ["plain", "", "x", "y", Decimal("1.50")]]
    assert copy_text(rows, columns(5)) == b"a\\tb\tline\\nbreak\tback\\\\slash\t\\N\t5\nplain\t\tx\ty\t1.50\n"
    assert copy_text([("1", "2"), ("3", "4")], columns(2), "text") == b"1\t2\n3\t4\n"
    assert copy_text([("1", "tab\there")], columns(2), "text") == b"1\ttab\\there\n"


def test_copy_text_of_joined_rows_escapes_what_would_end_a_value_and_refuses_a_tab():
    """A posting row is its values joined by tabs (`PostingRow`): written as it is; a backslash, a newline or a
    carriage return in a value escaped (the row split back into its values); a tab in one cannot be told apart."""
    plain = "7\t0\tC1\tinvoicing.InvoiceIssued\treceivable.energy\t1.00\tKZT\t2022-01-31\t" + AT
    assert copy_text([plain], POSTINGS, "joined") == (plain + "\n").encode()
    odd = "7\t1\tC\\1\tinvoicing.InvoiceIssued\tline\nbreak\t1.00\tKZT\t2022-01-31\t" + AT
    assert copy_text([plain, odd], POSTINGS, "joined") == (
        plain + "\n7\t1\tC\\\\1\tinvoicing.InvoiceIssued\tline\\nbreak\t1.00\tKZT\t2022-01-31\t" + AT + "\n").encode()
    with pytest.raises(AssertionError, match="holds a tab"):
        copy_text([plain.replace("C1", "C\t1")], POSTINGS, "joined")


def test_copy_text_writes_a_row_s_fields_in_its_table_s_column_order():
    line = LineRow(position="7", contract_id="C1", business_date="2022-01-31", recorded_at=AT, kind="invoice",
                   document="INV-1", description="invoice 2022-01", amount="1.00", currency="KZT", details="{}")
    assert [name for name, _ in LINES.columns] == ["position", "contract_id", "business_date", "recorded_at", "kind",
                                                   "document", "description", "amount", "currency", "details"]
    assert copy_text([line], LINES, "text") == (
        f"7\tC1\t2022-01-31\t{AT}\tinvoice\tINV-1\tinvoice 2022-01\t1.00\tKZT\t{{}}\n".encode())
