"""Invoicing's personal data (law 94-V): its part of a counterparty's export (the account, every statement
line, the payments with their allocations and the open debts), the buyer opened in its read model, and
the payments' purposes opened where they are read.

The buyer arrives sealed (`AccountOpened` copies the terms `ContractSigned` carried) and the contract's key
arrives on another topic, in either order. `accounts.terms` keeps the buyer sealed as the events carry
it; `accounts.buyer_name` and `accounts.buyer` (the `PartyTerms` JSON: statement matching reads its BIN
and IBAN) are the buyer opened, filled as soon as both are here and blanked to "[shredded]" on the key's
tombstone: NULL meanwhile. The same function runs on both sides, each under the contract's lock
(`shared/personal_keys.lock`), and after a rebuild, so the live rows and a rebuilt table agree.

A payment's purpose (free text: it often names a person) is sealed by the edge with the contract's key and
stays sealed in its statement line (`details.purpose`); the statement and the export open it as they read
it, with the key held then. Opened at the read, not kept opened like the buyer: a kept copy would have to
be written under the contract's lock on the payment path, or a shredding committed meanwhile would miss it
(`purposes_opened`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import personal_keys
from shared.events.invoicing import PersonalDataExported
from shared.events.sealing import SHREDDED, SealedFields
from shared.personal_data import export_handlers

QUERIES = {
    # the terms with the buyer opened, as the API shows them (a counterparty gets its data, not ciphertext)
    "accounts": "SELECT contract_id, contract_number, buyer_name, currency, time_zone, balance, advance, debt,"
                " jsonb_set(terms, '{buyer}', coalesce(buyer, 'null'::jsonb)) AS terms, opened_at, version"
                " FROM accounts WHERE contract_id = ANY(:ids) ORDER BY contract_number",
    "statement_lines": "SELECT * FROM statement_lines WHERE contract_id = ANY(:ids)"
                       " ORDER BY contract_id, business_date, position",
    "payments": "SELECT * FROM payments WHERE contract_id = ANY(:ids) ORDER BY contract_id, received_on,"
                " bank_reference",
    "debts": "SELECT * FROM debts WHERE contract_id = ANY(:ids) ORDER BY contract_id, due_date, item_id",
}

PAYMENT_DESCRIPTION = "payment"   # a payment's statement line: its purpose is read from `details.purpose`

_SEALED_BUYERS = text("SELECT contract_id, terms->'buyer' AS buyer FROM accounts"
                      " WHERE CAST(:ids AS text[]) IS NULL OR contract_id = ANY(:ids)")
_SET_BUYERS = text("""
    UPDATE accounts a SET buyer_name = t.name, buyer = CAST(t.buyer AS jsonb)
    FROM unnest(CAST(:ids AS text[]), CAST(:names AS text[]), CAST(:buyers AS text[])) AS t(contract_id, name, buyer)
    WHERE a.contract_id = t.contract_id
""")


async def refresh_accounts(conn: AsyncConnection, contract_ids: Sequence[str] | None, *, lock: bool) -> None:
    """Open the buyer of these accounts (all, for None) with the keys held now: the buyer, "[shredded]"
    once the key is shredded, NULL while it has not arrived. `lock`: serialise with the key's arrival."""
    if lock and contract_ids:
        await personal_keys.lock(conn, contract_ids)
    rows = (await conn.execute(_SEALED_BUYERS, {"ids": list(contract_ids) if contract_ids is not None else None})
            ).all()
    if not rows:
        return
    states = await personal_keys.states_of(conn, [row.contract_id for row in rows])
    ids, names, buyers = [], [], []
    for row in rows:
        state = states[row.contract_id]
        opened = (personal_keys.unseal(state.key, row.contract_id, personal_keys.sealed_of(row.buyer))
                  if state.key is not None else None)
        ids.append(row.contract_id)
        if opened is not None:
            names.append(opened["name"])
            buyers.append(json.dumps(opened))
        else:
            names.append(SHREDDED if state.shredded else None)
            buyers.append(None)
    await conn.execute(_SET_BUYERS, {"ids": ids, "names": names, "buyers": buyers})


async def refresh(conn: AsyncConnection, contract_id: str) -> None:
    """A key arrived or was shredded (the caller holds the contract's lock)."""
    await refresh_accounts(conn, [contract_id], lock=False)


def sealed_payer(key: bytes | None, contract_id: str, payer_bin: str | None, payer_iban: str | None
                 ) -> SealedFields | None:
    """A payment's payer (BIN and IBAN, as the bank or the operator gave them) sealed with the contract's
    key; none when neither is given, or when this service holds no key of the contract (not arrived yet,
    or shredded): then they are not kept, and the bank reference still finds the bank's line."""
    if key is None or not (payer_bin or payer_iban):
        return None
    return personal_keys.seal(key, contract_id, {"bin": payer_bin, "iban": payer_iban})


def sealed_purpose(key: bytes | None, contract_id: str, purpose: str) -> SealedFields | None:
    """A payment's purpose sealed with the contract's key; none when it is empty or this service holds no
    key of the contract (then, as the payer, it is not kept)."""
    if key is None or not purpose:
        return None
    return personal_keys.seal_text(key, contract_id, purpose)


def payment_description(purpose: str | None) -> str:
    return f"{PAYMENT_DESCRIPTION}: {purpose}" if purpose else PAYMENT_DESCRIPTION


async def purposes_opened(conn: AsyncConnection, lines: list[dict]) -> list[dict]:
    """Statement lines (dicts with `contract_id`, `description`, `details`) as a reader sees them: a payment's
    purpose opened into its description ("payment: …") with the key held now, "[shredded]" once the key is
    shredded, none while it has not arrived; the sealed blob taken out of `details`."""
    sealed = {line["contract_id"] for line in lines if "purpose" in (line["details"] or {})}
    if not sealed:
        return lines
    states = await personal_keys.states_of(conn, sorted(sealed))
    return [_purpose_opened(line, states) if "purpose" in (line["details"] or {}) else line for line in lines]


def _purpose_opened(line: dict, states: dict[str, personal_keys.KeyState]) -> dict:
    details = dict(line["details"])
    blob = personal_keys.sealed_of(details.pop("purpose"))
    state = states[line["contract_id"]]
    purpose = SHREDDED if state.shredded else personal_keys.open_text([state.key], line["contract_id"], blob)
    return {**line, "description": payment_description(purpose), "details": details}


async def _export_opened(conn: AsyncConnection, part: dict) -> dict:
    return {**part, "statement_lines": await purposes_opened(conn, part["statement_lines"])}


HANDLERS = export_handlers(PersonalDataExported, QUERIES, opened=_export_opened)
