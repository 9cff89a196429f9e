"""Crypto-shredding (law 94-V): the buyer's personal fields are sealed with one AES-256-GCM key per contract.

The contracts service owns the keys: it creates a contract's key when it registers the contract, in the
`personal_data_keys` table of its database (a table, not the event store, so a key can be deleted), and
seals the buyer's fields in its events with it. The other services never call it (architecture MUST 1):
it publishes each key to the compacted topic `contracts.personal-data-keys.v1` (message key = contract
id, value = the 32 key bytes) and, when the counterparty's data are deleted, a tombstone (a null value).
Each consuming service keeps its own copy in its own `personal_data_keys` table and deletes it on the
tombstone. Deleting the key makes the sealed fields unreadable in every store, topic and read model
they reached, while the stored bytes, and so every hash chain, never change. The associated data bind a
ciphertext to its contract, so a sealed blob copied into another counterparty's event does not open.

A key row that is shredded is kept as a marker (key NULL, `shredded_at` set): "not arrived yet" and
"shredded" must not look alike, and a key message that comes after its tombstone (a redelivery, a
replayed partition) must not bring the key back. Contract ids are never reused, so the marker is final.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.envelope import canonical_json
from shared.events.sealing import TEXT, ClearFields, FreeText, Sealed, SealedFields
from shared.relay import LeaderLoop

if TYPE_CHECKING:
    from asyncpg import Connection

    from shared.db import UnitOfWork
    from shared.envelope import EventEnvelope
    from shared.eventstore.store import CommandContext

KEY_BYTES = 32
KEYS_CHANNEL = "personal_data_keys_changed"

Refresh = Callable[[AsyncConnection, str], Awaitable[None]]
Shred = Callable[[AsyncConnection, str], Awaitable[bool]]


# ---- sealing ---------------------------------------------------------------------------------------
def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, contract_id: str, fields: dict[str, Any]) -> SealedFields:
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, canonical_json(fields), contract_id.encode())
    return SealedFields(nonce=base64.b64encode(nonce).decode(), ciphertext=base64.b64encode(ciphertext).decode())


def unseal(key: bytes | None, contract_id: str, sealed: Sealed) -> dict[str, Any] | None:
    """The fields, or None when the key is gone (shredded, or not here yet) or does not fit. Fields an
    older event carried in clear open only while the key is held, so a shredded counterparty reads as
    shredded whatever version its events were written in."""
    if key is None:
        return None
    if isinstance(sealed, ClearFields):
        return dict(sealed.in_clear)
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext),
                                    contract_id.encode())
    except InvalidTag:
        return None
    fields: dict[str, Any] = json.loads(plain)   # what `seal` sealed: a JSON object
    return fields


def unseal_any(keys: Iterable[bytes | None], contract_id: str, sealed: Sealed) -> dict[str, Any] | None:
    """The fields opened by the first of `keys` that fits (AES-GCM's tag says which)."""
    for key in keys:
        opened = unseal(key, contract_id, sealed)
        if opened is not None:
            return opened
    return None


def seal_text(key: bytes, contract_id: str, value: FreeText) -> SealedFields:
    """A free text (or a list of them) sealed as the fields `{"text": value}`."""
    return seal(key, contract_id, {TEXT: value})


def open_text(keys: Iterable[bytes | None], contract_id: str, sealed: Sealed) -> FreeText | None:
    """A sealed free text opened by the first of `keys` that fits; None when none does."""
    opened = unseal_any(keys, contract_id, sealed)
    return opened[TEXT] if opened is not None else None


def sealed_of(value: dict[str, Any]) -> Sealed:
    """A sealed blob from its JSON (as read models keep it)."""
    return ClearFields.model_validate(value) if "in_clear" in value else SealedFields.model_validate(value)


# ---- the key table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyState:
    key: bytes | None
    shredded: bool


PENDING = KeyState(None, False)


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


_LOCK_SPACE = _signed32(zlib.crc32(b"personal_data_keys"))


async def lock(conn: AsyncConnection, contract_ids: Iterable[str]) -> None:
    """Serialises, per contract, a key's arrival (or tombstone) with a read model taking in a sealed blob:
    each side takes the lock before it reads what the other writes, so whichever commits second sees the
    first (no blob left unopened beside its key). Sorted: two transactions never wait on each other."""
    for contract_id in sorted(set(contract_ids)):
        await conn.execute(text("SELECT pg_advisory_xact_lock(:space, :id)"),
                           {"space": _LOCK_SPACE, "id": _signed32(zlib.crc32(contract_id.encode()))})


async def key_of(conn: AsyncConnection, contract_id: str) -> bytes | None:
    key = await conn.scalar(text("SELECT key FROM personal_data_keys WHERE contract_id = :id"), {"id": contract_id})
    return bytes(key) if key is not None else None


async def states_of(conn: AsyncConnection, contract_ids: Sequence[str]) -> dict[str, KeyState]:
    rows = await conn.execute(text("SELECT contract_id, key, shredded_at FROM personal_data_keys"
                                   " WHERE contract_id = ANY(:ids)"), {"ids": list(contract_ids)})
    found = {row.contract_id: KeyState(bytes(row.key) if row.key is not None else None, row.shredded_at is not None)
             for row in rows}
    return {contract_id: found.get(contract_id, PENDING) for contract_id in contract_ids}


async def create_key(conn: AsyncConnection, contract_id: str) -> bytes:
    """The owner's new key for a contract it registers (in the registration's transaction)."""
    key = new_key()
    await conn.execute(text("INSERT INTO personal_data_keys (contract_id, key) VALUES (:id, :key)"),
                       {"id": contract_id, "key": key})
    return key


async def receive_copy(conn: AsyncConnection, contract_id: str, key: bytes) -> bool:
    """A consumer's copy of a contract's key; True when it was not here before. A key already held, or a
    shredded contract's marker, is left as it is (a key is never replaced and never comes back). A row
    with neither (the claims desk's row of a contract it sealed with a key of its own before keys came
    from contracts) takes it."""
    assert len(key) == KEY_BYTES
    stored = await conn.scalar(text("""
        INSERT INTO personal_data_keys (contract_id, key) VALUES (:id, :key)
        ON CONFLICT (contract_id) DO UPDATE SET key = excluded.key
            WHERE personal_data_keys.key IS NULL AND personal_data_keys.shredded_at IS NULL
        RETURNING true
    """), {"id": contract_id, "key": key})
    return bool(stored)


async def shred(conn: AsyncConnection, contract_id: str) -> bool:
    """Delete the contract's key, leaving the marker; True when this changed anything (a shredding
    redelivered changes nothing). The caller's own columns (the owner's `published`, the claims desk's
    `own_key`) are the caller's business."""
    changed = await conn.scalar(text("""
        INSERT INTO personal_data_keys (contract_id, key, shredded_at) VALUES (:id, NULL, now())
        ON CONFLICT (contract_id) DO UPDATE SET key = NULL, shredded_at = now()
            WHERE personal_data_keys.shredded_at IS NULL
        RETURNING true
    """), {"id": contract_id})
    return bool(changed)


# ---- the tables (each service's migration creates its own from these) -----------------------------
# deliberately not append-only: deleting a key is how personal data are erased. A shredded contract keeps
# its row with key NULL and `shredded_at` (the marker).
def _key_table(*more: str) -> str:
    return ",\n        ".join([
        "CREATE TABLE personal_data_keys (\n        contract_id  text PRIMARY KEY",
        "key          bytea CHECK (length(key) = 32)",
        "created_at   timestamptz NOT NULL DEFAULT now()",
        "shredded_at  timestamptz", *more]) + "\n    )"


KEY_COPIES_DDL = [_key_table("CHECK (key IS NULL OR shredded_at IS NULL)")]
# the owner's: every contract has a key until it is shredded, and `published` says whether the keys topic
# has its current state (the key, or the tombstone); NOTIFY wakes the publisher at commit
KEY_OWNER_DDL = [
    _key_table("published    boolean NOT NULL DEFAULT false", "CHECK ((key IS NULL) = (shredded_at IS NOT NULL))"),
    "CREATE INDEX personal_data_keys_unpublished ON personal_data_keys (created_at, contract_id) WHERE NOT published",
    f"""
    CREATE FUNCTION personal_data_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{KEYS_CHANNEL}', '');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER personal_data_keys_changed AFTER INSERT OR UPDATE ON personal_data_keys
        FOR EACH ROW WHEN (NOT NEW.published) EXECUTE FUNCTION personal_data_keys_notify()
    """,
]


# ---- the owner's publication ----------------------------------------------------------------------
PublishKeys = Callable[[Sequence[tuple[str, bytes | None]]], Awaitable[None]]

# asyncpg's own statements: they run on the publisher's session, the one that holds its lock (the fence,
# `shared/relay.LeaderLoop`)
_UNPUBLISHED = ("SELECT contract_id, key FROM personal_data_keys WHERE NOT published"
                " ORDER BY created_at, contract_id LIMIT $1")
# marked only if the row is still what was published: a key shredded meanwhile stays unpublished, so its
# tombstone goes out next
_MARK = """
    UPDATE personal_data_keys k SET published = true
    FROM unnest($1::text[], $2::boolean[]) AS t(contract_id, tombstone)
    WHERE k.contract_id = t.contract_id AND (k.key IS NULL) = t.tombstone
"""


class KeyPublisher(LeaderLoop):
    """The owner's publication of its key table to the keys topic, at least once: a row is marked
    published only after the broker acknowledged it, and a row that changed meanwhile (its key shredded)
    is published again. One leader per service (advisory lock), woken by NOTIFY from the key table."""

    def __init__(self, engine: AsyncEngine, topic: str, publish: PublishKeys, *, batch_size: int = 500,
                 poll_interval_s: float = 0.5, service: str = ""):
        super().__init__(engine, lock_name=f"relay:{topic}", channel=KEYS_CHANNEL, poll_interval_s=poll_interval_s,
                         log_name="key_publisher", service=service, topic=topic, batch_size=batch_size)
        self.publish = publish

    async def publish_pending(self, session: Connection) -> int:
        rows = await session.fetch(_UNPUBLISHED, self.batch_size)
        if not rows:
            return 0
        batch = [(row["contract_id"], bytes(row["key"]) if row["key"] is not None else None) for row in rows]
        await self.publish(batch)
        await session.execute(_MARK, [c for c, _ in batch], [k is None for _, k in batch])
        self.stats.published_total += len(batch)
        self.stats.batches_total += 1
        return len(batch)


# ---- a consumer's copies --------------------------------------------------------------------------
class MalformedKeyMessage(ValueError):
    """A message on the keys topic that is neither a key nor a tombstone of a contract."""


def parse_key_message(key: bytes | None, value: bytes | None) -> tuple[str, bytes | None]:
    """(contract id, the key or None for a tombstone)."""
    if not key:
        raise MalformedKeyMessage("a key message names no contract")
    try:
        contract_id = key.decode()
    except UnicodeDecodeError:
        raise MalformedKeyMessage("the message key is not UTF-8") from None
    if value is not None and len(value) != KEY_BYTES:
        raise MalformedKeyMessage(f"a key is {KEY_BYTES} bytes, not {len(value)}")
    return contract_id, value


async def apply_key_message(conn: AsyncConnection, contract_id: str, key: bytes | None, refresh: Refresh | None,
                            shredding: Shred | None = None) -> bool:
    """Keep or delete this service's copy of a contract's key, in the caller's transaction, and bring the
    read models that hold the contract's sealed fields in line. `shredding`: the service's own deletion,
    when it holds more than the copy (the claims desk's own keys). Idempotent: True only when it changed
    something."""
    await lock(conn, [contract_id])
    changed = await ((shredding or shred)(conn, contract_id) if key is None
                     else receive_copy(conn, contract_id, key))
    if changed and refresh is not None:
        await refresh(conn, contract_id)
    return changed


def shredded_handlers(refresh: Refresh | None = None) -> dict[str, Any]:
    """A consumer's subscription to the claims desk's `PersonalDataShredded`: the copy goes on the decision
    as well as on the tombstone. The keys topic is compacted, and compaction drops a tombstone itself after
    `delete.retention.ms`: a consumer stopped for longer (or a new one reading from offset 0) would never
    see it and would keep the key. The claims topic keeps every event for ever, so the decision reaches
    every consumer in the end; whichever of the two comes first deletes the copy, the other changes
    nothing."""
    from shared.events.claims import PersonalDataShredded

    async def on_shredded(service: object, uow: UnitOfWork, event: PersonalDataShredded, envelope: EventEnvelope,
                          context: CommandContext) -> None:
        await apply_key_message(uow.conn, event.contract_id, None, refresh)

    return {PersonalDataShredded.event_type: on_shredded}
