"""Writing the ledger's rows (`projection.LedgerRows`): a command's in one statement, a replay's by COPY.

Everything travels as text (in the statement, one JSON array of rows per table) and PostgreSQL casts
it, so an amount or a date reaches the table spelled exactly as the event carries it, whichever way it
is written. Tables are named without a schema: a
rebuild into temporary tables (`verify`) or into a scratch schema (`replay --until`) writes where the
search path points.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

# (table, [(column, type)]) of the rows created by a run, in the order `LedgerRows` keeps them
ACCOUNTS = ("accounts", [("contract_id", "text"), ("contract_number", "text"), ("buyer_name", "text"),
                         ("currency", "text"), ("time_zone", "text"), ("balance", "numeric"), ("terms", "jsonb"),
                         ("opened_at", "timestamptz"), ("version", "integer"), ("advance", "numeric"),
                         ("debt", "numeric")])
DEBTS = ("debts", [("item_id", "text"), ("contract_id", "text"), ("document", "text"), ("kind", "text"),
                   ("period", "text"), ("due_date", "date"), ("charged", "numeric"), ("outstanding", "numeric"),
                   ("currency", "text")])
PAYMENTS = ("payments", [("bank_reference", "text"), ("payment_id", "text"), ("contract_id", "text"),
                         ("amount", "numeric"), ("currency", "text"), ("received_on", "date"),
                         ("allocations", "jsonb"), ("advance_left", "numeric")])
RECEIPTS = ("unidentified_receipts", [("bank_reference", "text"), ("amount", "numeric"), ("currency", "text"),
                                      ("received_on", "date"), ("bank_line", "jsonb"), ("why", "text"),
                                      ("assigned_to", "text")])
BASE_RATES = ("base_rates", [("effective_from", "date"), ("rate_percent", "numeric"), ("source", "text")])
LINES = ("statement_lines", [("position", "bigint"), ("contract_id", "text"), ("business_date", "date"),
                             ("recorded_at", "timestamptz"), ("kind", "text"), ("document", "text"),
                             ("description", "text"), ("amount", "numeric"), ("currency", "text"),
                             ("details", "jsonb")])
POSTINGS = ("postings", [("position", "bigint"), ("line", "integer"), ("contract_id", "text"),
                         ("event_type", "text"), ("account", "text"), ("amount", "numeric"), ("currency", "text"),
                         ("business_date", "date"), ("recorded_at", "timestamptz")])
# changes to rows of earlier runs: (contract, Δbalance, Δadvance, version, number, buyer, zone, terms) …
ACCOUNT_CHANGES = [("c", "text"), ("b", "numeric"), ("a", "numeric"), ("v", "integer"), ("n", "text"),
                   ("buyer", "text"), ("z", "text"), ("terms", "jsonb")]
DEBT_CHANGES = [("c", "text"), ("i", "text"), ("dc", "numeric"), ("dout", "numeric")]
PAYMENT_CHANGES = [("p", "text"), ("s", "jsonb"), ("l", "numeric")]
ASSIGNMENTS = [("r", "text"), ("c", "text")]


def _rows(first: int, columns: list[tuple[str, str]]) -> str:
    """Rows from parameter $first, a JSON array of rows (`_json_rows`: each an array of text or null,
    one per column), cast back to the columns' types. Why one JSON text and not a text array per
    column: asyncpg checks every element of an array parameter against `collections.abc` types in
    Python, two checks for each text (5.5% of a statement import's CPU, `py-spy`); a JSON text is one
    value, written by orjson and read by PostgreSQL, both in C."""
    values = ", ".join(f"r->>{n} AS {name}" if kind == "text" else f"CAST(r->>{n} AS {kind}) AS {name}"
                       for n, (name, kind) in enumerate(columns))
    return f"(SELECT {values} FROM jsonb_array_elements(${first}::jsonb) AS r)"


def _insert(table) -> Callable[[int], str]:
    name, columns = table
    return lambda first: f"INSERT INTO {name} ({', '.join(c for c, _ in columns)}) SELECT * FROM {_rows(first, columns)} AS t"


# the statement's parts: (name, its columns, its SQL from the number of its first parameter, what it counts)
_PARTS = {
    "new_accounts": (ACCOUNTS[1], _insert(ACCOUNTS), None),
    "changed_accounts": (ACCOUNT_CHANGES, lambda first: f"""
        UPDATE accounts SET balance = accounts.balance + t.b, advance = accounts.advance + t.a,
            debt = accounts.debt + t.b + t.a, version = coalesce(t.v, accounts.version),
            contract_number = coalesce(t.n, accounts.contract_number),
            buyer_name = coalesce(t.buyer, accounts.buyer_name), time_zone = coalesce(t.z, accounts.time_zone),
            terms = coalesce(t.terms, accounts.terms)
        FROM {_rows(first, ACCOUNT_CHANGES)} AS t WHERE accounts.contract_id = t.c
        RETURNING 1""", "accounts"),
    "charged_debts": (DEBTS[1], lambda first: f"""{_insert(DEBTS)(first)}
        ON CONFLICT (contract_id, item_id) DO UPDATE
            SET charged = debts.charged + excluded.charged, outstanding = debts.outstanding + excluded.outstanding""",
                      None),
    "changed_debts": (DEBT_CHANGES, lambda first: f"""
        UPDATE debts SET charged = debts.charged + t.dc, outstanding = debts.outstanding + t.dout
        FROM {_rows(first, DEBT_CHANGES)} AS t WHERE debts.contract_id = t.c AND debts.item_id = t.i
        RETURNING 1""", "debts"),
    "new_payments": (PAYMENTS[1], _insert(PAYMENTS), None),
    "changed_payments": (PAYMENT_CHANGES, lambda first: f"""
        UPDATE payments SET allocations = payments.allocations || t.s,
            advance_left = coalesce(t.l, payments.advance_left)
        FROM {_rows(first, PAYMENT_CHANGES)} AS t WHERE payments.payment_id = t.p""", None),
    "new_receipts": (RECEIPTS[1], _insert(RECEIPTS), None),
    "assigned_receipts": (ASSIGNMENTS, lambda first: f"""
        UPDATE unidentified_receipts SET assigned_to = t.c
        FROM {_rows(first, ASSIGNMENTS)} AS t WHERE unidentified_receipts.bank_reference = t.r
        RETURNING 1""", "receipts"),
    "rates": (BASE_RATES[1], lambda first: f"""{_insert(BASE_RATES)(first)}
        ON CONFLICT (effective_from) DO UPDATE SET rate_percent = excluded.rate_percent, source = excluded.source""",
              None),
    "new_lines": (LINES[1], _insert(LINES), None),
    "new_postings": (POSTINGS[1], _insert(POSTINGS), None),
}


@functools.lru_cache(maxsize=256)
def _statement(parts: tuple[str, ...]) -> str:
    """One statement of the parts that have rows (a payment needs five of the eleven), so PostgreSQL
    runs no empty ones; one text per combination, prepared once by asyncpg."""
    ctes, first = [], 1
    for name in parts:
        columns, sql, _ = _PARTS[name]
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


def _json_rows(rows, width: int) -> str:
    """The rows as one JSON array of arrays of text (`_rows`), each value spelled as `_text` spells it."""
    assert all(len(row) == width for row in rows), f"every row has {width} values"
    return orjson.dumps([[_text(value) for value in row] for row in rows]).decode()


def _keyed(changes: dict) -> list[tuple]:
    """(key…, change…) rows of a dict of changes; keys and changes are tuples or lists, or one value."""
    return [(*_many(key), *_many(change)) for key, change in changes.items()]


def _many(value) -> tuple | list:
    return value if value.__class__ in (tuple, list) else (value,)


def _created(rows) -> list[tuple]:
    """(table, its new rows) of every table whose new rows are plain inserts (debts are upserts)."""
    return [(ACCOUNTS, list(rows.accounts.values())), (PAYMENTS, list(rows.payments.values())),
            (RECEIPTS, list(rows.receipts.values())), (LINES, rows.lines), (POSTINGS, rows.postings)]


def copy_payloads(rows) -> dict[str, bytes]:
    """COPY's input for the new rows of `_created`'s tables; pure CPU, so a rebuild formats the next step
    in a thread while PostgreSQL takes this one. Needs every statement line's currency known."""
    return {table[0]: copy_text(table_rows, len(table[1]), _VALUES.get(table[0], "any"))
            for table, table_rows in _created(rows) if table_rows}


async def write(conn: AsyncConnection, rows, bulk: bool, payloads: dict[str, bytes] | None = None) -> None:
    """`bulk`: COPY the new rows (`payloads`, when formatted beforehand) and one statement for the rest."""
    driver = (await conn.get_raw_connection()).driver_connection
    created = _created(rows)
    debts = list(rows.debts.values())
    if bulk and debts:
        # a charge adds to a debt of the same item that exists already (an upsert), which COPY cannot do:
        # only those few go through the statement
        keys = list(rows.debts)
        existing = {(r[0], r[1]) for r in await driver.fetch(_EXISTING_DEBTS, [c for c, _ in keys],
                                                                [i for _, i in keys])}
        created.append((DEBTS, [row for key, row in rows.debts.items() if key not in existing]))
        debts = [row for key, row in rows.debts.items() if key in existing]
    if bulk:
        payloads = dict(payloads if payloads is not None else copy_payloads(rows))
        for table, table_rows in created:
            if table_rows:
                text = payloads.get(table[0]) or copy_text(table_rows, len(table[1]), _VALUES.get(table[0], "any"))
                # a memoryview, because asyncpg takes bytes for a file name
                await driver.copy_to_table(table[0], source=memoryview(text), columns=[c for c, _ in table[1]])
        created = [(table, []) for table, _ in created]
    new = {table[0]: table_rows for table, table_rows in created}
    part_rows = {"new_accounts": new["accounts"], "changed_accounts": _keyed(rows.account_changes),
                 "charged_debts": debts, "changed_debts": _keyed(rows.debt_changes),
                 "new_payments": new["payments"], "changed_payments": _keyed(rows.payment_changes),
                 "new_receipts": new["unidentified_receipts"], "assigned_receipts": _keyed(rows.assignments),
                 "rates": list(rows.base_rates.values()), "new_lines": new["statement_lines"],
                 "new_postings": new["postings"]}
    parts = tuple(name for name in _PARTS if part_rows[name])
    if not parts:
        return
    changed = await driver.fetchrow(_statement(parts), *(_json_rows(part_rows[name], len(_PARTS[name][0]))
                                                         for name in parts))
    assert changed.get("accounts", 0) == len(rows.account_changes), "every account changed exists"
    assert changed.get("debts", 0) == len(rows.debt_changes), "every debt paid or lowered exists"
    assert changed.get("receipts", 0) == len(rows.assignments), "an assigned receipt was recorded first"


# what the rows of a table hold (`LedgerRows`; a notice's currency is resolved before they are written)
# (an account's `buyer_name` is NULL until the buyer is opened: "any")
_VALUES = {"debts": "plain", "statement_lines": "text", "postings": "text"}
_EXISTING_DEBTS = """
    SELECT contract_id, item_id FROM debts JOIN unnest($1::text[], $2::text[]) AS k(c, i)
        ON debts.contract_id = k.c AND debts.item_id = k.i
"""
_NULL = "\x00"  # PostgreSQL text never holds NUL, so it stands for NULL until the text is checked


def copy_text(rows, width: int, values: str = "any") -> bytes:
    """COPY's text format of the rows; `values`: "text" (every value a str), "plain" (a str or a number),
    "any" (NULLs and lists too). Fast path: join them, then prove in one pass over the whole text that
    no value holds a tab, a newline or a backslash (true of nearly every batch); else escape each value."""
    if values == "text":
        text = "\n".join(["\t".join(row) for row in rows]) + "\n"
    elif values == "plain":
        text = "\n".join(["\t".join(map(str, row)) for row in rows]) + "\n"
    else:
        text = "".join(["\t".join([_NULL if v is None else v if v.__class__ is str else _text(v) for v in row]) + "\n"
                        for row in rows])
    if (text.count("\t") == len(rows) * (width - 1) and text.count("\n") == len(rows)
            and "\\" not in text and "\r" not in text):
        return text.replace(_NULL, "\\N").encode()
    return "".join(["\t".join(["\\N" if v is None else _escape(_text(v)) for v in row]) + "\n"
                    for row in rows]).encode()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
