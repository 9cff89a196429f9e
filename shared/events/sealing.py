"""Personal fields as events carry them (law 94-V, crypto-shredding): sealed with the contract's key.

`SealedFields` is the only form a current event writes. `ClearFields` exists for one reason: an event of
an earlier schema version carried the fields in clear, and its upcaster must hand them on in today's
shape. Its stored bytes keep them in clear (the store is append-only: nothing can rewrite them), so a
key deletion cannot erase them there; the readers open a `ClearFields` only while the contract's key is
held (`shared/personal_keys.unseal`), so a shredded counterparty reads as shredded in every read model
all the same. No command writes one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict


class SealedFields(BaseModel):
    """Personal fields encrypted (AES-256-GCM, the contract id as associated data) with the contract's own
    key: deleting the key shreds them everywhere the event went, while the event's bytes (and so the hash
    chain) stay as they were."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nonce: str        # base64
    ciphertext: str   # base64 of the encrypted canonical JSON of the fields


class ClearFields(BaseModel):
    """Fields an event of an earlier schema version carried in clear, handed on by its upcaster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    in_clear: dict[str, Any]


Sealed = SealedFields | ClearFields

SHREDDED = "[shredded]"


def shredded_party() -> dict[str, Any]:
    """A buyer whose personal data were deleted, as read models, APIs and the contracts domain show it (the
    shape of `PartyTerms`)."""
    return {"name": SHREDDED, "bin": None, "foreign_registration": None, "iban": SHREDDED, "bic": SHREDDED,
            "address": SHREDDED, "email": None}


def recorded_in_clear(fields: dict[str, Any]) -> dict[str, Any]:
    """An upcaster's form of fields a v1 event held in clear (the JSON of `ClearFields`)."""
    return {"in_clear": fields}


# ---- free text: a claim's description, a request's details, a payment's purpose -------------------------
# Written by people, they routinely name people, so they are sealed like the fields above: one text (or a
# list of texts, a rejection's reasons) as the fields `{"text": ...}`.
FreeText = str | list[str]
TEXT = "text"

SealText = Callable[[FreeText], SealedFields]
"""Seals one free text with a contract's key: the edge binds the key and the contract, so a rule decides on
the text and seals what it records without touching a key or randomness itself."""


def free_texts_in_clear(*fields: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The upcaster of an event whose older version held these free texts in clear: each handed on as
    recorded in clear, an empty one as none (no text was given)."""

    def upcast(payload: dict[str, Any]) -> dict[str, Any]:
        for field in fields:
            value = payload[field]
            payload[field] = recorded_in_clear({TEXT: value}) if value else None
        return payload

    return upcast


def text_or_none(value: FreeText, seal: SealText) -> SealedFields | None:
    """An optional text sealed, or none when it is empty (nothing to keep, nothing to seal)."""
    return seal(value) if value else None
