"""Writing invoicing's read-model rows (`projection.AccountRows`): a command's in one statement, a rebuild's by COPY.

Everything travels as text (in the statement, one JSON array of rows per table) and PostgreSQL casts
it, so an amount or a date reaches the table spelled exactly as the event carries it, whichever way it
is written. Tables are named without a schema: a
rebuild into temporary tables (`verify`) or into a scratch schema (`replay --until`) writes where the
search path points.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.rebuild import Written

ZERO = Decimal(0)
_NULL = "\x00"  # PostgreSQL text never holds NUL, so it stands for NULL until the text is checked


# ---- the rows: each class's fields are its table's columns, in order (COPY and the statement take them so) ----
@dataclass(slots=True)
class AccountRow:
    """A new `accounts` row: a contract's account, and its running figures."""

    contract_id: str
    contract_number: str
    buyer_name: str | None          # filled by `personal_data.refresh` once the contract's key is here
    currency: str
    time_zone: str
    balance: Decimal                # what the buyer owes (+) or has in credit (−)
    terms: str                      # the terms' JSON, the buyer sealed
    opened_at: str
    version: int                    # the stream version of the last event folded
    advance: Decimal
    debt: Decimal


@dataclass(slots=True)
class AccountChange:
    """What a run changes on an account of an earlier run: sums added, and values set where not None."""

    contract_id: str
    balance: Decimal = ZERO         # Δ balance
    advance: Decimal = ZERO         # Δ advance (the debt moves by both)
    version: int | None = None
    contract_number: str | None = None
    buyer_name: str | None = None
    time_zone: str | None = None
    terms: str | None = None


@dataclass(slots=True)
class DebtRow:
    """A debt item charged by a run: added to the item if it exists already (an upsert)."""

    item_id: str
    contract_id: str
    document: str
    kind: str
    period: str
    due_date: str
    charged: Decimal
    outstanding: Decimal
    currency: str


@dataclass(slots=True)
class DebtChange:
    """What a run pays or lowers on a debt item of an earlier run."""

    contract_id: str
    item_id: str
    charged: Decimal = ZERO         # Δ charged (a correction lowering the debt)
    outstanding: Decimal = ZERO     # Δ outstanding


@dataclass(slots=True)
class PaymentRow:
    """A new `payments` row, by bank reference."""

    bank_reference: str
    payment_id: str
    contract_id: str
    amount: str
    currency: str
    received_on: str
    allocations: list               # the slices it paid (and a reversal's mark), in order
    advance_left: str | None


@dataclass(slots=True)
class PaymentChange:
    """Allocations a run adds to a payment of an earlier run, and the advance left after them."""

    payment_id: str
    allocations: list = field(default_factory=list)
    advance_left: str | None = None


@dataclass(slots=True)
class ReceiptRow:
    """A new `unidentified_receipts` row: money no contract was matched to."""

    bank_reference: str
    amount: str
    currency: str
    received_on: str
    bank_line: str                  # sealed with the receipt's own key (`receipt_keys.py`)
    why: str
    assigned_to: str | None


@dataclass(slots=True)
class ReceiptAssignment:
    """A receipt of an earlier run assigned to a contract."""

    bank_reference: str
    contract_id: str


@dataclass(slots=True)
class EsfRow:
    """A new `esf_registrations` row: an invoice's ESF as registered in IS ESF (§5.5)."""

    contract_id: str
    invoice_document: str
    registration_number: str
    issued_on: str
    esf_deadline: str
    late: bool
    position: str


@dataclass(slots=True)
class BaseRateRow:
    effective_from: str
    rate_percent: str
    source: str


class LineRow(NamedTuple):
    """A new `statement_lines` row: every value text, as COPY takes it. A tuple: a rebuild makes one per event
    and writes it as it is (a missing currency is filled in by a new row, `AccountRows`)."""

    position: str
    contract_id: str
    business_date: str
    recorded_at: str
    kind: str
    document: str
    description: str
    amount: str                     # the buyer's side: + owes more
    currency: str | None            # None until resolved: a notice of an account opened in an earlier run
    details: str


# a new `postings` row: its values' texts in `POSTINGS`' column order joined by tabs, as COPY's text format takes a
# row whose values hold no tab, newline, carriage return or backslash (`copy_text` escapes them otherwise). The most
# numerous rows (three or more an event), never changed once made: one text made in one step costs a third of a
# tuple made, joined later and freed. Every value is made by the ledger (ids, event types, accounts of its chart,
# amounts, ISO codes and dates), so none holds a tab; `posting_values` splits a row back into them.
PostingRow = str


