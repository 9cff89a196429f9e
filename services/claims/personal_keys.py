"""The claims desk's keys: its copy of each contract's key (`shared/personal_keys.py`: sealing, the key
table, the keys topic), and the keys it made itself before the contracts service owned them.

Before keys came from contracts, the desk sealed a counterparty with a key of its own, created when it
learned of the signed contract; those keys stay (`own_key`, same row), because the desk's events of those
contracts are sealed with them. A row may so hold two keys: the contract's (`key`, from the keys topic)
and the desk's own; a sealed blob opens with whichever fits (AES-GCM's tag says which). Shredding deletes
both. New contracts have only the contract's key.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import personal_keys
from shared.errors import Conflict, DomainError, NotFound
from shared.events.sealing import ClearFields, FreeText, Sealed, SealedFields, SealText


async def keys_of(conn: AsyncConnection, contract_id: str) -> list[bytes]:
    """Every key the desk holds for the contract (none once shredded)."""
    row = (await conn.execute(text("SELECT key, own_key FROM personal_data_keys WHERE contract_id = :id"),
                              {"id": contract_id})).first()
    return [bytes(k) for k in row if k is not None] if row is not None else []


async def sealing_key(conn: AsyncConnection, contract_id: str) -> bytes | None:
    """The key the desk seals with: the contract's, or, for a contract sealed before keys came from
    contracts and whose key has not arrived, the desk's own."""
    keys = await keys_of(conn, contract_id)
    return keys[0] if keys else None


async def create_own_key(conn: AsyncConnection, contract_id: str) -> bytes:
    """A key of the desk's own, for a contract whose signing reached it in clear (a v1 `ContractSigned`,
    recorded before the contracts service sealed its terms) and whose contract key is not here."""
    key = personal_keys.new_key()
    await conn.execute(text("INSERT INTO personal_data_keys (contract_id, own_key) VALUES (:id, :key)"
                            " ON CONFLICT (contract_id) DO UPDATE SET own_key = excluded.own_key"
                            " WHERE personal_data_keys.own_key IS NULL AND personal_data_keys.shredded_at IS NULL"),
                       {"id": contract_id, "key": key})
    return key


async def shred(conn: AsyncConnection, contract_id: str) -> bool:
    """Delete both keys of the contract (the marker stays); True when anything changed."""
    # the desk's own key first: a marker holds no key at all (the table's CHECK)
    cleared = await conn.execute(text("UPDATE personal_data_keys SET own_key = NULL"
                                      " WHERE contract_id = :id AND own_key IS NOT NULL"), {"id": contract_id})
    changed = await personal_keys.shred(conn, contract_id)
    return changed or cleared.rowcount > 0


async def unseal(conn: AsyncConnection, contract_id: str, sealed: Sealed) -> dict | None:
    return personal_keys.unseal_any(await keys_of(conn, contract_id), contract_id, sealed)


async def shredded(conn: AsyncConnection, contract_id: str) -> bool:
    """The desk's keys of the contract were shredded (False too when no key of it ever came)."""
    return bool(await conn.scalar(text("SELECT shredded_at IS NOT NULL FROM personal_data_keys WHERE contract_id = :id"),
                                  {"id": contract_id}))


async def required_key(conn: AsyncConnection, contract_id: str) -> bytes:
    """The key the desk seals with, for what cannot be done without it (its part of an export, opening the
    archive): 404 `personal_data_shredded` once shredded, 409 `personal_data_key_missing` (worth a retry)
    while it has not reached the desk."""
    key = await sealing_key(conn, contract_id)
    if key is None:
        raise await missing_key(conn, contract_id)
    return key


async def missing_key(conn: AsyncConnection, contract_id: str) -> DomainError:
    if await shredded(conn, contract_id):
        return NotFound(f"the personal data of contract {contract_id} were shredded", reason="personal_data_shredded")
    return Conflict(f"the personal-data key of contract {contract_id} has not reached the desk yet",
                    reason="personal_data_key_missing")


async def as_sealed(conn: AsyncConnection, contract_id: str, fields: Sealed, *,
                    own_key_if_missing: bool) -> SealedFields | None:
    """What the contracts service sealed, as it came (the desk never opens it on the way). A v1 event's
    fields came in clear: sealed here with the desk's key (its own, for a contract without one: before
    keys came from contracts, the desk made its own); none when there is no key to seal with."""
    if isinstance(fields, SealedFields):
        return fields
    assert isinstance(fields, ClearFields)
    key = await sealing_key(conn, contract_id)
    if key is None and own_key_if_missing:
        key = await create_own_key(conn, contract_id)
    return personal_keys.seal(key, contract_id, fields.in_clear) if key is not None else None


async def text_seal(conn: AsyncConnection, contract_id: str) -> SealText:
    """What the desk's rules seal a contract's free texts with (a claim's description and answers, a
    request's details): the key it seals with. Without one, sealing a text refuses the command (409): the
    counterparty's data were shredded (`personal_data_shredded`), or its key has not reached the desk yet
    (`personal_data_key_missing`, worth a retry); a command with no text to seal goes ahead."""
    key = await sealing_key(conn, contract_id)
    shredded_already = key is None and await shredded(conn, contract_id)

    def seal(value: FreeText) -> SealedFields:
        if key is None:
            if shredded_already:
                raise Conflict(f"the personal data of contract {contract_id} were shredded: no text about it is "
                               "recorded", reason="personal_data_shredded")
            raise Conflict(f"the personal-data key of contract {contract_id} has not reached the desk yet",
                           reason="personal_data_key_missing")
        return personal_keys.seal_text(key, contract_id, value)

    return seal
