"""Crypto-shredding: each counterparty's personal fields are sealed with its own AES-256-GCM key, held in
the `personal_data_keys` table of this database (a table, not the event store, so a row can be deleted).

The event keeps only the nonce and ciphertext. Deleting the key makes the fields unreadable in the store,
in every read model rebuilt from it and in every copy of the event on Kafka, while the stored bytes, and
so the hash chain, never change. The associated data binds a ciphertext to its contract, so a sealed
blob copied into another counterparty's event does not open.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import canonical_json
from shared.events.claims import SealedFields

SHREDDED = "[shredded]"


async def create_key(conn: AsyncConnection, contract_id: str) -> bytes:
    key = AESGCM.generate_key(bit_length=256)
    await conn.execute(text("INSERT INTO personal_data_keys (contract_id, key) VALUES (:id, :key)"),
                       {"id": contract_id, "key": key})
    return key


async def key_of(conn: AsyncConnection, contract_id: str) -> bytes | None:
    key = await conn.scalar(text("SELECT key FROM personal_data_keys WHERE contract_id = :id"), {"id": contract_id})
    return bytes(key) if key is not None else None


async def delete_key(conn: AsyncConnection, contract_id: str) -> None:
    await conn.execute(text("DELETE FROM personal_data_keys WHERE contract_id = :id"), {"id": contract_id})


def seal(key: bytes, contract_id: str, fields: dict) -> SealedFields:
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, canonical_json(fields), contract_id.encode())
    return SealedFields(nonce=base64.b64encode(nonce).decode(), ciphertext=base64.b64encode(ciphertext).decode())


def unseal(key: bytes | None, contract_id: str, sealed: SealedFields) -> dict | None:
    """The fields, or None when the key is gone (shredded) or does not fit."""
    if key is None:
        return None
    try:
        plain = AESGCM(key).decrypt(base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext),
                                    contract_id.encode())
    except InvalidTag:
        return None
    return json.loads(plain)