@dataclass(frozen=True)
class Table:
    """A table (or the rows of an UPDATE) as the writer takes it: its columns with their PostgreSQL types (text
    unless named) and how to read a row's values in that order (by field; None: the rows are tuples of them).
    `texts`: for a table written by COPY, a row's values already as COPY text in that order (NULL as `_NULL`),
    when the table has one (`copy_text` then joins them as they are)."""

    name: str
    columns: list[tuple[str, str]]
    values: Callable[[object], tuple] | None
    texts: Callable[[object], tuple[str, ...]] | None = None

    @classmethod
    def of(cls, name: str, row: type, types: dict[str, str], texts: Callable | None = None) -> "Table":
        names = [f.name for f in fields(row)]
        assert set(types) <= set(names), f"{name}: types of columns the row has not"
        return cls(name, [(column, types.get(column, "text")) for column in names], attrgetter(*names), texts)

    @classmethod
    def of_tuples(cls, name: str, row: type[tuple], types: dict[str, str]) -> "Table":
        """A table whose rows are tuples of its columns' values (a `NamedTuple`): written as they are."""
        names = list(row._fields)
        assert set(types) <= set(names), f"{name}: types of columns the row has not"
        return cls(name, [(column, types.get(column, "text")) for column in names], None)

    def rows_of_values(self, rows) -> list:
        """The rows as tuples of their values in column order."""
        return rows if self.values is None else list(map(self.values, rows))


# a debt or a payment as COPY text, in its table's column order (`test_ledger_rows` holds them to it), made in one
# step: a rebuild makes a debt per invoice line and a payment per receipt, and the generic path (a test of each
# value's class, then `str` or JSON) cost three times as much
def _debt_texts(row: DebtRow) -> tuple[str, ...]:
    return (row.item_id, row.contract_id, row.document, row.kind, row.period, row.due_date, str(row.charged),
            str(row.outstanding), row.currency)


def _payment_texts(row: PaymentRow) -> tuple[str, ...]:
    return (row.bank_reference, row.payment_id, row.contract_id, row.amount, row.currency, row.received_on,
            orjson.dumps(row.allocations).decode(), _NULL if row.advance_left is None else row.advance_left)


ACCOUNTS = Table.of("accounts", AccountRow, {"balance": "numeric", "terms": "jsonb", "opened_at": "timestamptz",
                                             "version": "integer", "advance": "numeric", "debt": "numeric"})
DEBTS = Table.of("debts", DebtRow, {"due_date": "date", "charged": "numeric", "outstanding": "numeric"}, _debt_texts)
PAYMENTS = Table.of("payments", PaymentRow, {"amount": "numeric", "received_on": "date", "allocations": "jsonb",
                                             "advance_left": "numeric"}, _payment_texts)
RECEIPTS = Table.of("unidentified_receipts", ReceiptRow, {"amount": "numeric", "received_on": "date",
                                                          "bank_line": "jsonb"})
ESF_REGISTRATIONS = Table.of("esf_registrations", EsfRow, {"issued_on": "date", "esf_deadline": "date",
                                                            "late": "boolean", "position": "bigint"})
BASE_RATES = Table.of("base_rates", BaseRateRow, {"effective_from": "date", "rate_percent": "numeric"})
LINES = Table.of_tuples("statement_lines", LineRow, {"position": "bigint", "business_date": "date",
                                              "recorded_at": "timestamptz", "amount": "numeric", "details": "jsonb"})
POSTINGS = Table("postings", [
    ("position", "bigint"), ("line", "integer"), ("contract_id", "text"), ("event_type", "text"), ("account", "text"),
    ("amount", "numeric"), ("currency", "text"), ("business_date", "date"), ("recorded_at", "timestamptz")], None)


def posting_values(row: PostingRow) -> list[str]:
    return _split(row, len(POSTINGS.columns))


# changes to rows of earlier runs
ACCOUNT_CHANGES = Table.of("account changes", AccountChange, {"balance": "numeric", "advance": "numeric",
                                                              "version": "integer", "terms": "jsonb"})
DEBT_CHANGES = Table.of("debt changes", DebtChange, {"charged": "numeric", "outstanding": "numeric"})
PAYMENT_CHANGES = Table.of("payment changes", PaymentChange, {"allocations": "jsonb", "advance_left": "numeric"})
ASSIGNMENTS = Table.of("assignments", ReceiptAssignment, {})


def _rows(first: int, columns: list[tuple[str, str]]) -> str:
    """Rows from parameter $first, a JSON array of rows (`_json_rows`: each an array of text or null,
    one per column), cast back to the columns' types. Why one JSON text and not a text array per
    column: asyncpg checks every element of an array parameter against `collections.abc` types in
    Python, two checks for each text (5.5% of a statement import's CPU, `py-spy`); a JSON text is one
    value, written by orjson and read by PostgreSQL, both in C."""
    values = ", ".join(f"r->>{n} AS {name}" if kind == "text" else f"CAST(r->>{n} AS {kind}) AS {name}"
                       for n, (name, kind) in enumerate(columns))
    return f"(SELECT {values} FROM jsonb_array_elements(${first}::jsonb) AS r)"


