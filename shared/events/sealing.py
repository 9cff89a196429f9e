"""Personal fields as events carry them (law 94-V, crypto-shredding): sealed with the contract's key.

`SealedFields` is the only form a current event writes. `ClearFields` exists for one reason: an event of
an earlier schema version carried the fields in clear, and its upcaster must hand them on in today's
shape. Its stored bytes keep them in clear (the store is append-only: nothing can rewrite them), so a
key deletion cannot erase them there; the readers open a `ClearFields` only while the contract's key is
held (`shared/personal_keys.unseal`), so a shredded counterparty reads as shredded in every read model
all the same. No command writes one.
"""

from __future__ import annotations

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