def _insert(table: Table) -> Callable[[int], str]:
    names = ", ".join(c for c, _ in table.columns)
    return lambda first: f"INSERT INTO {table.name} ({names}) SELECT * FROM {_rows(first, table.columns)} AS t"


# the statement's parts: (name, the rows' table, its SQL from the number of its first parameter, what it counts)
_PARTS: dict[str, tuple[Table, Callable[[int], str], str | None]] = {
    "new_accounts": (ACCOUNTS, _insert(ACCOUNTS), None),
    "changed_accounts": (ACCOUNT_CHANGES, lambda first: f"""
        UPDATE accounts SET balance = accounts.balance + t.balance, advance = accounts.advance + t.advance,
            debt = accounts.debt + t.balance + t.advance, version = coalesce(t.version, accounts.version),
            contract_number = coalesce(t.contract_number, accounts.contract_number),
            buyer_name = coalesce(t.buyer_name, accounts.buyer_name),
            time_zone = coalesce(t.time_zone, accounts.time_zone), terms = coalesce(t.terms, accounts.terms)
        FROM {_rows(first, ACCOUNT_CHANGES.columns)} AS t WHERE accounts.contract_id = t.contract_id
        RETURNING 1""", "accounts"),
    "charged_debts": (DEBTS, lambda first: f"""{_insert(DEBTS)(first)}
        ON CONFLICT (contract_id, item_id) DO UPDATE
            SET charged = debts.charged + excluded.charged, outstanding = debts.outstanding + excluded.outstanding""",
                      None),
    "changed_debts": (DEBT_CHANGES, lambda first: f"""
        UPDATE debts SET charged = debts.charged + t.charged, outstanding = debts.outstanding + t.outstanding
        FROM {_rows(first, DEBT_CHANGES.columns)} AS t
        WHERE debts.contract_id = t.contract_id AND debts.item_id = t.item_id
        RETURNING 1""", "debts"),
    "new_payments": (PAYMENTS, _insert(PAYMENTS), None),
    "changed_payments": (PAYMENT_CHANGES, lambda first: f"""
        UPDATE payments SET allocations = payments.allocations || t.allocations,
            advance_left = coalesce(t.advance_left, payments.advance_left)
        FROM {_rows(first, PAYMENT_CHANGES.columns)} AS t WHERE payments.payment_id = t.payment_id""", None),
    "new_receipts": (RECEIPTS, _insert(RECEIPTS), None),
    "assigned_receipts": (ASSIGNMENTS, lambda first: f"""
        UPDATE unidentified_receipts SET assigned_to = t.contract_id
        FROM {_rows(first, ASSIGNMENTS.columns)} AS t WHERE unidentified_receipts.bank_reference = t.bank_reference
        RETURNING 1""", "receipts"),
    "rates": (BASE_RATES, lambda first: f"""{_insert(BASE_RATES)(first)}
        ON CONFLICT (effective_from) DO UPDATE SET rate_percent = excluded.rate_percent, source = excluded.source""",
              None),
    "new_lines": (LINES, _insert(LINES), None),
    "new_esf_registrations": (ESF_REGISTRATIONS, _insert(ESF_REGISTRATIONS), None),
    "new_postings": (POSTINGS, _insert(POSTINGS), None),   # its rows split into values (`posting_values`)
}


@functools.lru_cache(maxsize=256)
def _statement(parts: tuple[str, ...]) -> str:
    """One statement of the parts that have rows (a payment needs five of the eleven), so PostgreSQL
    runs no empty ones; one text per combination, prepared once by asyncpg."""
    ctes, first = [], 1
    for name in parts:
        _table, sql, _ = _PARTS[name]
        ctes.append(f"{name} AS ({sql(first)})")
        first += 1
    counts = [f"(SELECT count(*) FROM {name}) AS {_PARTS[name][2]}" for name in parts if _PARTS[name][2]]
    return f"WITH {', '.join(ctes)} SELECT {', '.join(counts) or '0 AS nothing'}"


def _text(value) -> str | None:
    if value is None or value.__class__ is str:
        return value
    if value.__class__ is list:
        return orjson.dumps(value).decode()
    return str(value)


def _json_rows(rows, table: Table) -> str:
    """The rows as one JSON array of arrays of text (`_rows`), each value spelled as `_text` spells it."""
    return orjson.dumps([[_text(value) for value in row] for row in table.rows_of_values(rows)]).decode()


def _created(rows) -> list[tuple[Table, list]]:
    """(table, its new rows) of every table whose new rows are plain inserts (debts are upserts)."""
    return [(ACCOUNTS, list(rows.accounts.values())), (PAYMENTS, list(rows.payments.values())),
            (RECEIPTS, list(rows.receipts.values())), (LINES, rows.lines), (POSTINGS, rows.postings),
            (ESF_REGISTRATIONS, rows.esf_registrations)]


def written_whole(rows) -> list[Written]:
    """COPY text of the rows of whole contracts' histories (a rebuild, `shared/rebuild.py`): every row is
    new and complete, so every table takes plain COPY. A change of an account, a debt or a receipt the
    histories never made is a broken history, refused as a command's statement refuses it; allocations
    to a trigger that is no payment change no row, here as there."""
    assert not rows.account_changes, "every account changed exists"
    assert not rows.debt_changes, "every debt paid or lowered exists"
    assert not rows.assignments, "an assigned receipt was recorded first"
    tables = [*_created(rows), (DEBTS, list(rows.debts.values())), (BASE_RATES, list(rows.base_rates.values()))]
    # a notice of an account never opened keeps its currency NULL: "any" spells it
    values = {**_VALUES, "statement_lines": "any"} if rows.currency_unknown else _VALUES
    return [Written(table.name, tuple(column for column, _ in table.columns),
                    copy_text(table_rows, table, values.get(table.name, "any")))
            for table, table_rows in tables if table_rows]


async def write(conn: AsyncConnection, rows) -> None:
    """A command's rows in one statement: new rows inserted, changes to earlier ones summed in."""
    driver = (await conn.get_raw_connection()).driver_connection
    new = {table.name: table_rows for table, table_rows in _created(rows)}
    part_rows = {"new_accounts": new["accounts"], "changed_accounts": list(rows.account_changes.values()),
                 "charged_debts": list(rows.debts.values()), "changed_debts": list(rows.debt_changes.values()),
                 "new_payments": new["payments"], "changed_payments": list(rows.payment_changes.values()),
                 "new_receipts": new["unidentified_receipts"], "assigned_receipts": list(rows.assignments.values()),
                 "rates": list(rows.base_rates.values()), "new_lines": new["statement_lines"],
                 "new_postings": [posting_values(row) for row in new["postings"]],
                 "new_esf_registrations": new["esf_registrations"]}
    parts = tuple(name for name in _PARTS if part_rows[name])
    if not parts:
        return
    changed = await driver.fetchrow(_statement(parts), *(_json_rows(part_rows[name], _PARTS[name][0])
                                                         for name in parts))
    assert changed.get("accounts", 0) == len(rows.account_changes), "every account changed exists"
    assert changed.get("debts", 0) == len(rows.debt_changes), "every debt paid or lowered exists"
    assert changed.get("receipts", 0) == len(rows.assignments), "an assigned receipt was recorded first"


# what the rows of a table hold (`AccountRows`; a notice's currency is resolved before they are written)
# (an account's `buyer_name` is NULL until the buyer is opened: "any")
_VALUES = {"statement_lines": "text", "postings": "joined"}


def copy_text(rows, table: Table, values: str = "any") -> bytes:
    """COPY's text format of the rows; `values`: "text" (every value a str), "joined" (each row one text, its
    values joined by tabs), "any" (NULLs, numbers and lists too); a table with `texts` makes its rows' texts
    itself (every value a str, NULL as `_NULL`). Fast path: join them, then prove in one pass over the whole
    text that no value holds a tab, a newline or a backslash (true of nearly every batch); else escape each
    value (a joined row split back into its values first: one whose value held a tab is refused)."""
    width = len(table.columns)
    if table.texts is not None:
        rows, values = list(map(table.texts, rows)), "text"
    else:
        rows = table.rows_of_values(rows)
    if values == "joined":   # each row its values' texts joined by tabs already (`PostingRow`)
        text = "\n".join(itertools.chain(rows, ("",)))
    elif values == "text":   # `map` keeps the loop over the rows in C: the most numerous rows take this path
        # the last newline joined in too: adding it after would copy the whole text again (tens of megabytes)
        text = "\n".join(itertools.chain(map("\t".join, rows), ("",)))
    else:
        text = "".join(["\t".join([_NULL if v is None else v if v.__class__ is str else _text(v) for v in row]) + "\n"
                        for row in rows])
    if (text.count("\t") == len(rows) * (width - 1) and text.count("\n") == len(rows)
            and "\\" not in text and "\r" not in text):
        # `in` scans as fast as memory reads; `replace` counts first, a slower pass: only where a NULL is
        return (text.replace(_NULL, "\\N") if _NULL in text else text).encode()
    if values == "joined":
        rows = [_split(row, width) for row in rows]
    return "".join(["\t".join(["\\N" if v is None or v == _NULL else _escape(_text(v)) for v in row]) + "\n"
                    for row in rows]).encode()


def _split(row: str, width: int) -> list[str]:
    values = row.split("\t")
    assert len(values) == width, f"a value of a joined row holds a tab: {row!r}"
    return values


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
